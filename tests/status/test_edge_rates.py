"""Traefik's metrics per router against the lab's real Traefik: known traffic gives its
request rate, its 4xx, and a latency; the metrics endpoint down is its own source."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from wpfarm_tui.farm.traefik import parse_router_counters
from wpfarm_tui.inventory import TraefikEndpoint
from wpfarm_tui.status.edge import EdgeCollector
from wpfarm_tui.status.rates import histogram_quantile

pytestmark = pytest.mark.lab

EDGE = "http://127.0.0.1:16100"


def _router(snap, name):
    return next(r for r in snap.routers if r.name == name)


def test_known_traffic_per_router(lab_farm) -> None:
    endpoint = lab_farm.endpoints.traefik
    assert endpoint.metrics, "the lab's farm.yaml names Traefik's metrics"
    collector = EdgeCollector(endpoint)
    first = collector.collect()
    assert all(s.ok for s in first.sources), first.sources
    n_ok, n_missing = 60, 15
    with httpx.Client(headers={"Host": "site1.test"}, timeout=5) as http:
        for _ in range(n_ok):
            http.get(f"{EDGE}/")
        for i in range(n_missing):
            http.get(f"{EDGE}/?p={999_000 + i}")  # no such post: WordPress answers 404
    second = collector.collect()
    site1 = _router(second, "site1@file")
    rate = site1.requests_per_s
    assert rate is not None and rate.value is not None
    seen = round(rate.value * rate.covered)
    assert n_ok + n_missing <= seen <= n_ok + n_missing + 10, (seen, rate)
    four = site1.errors_4xx_per_s
    assert four is not None and round(four.value * four.covered) >= n_missing, four
    assert site1.latency_ms_1m is not None and site1.latency_ms_1m > 0
    assert site1.p95_ms_1m is not None and site1.p95_ms_1m >= site1.latency_ms_1m * 0.5


def test_metrics_endpoint_down_is_its_own_source(lab_farm) -> None:
    endpoint = dataclasses.replace(lab_farm.endpoints.traefik,
                                   metrics="http://127.0.0.1:1/metrics")
    snap = EdgeCollector(endpoint).collect()
    health = {s.name: s for s in snap.sources}
    assert health["traefik"].ok and health["traefik-metrics"].state == "down"
    assert snap.routers, "the routers still show without the metrics"


def test_parse_and_quantile() -> None:
    text = (
        'traefik_router_requests_total{code="200",method="GET",protocol="http",'
        'router="a@file",service="s"} 90\n'
        'traefik_router_requests_total{code="502",method="GET",protocol="http",'
        'router="a@file",service="s"} 10\n'
        'traefik_router_request_duration_seconds_bucket{code="200",method="GET",'
        'protocol="http",router="a@file",service="s",le="0.1"} 50\n'
        'traefik_router_request_duration_seconds_bucket{code="200",method="GET",'
        'protocol="http",router="a@file",service="s",le="0.3"} 90\n'
        'traefik_router_request_duration_seconds_bucket{code="200",method="GET",'
        'protocol="http",router="a@file",service="s",le="+Inf"} 100\n'
    )
    counters = parse_router_counters(text)["a@file"]
    assert counters["requests"] == 100 and counters["5xx"] == 10
    buckets = [(float(k[3:]), v) for k, v in counters.items() if k.startswith("le:")]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.2)
    assert histogram_quantile(0.99, buckets) == pytest.approx(0.3)  # in +Inf: largest bound
    assert histogram_quantile(0.5, []) is None
    assert TraefikEndpoint("http://x").metrics is None
