"""Waits that follow progress instead of a fixed deadline.

On a busy machine a joiner's state transfer or a first health check can take several
times its quiet-machine duration: a fixed timeout then reports a failure that was only
slow, and a generous one makes a really stuck step wait for minutes. A wait here watches a
marker (the node's state, its last committed seqno, the lines its log has grown by...):
it reports "stuck" when no new marker has been seen for `stall` seconds (a marker seen
before is no progress: a node that flaps between two states is not moving), and gives up
on a step that keeps moving only at `ceiling`.

A leaf module, like steps.py: farm/ clients and actions/ both use it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True)
class Patience:
    stall: float = 120.0  # no progress this long: stuck
    ceiling: float = 3600.0  # still moving after this long: give up all the same

    def __post_init__(self) -> None:
        if not 0 < self.stall <= self.ceiling:
            raise ValueError(f"stall ({self.stall}) must be > 0 and <= ceiling "
                             f"({self.ceiling})")


@dataclass(frozen=True)
class Seen:
    """One look at what a wait watches."""

    done: bool
    marker: Hashable  # changes whenever the watched thing moves
    state: str  # what to tell the operator about it
    moving: bool = False  # progress that the marker cannot show (a donor still sending)
    fatal: str = ""  # waiting longer cannot help: end now with this


@dataclass(frozen=True)
class WaitResult:
    ok: bool
    elapsed: float
    state: str  # the last state seen
    why: str = ""  # "stuck", "ceiling" or the fatal message

    @property
    def stuck(self) -> bool:
        return self.why == "stuck"


def wait_for(look: Callable[[], Seen], patience: Patience, poll: float,
             clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> WaitResult:
    """Call `look` every `poll` seconds until it says done, its marker stops moving for
    patience.stall seconds, or patience.ceiling is reached."""
    started = clock()
    moved_at = started
    markers: set[Hashable] = set()  # a state seen before is no progress (a node that flaps)
    while True:
        seen = look()
        now = clock()
        if seen.done:
            return WaitResult(True, now - started, seen.state)
        if seen.fatal:
            return WaitResult(False, now - started, seen.state, seen.fatal)
        if seen.moving or seen.marker not in markers:
            markers.add(seen.marker)
            moved_at = now
        if now - moved_at >= patience.stall:
            return WaitResult(False, now - started, seen.state, "stuck")
        if now - started >= patience.ceiling:
            return WaitResult(False, now - started, seen.state, "ceiling")
        sleep(poll)
