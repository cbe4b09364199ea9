"""Counters turned into what is happening now: per-second rates and ratios over the last
interval, 1 minute and 5 minutes, from samples a collector keeps between polls.

Servers report counters since they started (Varnish's cache_hit, Redis's keyspace_hits,
Galera's wsrep_last_committed); a week-old total hides today's storm. A counter that goes
backwards (the server restarted) makes its window "reset": no rate for it, never a negative
or absurd one. History is bounded in time and in samples, whatever the refresh rate.
"""

from __future__ import annotations

import math
import time
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

LAST = 0.0  # window: the last interval between two polls
MINUTE, FIVE_MINUTES = 60.0, 300.0
WINDOWS: tuple[float, ...] = (LAST, MINUTE, FIVE_MINUTES)
KEEP_SECONDS = 1800.0  # 30 minutes of history, for graphs
MAX_SAMPLES = 1800  # at most one sample a second over KEEP_SECONDS


@dataclass(frozen=True)
class Delta:
    """How much a counter rose over `seconds` (None: too few samples, or it was reset)."""

    value: float | None
    seconds: float
    reset: bool = False

    @property
    def per_second(self) -> float | None:
        if self.value is None or self.seconds <= 0:
            return None
        return self.value / self.seconds


@dataclass(frozen=True)
class Rate:
    """A windowed figure as panes and --json show it."""

    value: float | None  # per second, or a percentage for ratios
    window: float  # the window asked for, seconds (0 = last interval)
    covered: float  # seconds the samples actually cover (less while history is short)
    reset: bool = False

    @property
    def text(self) -> str:
        return "reset" if self.reset else "—" if self.value is None else f"{self.value:.1f}"


class CounterHistory:
    """(time, value) samples of one counter: the last KEEP_SECONDS, at most MAX_SAMPLES.

    In two arrays of doubles, 16 bytes a sample (a deque of (time, value) tuples took 113):
    30 minutes at 1 s of every series, ten per Traefik router, stays small on a farm of
    hundreds of sites."""

    def __init__(self, keep: float = KEEP_SECONDS, max_samples: int = MAX_SAMPLES) -> None:
        self.keep = keep
        self.max_samples = max_samples
        self._at = array("d")
        self._value = array("d")

    @property
    def samples(self) -> list[tuple[float, float]]:
        """The samples, oldest first (a copy)."""
        return list(zip(self._at, self._value, strict=True))

    def __len__(self) -> int:
        return len(self._at)

    def add(self, at: float, value: float) -> None:
        if not math.isfinite(value):
            return
        if self._at and at <= self._at[-1]:
            return  # a clock step back or a duplicate poll: keep time strictly increasing
        self._at.append(at)
        self._value.append(value)
        drop = max(len(self._at) - self.max_samples, bisect_left(self._at, at - self.keep))
        if drop > 0:
            del self._at[:drop]
            del self._value[:drop]

    def delta(self, window: float = LAST) -> Delta:
        """The rise over the newest `window` seconds (LAST: between the last two samples).
        The window starts at the newest sample at or before its start, so it covers at least
        what was asked once history is long enough."""
        n = len(self._at)
        if n < 2:
            return Delta(None, 0.0)
        at, value = self._at, self._value
        if window <= LAST:
            start = n - 2
        else:  # the newest sample at or before the window's start; the oldest if none is
            start = min(max(bisect_right(at, at[-1] - window) - 1, 0), n - 2)
        seconds = at[-1] - at[start]
        # Only the window's samples are looked at, not the 30 minutes held: a fall in it
        # is a reset.
        if any(value[i + 1] < value[i] for i in range(start, n - 1)):
            return Delta(None, seconds, reset=True)
        return Delta(value[-1] - value[start], seconds)

    def series(self) -> list[tuple[float, float]]:
        """Per-second rates between consecutive samples (for graphs); resets are skipped."""
        out = []
        samples = self.samples
        for (t0, v0), (t1, v1) in zip(samples, samples[1:], strict=False):
            if v1 >= v0 and t1 > t0:
                out.append((t1, (v1 - v0) / (t1 - t0)))
        return out


@dataclass(frozen=True)
class GraphSeries:
    """One line of a pane's graph view: (time, value) points and the threshold it is held
    against (a key of the farm's thresholds), for the view to draw as it likes."""

    title: str
    unit: str  # "/s", "%", "/min"
    points: tuple[tuple[float, float], ...]
    threshold: str | None = None


class Histories:
    """Every counter a collector follows, by key (e.g. ("varnish-1", "cache_hit"))."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._by_key: dict[Hashable, CounterHistory] = {}

    def record(self, source: Hashable, counters: Mapping[str, float | int | None],
               at: float | None = None) -> None:
        now = self.clock() if at is None else at
        for name, value in counters.items():
            if value is not None:
                self._by_key.setdefault((source, name), CounterHistory()).add(now, float(value))

    def names(self, source: Hashable) -> list[str]:
        """The counters followed for `source`."""
        return [key[1] for key in self._by_key if isinstance(key, tuple) and key[0] == source]

    def history(self, source: Hashable, name: str) -> CounterHistory | None:
        return self._by_key.get((source, name))

    def delta(self, source: Hashable, name: str, window: float) -> Delta:
        found = self.history(source, name)
        return found.delta(window) if found else Delta(None, 0.0)

    def rate(self, source: Hashable, name: str, window: float = LAST) -> Rate:
        d = self.delta(source, name, window)
        return Rate(d.per_second, window, d.seconds, d.reset)

    def ratio(self, source: Hashable, part: str, rest: str, window: float = LAST,
              min_events: int = 1) -> Rate:
        """part / (part + rest) over the window, in percent: a hit ratio from hits and
        misses. Fewer than `min_events` events in the window says nothing (None)."""
        a, b = self.delta(source, part, window), self.delta(source, rest, window)
        seconds = max(a.seconds, b.seconds)
        if a.reset or b.reset:
            return Rate(None, window, seconds, reset=True)
        if a.value is None or b.value is None or a.value + b.value < max(min_events, 1):
            return Rate(None, window, seconds)
        return Rate(100.0 * a.value / (a.value + b.value), window, seconds)

    def rate_series(self, source: Hashable, name: str, scale: float = 1.0
                    ) -> tuple[tuple[float, float], ...]:
        found = self.history(source, name)
        return tuple((t, v * scale) for t, v in found.series()) if found else ()

    def ratio_series(self, source: Hashable, part: str, rest: str
                     ) -> tuple[tuple[float, float], ...]:
        """part / (part + rest) in percent, per interval with any events (resets skipped)."""
        a, b = self.history(source, part), self.history(source, rest)
        if a is None or b is None:
            return ()
        rest_at = dict(b.samples)
        out = []
        samples = a.samples
        for (t0, p0), (t1, p1) in zip(samples, samples[1:], strict=False):
            if t0 in rest_at and t1 in rest_at:
                dp, dr = p1 - p0, rest_at[t1] - rest_at[t0]
                if dp >= 0 and dr >= 0 and dp + dr > 0:
                    out.append((t1, 100.0 * dp / (dp + dr)))
        return tuple(out)

    def __len__(self) -> int:
        return len(self._by_key)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The q-quantile from cumulative bucket counts [(upper bound, count)] as Prometheus's
    histogram_quantile computes it: linear inside the bucket it falls in; the largest finite
    bound when it falls in +Inf. None without observations."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            inside = count - lower_count
            share = (rank - lower_count) / inside if inside > 0 else 1.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound
