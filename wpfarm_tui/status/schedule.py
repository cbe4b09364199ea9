"""When to poll a source next: steady while it answers, backing off while it fails.

Plain arithmetic, shared by the console (which re-arms a timer only after a
poll has finished, so polls never pile up) and by tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    interval: float
    max_delay: float
    failures: int = 0

    def next_delay(self, ok: bool) -> float:
        """Record how the last poll went and return the wait before the next one."""
        if ok:
            self.failures = 0
            return self.interval
        self.failures += 1
        # 1x, 2x, 4x ... the interval, so a dead source costs little but is
        # still noticed quickly when it comes back.
        return min(self.interval * 2 ** (self.failures - 1), self.max_delay)
