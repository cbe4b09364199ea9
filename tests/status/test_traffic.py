"""Traffic figures from access-log requests: ratios, percentiles, windows, the probes left
out, and memory bounded whatever the traffic."""

from __future__ import annotations

import random

import pytest

from wpfarm_tui.farm.access_log import Request
from wpfarm_tui.status.model import SourceHealth
from wpfarm_tui.status.thresholds import DEFAULT_THRESHOLDS, Level
from wpfarm_tui.status.traffic import (
    MAX_HOSTS,
    OTHER_HOST,
    SLOTS_KEPT,
    TopK,
    TrafficAggregator,
    bucket,
    bucket_value,
)

OK = SourceHealth("traffic", "ok")


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def _req(host="a.test", status=200, ms=10.0, size=1000, cache="HIT", path="/",
         client="198.51.100.1", ua="Mozilla/5.0") -> Request:
    return Request(host, status, ms, size, cache, path, client, ua)


def test_ratios_rates_and_percentiles_over_a_minute():
    clock = Clock()
    agg = TrafficAggregator(dict(DEFAULT_THRESHOLDS), clock)
    rng = random.Random(7)
    durations = []
    for i in range(600):  # 10 requests/s for 60 s
        clock.t += 0.1
        ms = rng.lognormvariate(3, 1)
        durations.append(ms)
        cache = "HIT" if i % 10 < 6 else "MISS" if i % 10 < 8 else "PASS"
        status = 503 if i % 20 == 0 else 404 if i % 25 == 0 else 200
        agg.add(_req(status=status, ms=ms, cache=cache))
    agg.add(_req(ua="wpfarm-probe/1", status=500))  # the console's own: not counted
    snap = agg.snapshot(OK)
    m1 = snap.sites["a.test"].m1
    assert m1.requests == 600 and snap.probes_excluded == 1
    assert m1.rps == pytest.approx(10.0, rel=0.05)
    assert (m1.hit_pct, m1.miss_pct, m1.pass_pct) == (60.0, 20.0, 20.0)
    assert m1.s5_pct == 5.0 and m1.s4_pct == 3.0  # 404 on 18 of 600 (every 25th, not every 20th)
    assert m1.bytes_s == pytest.approx(10_000, rel=0.05)
    durations.sort()
    for q, got in ((0.5, m1.p50_ms), (0.95, m1.p95_ms), (0.99, m1.p99_ms)):
        assert got == pytest.approx(durations[int(q * 600) - 1], rel=0.08)
    assert snap.farm.m1.requests == 600
    # 5 % 5xx is past error_rate's critical (5 %)? Not past: warning (> 1 %).
    assert m1.level == Level.WARNING


def test_windows_age_out_and_slots_are_bounded():
    clock = Clock()
    agg = TrafficAggregator(dict(DEFAULT_THRESHOLDS), clock)
    for _ in range(100):
        agg.add(_req(ms=500.0))
    clock.t += 120  # two minutes later: out of the 1-minute window, still in the 5
    agg.add(_req(ms=5.0))
    snap = agg.snapshot(OK)
    assert snap.sites["a.test"].m1.requests == 1
    assert snap.sites["a.test"].m5.requests == 101
    assert snap.sites["a.test"].m5.p95_ms == pytest.approx(500, rel=0.06)
    assert snap.sites["a.test"].m5.level == Level.WARNING  # p95 past the 200 ms target
    for _ in range(200):  # a long run: old slots are dropped as new ones open
        clock.t += 10
        agg.add(_req())
    assert len(agg._slots) <= SLOTS_KEPT
    assert agg.snapshot(OK).sites["a.test"].m5.requests == pytest.approx(30, abs=1)


def test_hosts_are_capped_and_top_k_stays_small():
    clock = Clock()
    agg = TrafficAggregator(dict(DEFAULT_THRESHOLDS), clock)
    for i in range(MAX_HOSTS + 500):  # a scanner with random Host headers
        agg.add(_req(host=f"h{i}.example", path=f"/p{i}", client=f"10.0.{i // 256}.{i % 256}"))
    assert len(agg._hosts) <= MAX_HOSTS + 1
    assert agg.snapshot(OK).sites[OTHER_HOST].m1.requests == 500
    for i in range(20_000):
        agg.add(_req(host="h0.example", path="/hot" if i % 4 == 0 else f"/rand{i}",
                     client=f"c{i % 3}"))
    paths, clients = next(iter(agg._tops["h0.example"].values()))
    assert len(paths.counts) <= 2 * paths.k
    site = agg.snapshot(OK).sites["h0.example"]
    assert site.top_paths[0][0] == "/hot"
    assert site.top_paths[0][1] == pytest.approx(5000, rel=0.05)
    assert {c for c, _ in site.top_clients[:3]} == {"c0", "c1", "c2"}
    assert site.top_status[0] == (200, 20_001)


def test_top_k_never_undercounts_a_heavy_key():
    top = TopK(20)  # guaranteed for a key above 1/k of the stream (here 10 % > 5 %)
    rng = random.Random(1)
    for i in range(10_000):
        top.add("heavy" if i % 10 == 0 else f"k{rng.randrange(1_000_000)}")
    assert top.top(1)[0][0] == "heavy" and top.top(1)[0][1] >= 1000


def test_buckets_are_ten_percent_wide():
    for ms in (0.7, 3.3, 12.0, 199.0, 2500.0, 59_000.0):
        assert bucket_value(bucket(ms)) == pytest.approx(ms, rel=0.055)
