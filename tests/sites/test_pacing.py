"""The bulk create's pacing decisions, sample by sample (the lab run that reports them is
tests/sites/test_bulk_lab.py)."""

from __future__ import annotations

from wpfarm_tui.sites.pacing import WINDOW, Limits, p95


def feed(limits: Limits, p95_ms: float, samples: int) -> list[int]:
    return [limits.observe(p95_ms) for _ in range(samples)]


def test_the_limit_halves_when_the_live_site_slows_and_grows_back_one_at_a_time():
    limits = Limits(cap=8, idle_p95_ms=40)
    assert feed(limits, 60, WINDOW)[-1] == 8  # within 2x idle: full speed
    # 2.5x idle: halved at once (a calm window is behind), then once per window.
    seen = feed(limits, 100, 4 * WINDOW)
    assert (seen[0], seen[WINDOW], seen[2 * WINDOW], seen[-1]) == (4, 2, 1, 1)
    assert set(seen) == {4, 2, 1}  # never below one site at a time
    seen = feed(limits, 45, 10 * WINDOW)  # back under 1.25x idle: one more per window
    assert (seen[0], seen[WINDOW], seen[6 * WINDOW], seen[-1]) == (2, 3, 8, 8)
    assert max(seen) == 8  # never past --concurrency


def test_no_change_before_the_last_one_shows_in_a_whole_window():
    limits = Limits(cap=4, idle_p95_ms=40)
    seen = feed(limits, 500, WINDOW - 1)
    assert set(seen) == {4}
    assert limits.observe(500) == 2


def test_between_the_thresholds_the_limit_holds():
    limits = Limits(cap=4, idle_p95_ms=40, limit=2)
    assert set(feed(limits, 60, 5 * WINDOW)) == {2}  # 1.5x: neither slow nor idle


def test_p95():
    assert p95([float(i) for i in range(1, 101)]) == 95.0
    assert p95([7.0]) == 7.0
