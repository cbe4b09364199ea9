"""Counters into rates over windows: exact figures on known samples, resets, bounds."""

from __future__ import annotations

import tracemalloc

import pytest

from wpfarm_tui.status.rates import (
    FIVE_MINUTES,
    LAST,
    MAX_SAMPLES,
    MINUTE,
    CounterHistory,
    Histories,
)


def history(points: list[tuple[float, float]]) -> CounterHistory:
    h = CounterHistory()
    for at, value in points:
        h.add(at, value)
    return h


def test_last_interval_and_windows() -> None:
    # 10 per second for 5 minutes, then 100 per second for the last 30 s.
    points = [(t, 10.0 * t) for t in range(0, 301, 10)]
    points += [(300 + t, 3000 + 100.0 * t) for t in range(10, 31, 10)]
    h = history(points)
    assert h.delta(LAST).per_second == pytest.approx(100.0)
    assert h.delta(MINUTE).per_second == pytest.approx((3000 + 3000 - 2700) / 60)
    assert h.delta(FIVE_MINUTES).per_second == pytest.approx((6000 - 300) / 300)


def test_a_short_history_covers_what_it_has() -> None:
    h = history([(0, 0), (5, 50)])
    d = h.delta(FIVE_MINUTES)
    assert d.seconds == 5 and d.per_second == pytest.approx(10.0)
    assert history([(0, 1)]).delta(LAST).per_second is None


def test_a_counter_that_goes_back_is_a_reset_never_a_negative_rate() -> None:
    h = history([(0, 1000), (10, 1100), (20, 5), (30, 25)])
    assert h.delta(LAST).per_second == pytest.approx(2.0)  # after the restart: fine
    reset = h.delta(MINUTE)
    assert reset.reset and reset.per_second is None
    assert all(rate >= 0 for _, rate in h.series())


def test_a_reset_before_the_window_does_not_void_it() -> None:
    h = history([(0, 1000), *((t, t - 5) for t in range(10, 101, 10))])
    d = h.delta(MINUTE)
    assert not d.reset and d.seconds == 60 and d.per_second == pytest.approx(1.0)
    assert h.delta(FIVE_MINUTES).reset  # it is inside this one


def test_ratio_over_a_window_ignores_the_past() -> None:
    # 95 % hits since start, but nothing but misses in the last minute.
    hs = Histories()
    hs.record("v", {"hit": 9500, "miss": 500}, at=0)
    hs.record("v", {"hit": 9500, "miss": 500}, at=600)
    hs.record("v", {"hit": 9500, "miss": 800}, at=660)
    assert hs.ratio("v", "hit", "miss", MINUTE).value == pytest.approx(0.0)
    assert hs.ratio("v", "hit", "miss", MINUTE, min_events=1000).value is None


def test_history_is_bounded_in_time_and_samples() -> None:
    h = CounterHistory(keep=100.0)
    for t in range(1000):
        h.add(float(t), float(t))
    assert h.samples[0][0] >= 899 and len(h.samples) <= 101
    dense = CounterHistory()
    for i in range(MAX_SAMPLES * 3):
        dense.add(i * 0.01, float(i))
    assert len(dense.samples) == MAX_SAMPLES


def test_thirty_minutes_of_a_series_take_little_memory() -> None:
    """#13: every series holds 30 minutes at 1 s, ten per Traefik router; a farm of 500
    sites is 5,000 series (113 bytes a sample as a deque of tuples: 1 GB)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        histories = [CounterHistory() for _ in range(10)]
        for h in histories:
            for t in range(MAX_SAMPLES + 100):
                h.add(float(t), float(3 * t))
        per_sample = (tracemalloc.get_traced_memory()[0] - before) / (10 * MAX_SAMPLES)
    finally:
        tracemalloc.stop()
    assert all(len(h.samples) == MAX_SAMPLES for h in histories)
    assert per_sample < 24


def test_time_going_back_or_nan_is_ignored() -> None:
    h = history([(10, 1), (5, 100), (11, float("nan")), (12, 3)])
    assert list(h.samples) == [(10, 1), (12, 3)]


