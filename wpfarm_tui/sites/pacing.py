"""Pacing of a bulk site create by what a live site's visitors get.

A bulk create shares the farm with the sites already live: WordPress installs, database
writes and (on the lab) reloads of the shared servers all cost them. The pacer measures a
live site's uncached time to first byte through the edge before the run (its idle p95)
and every half second during it. While the recent p95 stays within `factor` x idle, the
run may go up to its --concurrency; past it, the limit halves (at most once per window);
once back under 1.25 x idle, it grows by one again (additive increase, multiplicative
decrease, as TCP does with its window). New sites start only under the limit; sites in
flight always finish.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

import httpx

# Uncached on purpose: Varnish passes a logged-in visitor to WordPress, which is where a
# bulk run's load shows. Tagged like every request of the console, so traffic figures
# leave it out.
PACER_HEADERS = {"User-Agent": "wpfarm-probe/1", "Cookie": "wordpress_logged_in_wpfarm=1"}
IDLE_SAMPLES = 10
WINDOW = 12  # the samples a decision looks at (about 6 s)
INTERVAL_S = 0.5


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class Limits:
    """The AIMD decisions alone, so they can be followed sample by sample."""

    cap: int
    idle_p95_ms: float
    factor: float = 2.0
    limit: int = 0
    _since_change: int = 0

    def __post_init__(self) -> None:
        self.limit = self.limit or self.cap

    def observe(self, window_p95_ms: float) -> int:
        """The limit after a new window p95 (one call per sample)."""
        self._since_change += 1
        if self._since_change < WINDOW:  # let the last change show in the samples first
            return self.limit
        if window_p95_ms > self.factor * self.idle_p95_ms and self.limit > 1:
            self.limit = max(1, self.limit // 2)
            self._since_change = 0
        elif window_p95_ms < 1.25 * self.idle_p95_ms and self.limit < self.cap:
            self.limit += 1
            self._since_change = 0
        return self.limit


class LivePacer:
    def __init__(self, edge_url: str, domain: str, cap: int, *, factor: float = 2.0,
                 verify_tls: bool = True, timeout: float = 5.0) -> None:
        self.edge_url = edge_url
        self.domain = domain
        self.cap = cap
        self.factor = factor
        self._client = httpx.Client(timeout=timeout, verify=verify_tls, headers=PACER_HEADERS)
        self._samples: deque[float] = deque(maxlen=WINDOW)
        self._during: list[float] = []
        self._limits: Limits | None = None
        self._lowest = cap
        self._errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ttfb_ms(self) -> float | None:
        """One uncached request's time to first byte, None when it failed."""
        started = time.perf_counter()
        try:
            with self._client.stream("GET", f"{self.edge_url}/",
                                     headers={"Host": self.domain}) as response:
                ttfb = (time.perf_counter() - started) * 1000
                response.read()
        except httpx.HTTPError:
            return None
        return ttfb if response.status_code < 500 else None

    def start(self) -> str | None:
        """Measure the idle p95 and start pacing; why not, when the live site does not
        answer (the run then goes at its --concurrency, unpaced)."""
        idle = [t for t in (self.ttfb_ms() for _ in range(IDLE_SAMPLES)) if t is not None]
        if len(idle) < IDLE_SAMPLES // 2:
            self.close()
            return f"{self.domain} does not answer through the edge: not paced"
        self._limits = Limits(self.cap, p95(idle), self.factor)
        self._thread = threading.Thread(target=self._run, name="wpfarm-pacer", daemon=True)
        self._thread.start()
        return None

    def _run(self) -> None:
        assert self._limits is not None
        while not self._stop.wait(INTERVAL_S):
            ttfb = self.ttfb_ms()
            with self._lock:
                if ttfb is None:
                    self._errors += 1
                    ttfb = self.factor * self._limits.idle_p95_ms * 4  # a failure is slow
                self._samples.append(ttfb)
                self._during.append(ttfb)
                limit = self._limits.observe(p95(list(self._samples)))
                self._lowest = min(self._lowest, limit)

    def limit(self) -> int:
        with self._lock:
            return self._limits.limit if self._limits else self.cap

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._client.close()

    def summary(self) -> dict[str, object]:
        with self._lock:
            if self._limits is None:
                return {}
            return {"site": self.domain, "idle_p95_ms": round(self._limits.idle_p95_ms, 1),
                    "run_p95_ms": round(p95(self._during), 1) if self._during else None,
                    "samples": len(self._during), "failed_samples": self._errors,
                    "concurrency_min": self._lowest, "concurrency_cap": self.cap}
