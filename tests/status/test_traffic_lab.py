"""Known traffic through the loopback lab's real edge (Traefik -> Varnish -> nginx/PHP):
the per-site figures read from Traefik's access log match what was sent; the console's
probes do not count; Traefik restarted mid-run is shown down, then followed again with no
request lost.

Other helpers and tests share the lab's edge: every request here carries this run's
token in its URL and the exact counts are taken over those lines only (the filter is
the test's, the follower and the aggregator are the console's)."""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.needs import unavailable
from wpfarm_tui.farm import http as farm_http
from wpfarm_tui.farm.access_log import AccessLogFollower, FileTail
from wpfarm_tui.farm.traefik import TraefikClient
from wpfarm_tui.inventory import load_farm
from wpfarm_tui.status.traffic import TrafficAggregator, TrafficSource

EDGE = "http://127.0.0.1:16100"
FAIL_PATH = "/__wpfarm_traffic_5xx"
# A route to a closed port: Traefik answers 502 for it, a 5xx a visitor would see.
FAIL_ROUTE = f"""# Written by tests/status/test_traffic_lab.py for its run; removed after it.
http:
  routers:
    traffic-test-5xx:
      rule: "Host(`site1.test`) && PathPrefix(`{FAIL_PATH}`)"
      entryPoints: [web]
      service: traffic-test-dead
  services:
    traffic-test-dead:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:9"
"""


@pytest.fixture(scope="module")
def lab_and_farm():
    # Not the session's `lab` fixture: its `lab.up` rewrites the shared farm.yaml.
    from wpfarm_tui.lab import Lab

    lab = Lab()
    if lab.status().get("traefik") != "running" or not lab.farm_file.exists():
        unavailable("the loopback lab is not up (wpfarm lab up)")
    # This branch's VCL (X-Cache: PASS), loaded as `lab up` does when it changed (no
    # restart, the cache kept): a lab started from an older checkout has not got it.
    with lab._locked():
        lab._prepare_varnish()
        lab._varnish_vcl(lambda _m: None)
    farm = load_farm(Path(lab.farm_file))
    assert farm.endpoints.traefik is not None
    if not farm.endpoints.traefik.access_log:  # a farm.yaml written before access_log
        ep = dataclasses.replace(farm.endpoints.traefik,
                                 access_log=str(lab._dir("traefik") / "access.log"))
        farm = dataclasses.replace(farm, endpoints=dataclasses.replace(farm.endpoints,
                                                                       traefik=ep))
    return lab, farm


@pytest.fixture
def fail_route(lab_and_farm):
    from wpfarm_tui.lab.reloads import Reloads

    lab, _ = lab_and_farm
    path = lab._dir("traefik") / "dynamic.d" / "zz-traffic-test.yml"
    with Reloads(lab).lock():
        path.write_text(FAIL_ROUTE)
    deadline = time.monotonic() + 10
    while httpx.get(EDGE + FAIL_PATH, headers={"Host": "site1.test"}).status_code != 502:
        assert time.monotonic() < deadline, "Traefik did not load the test's 5xx route"
        time.sleep(0.1)
    yield
    with Reloads(lab).lock():
        path.unlink(missing_ok=True)


def _wait(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_known_traffic_is_counted_and_a_traefik_restart_is_survived(lab_and_farm, fail_route):
    lab, farm = lab_and_farm
    token = uuid.uuid4().hex
    agg = TrafficAggregator(dict(farm.thresholds))
    assert farm.endpoints.traefik and farm.endpoints.traefik.access_log
    traefik = TraefikClient(farm.endpoints.traefik)
    tail = FileTail(Path(farm.endpoints.traefik.access_log), alive=traefik.ping_error)
    follower = AccessLogFollower(
        tail.open, lambda line: agg.add_line(line) if token in line else None).start()
    source = TrafficSource(farm)  # the console's own, unfiltered: its health is checked
    sent = {"site1.test": 0, "site2.test": 0}
    failing = passing = probes = 0
    client = httpx.Client(timeout=10)
    probe_client = httpx.Client(timeout=10)
    try:
        assert _wait(lambda: follower.state == "ok" and source.health().ok, 10)

        def send(i: int) -> None:
            nonlocal failing, passing, probes
            # 1,000 requests: 70 % to site1 (of which 50 fail with 5xx, 100 logged in)
            site = "site1.test" if i % 10 < 7 else "site2.test"
            headers = {"Host": site}
            path = f"/?t={token}"
            if site == "site1.test" and i % 14 == 0:
                path = f"{FAIL_PATH}?t={token}"
                failing += 1
            elif site == "site1.test" and i % 7 == 1:
                headers["Cookie"] = "wordpress_logged_in_x=1"
                passing += 1
            r = client.get(EDGE + path, headers=headers)
            assert r.status_code in (200, 502), r.status_code
            sent[site] += 1
            if i % 50 == 0:  # the console's own probe: never counted
                p = farm_http.probe(probe_client, EDGE, site, path=f"/?t={token}")
                assert p.status == 200
                probes += 1

        for i in range(500):
            send(i)
        lab.stop("traefik")
        try:
            # The stream's source is gone: shown down (the file is quiet, /ping fails).
            assert _wait(lambda: follower.state == "down", 10), follower.state
            assert _wait(lambda: source.health().state == "down", 10)
            assert "ping" in (source.health().error or "")
        finally:
            lab.start("traefik", progress=lambda _m: None)
        assert _wait(lambda: follower.state == "ok" and source.health().ok, 15)
        for i in range(500, 1000):
            send(i)
        total = sum(sent.values())
        assert _wait(lambda: agg.snapshot(source.health()).farm.m1.requests >= total, 10)
        time.sleep(0.5)  # nothing more may come
    finally:
        follower.close()
        source.close()
        traefik.close()
        client.close()
        probe_client.close()

    snap = agg.snapshot(source.health())
    one, two = snap.sites["site1.test"].m1, snap.sites["site2.test"].m1
    assert (one.requests, two.requests) == (sent["site1.test"], sent["site2.test"]) == (700, 300)
    assert snap.probes_excluded == probes == 20
    assert one.s5_pct == pytest.approx(100 * failing / 700, abs=0.15)
    # The 502s come from Traefik, before any cache: no X-Cache, not in the cache ratios.
    assert one.pass_pct == pytest.approx(100 * passing / (700 - failing), abs=0.15)
    assert two.pass_pct == 0.0
    assert two.hit_pct is not None and two.hit_pct >= 99.0  # all one URL: one miss at most
    assert one.p95_ms is not None and one.p50_ms is not None and one.p50_ms <= one.p95_ms
    assert snap.farm.m1.requests == 1000


def test_sites_collector_shows_visitors_beside_its_probe(lab_and_farm):
    """The console's Sites collector (live: traffic on): each row has its visitors' minute,
    the traffic source is a source of the pane, the probe's own requests are not visitors."""
    from wpfarm_tui.status.sites import SitesCollector

    _, farm = lab_and_farm
    token = uuid.uuid4().hex
    collector = SitesCollector(farm, traffic=True)
    try:
        assert _wait(lambda: collector._traffic is not None
                     and collector._traffic.health().ok, 10)
        collector.collect()  # probes both sites (tagged: left out)
        with httpx.Client(timeout=10) as client:
            for _ in range(30):
                assert client.get(f"{EDGE}/?t={token}", headers={"Host": "site2.test"}
                                  ).status_code == 200

        def counted() -> bool:
            snap = collector.collect()
            row = next(s for s in snap.sites if s.domain == "site2.test")
            return row.traffic is not None and row.traffic.m1.requests >= 30

        assert _wait(counted, 10)
        snap = collector.collect()
    finally:
        collector.close()
    assert any(s.name == "traffic" and s.ok for s in snap.sources), snap.sources
    rows = {s.domain: s for s in snap.sites}
    assert rows["site2.test"].http_status == 200  # the probe column is still there
    assert rows["site2.test"].traffic is not None
    assert rows["site1.test"].traffic is not None  # a known site with no visitors: zeros
    assert snap.traffic_farm is not None and snap.traffic_farm.m1.requests >= 30
