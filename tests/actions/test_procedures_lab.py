"""Redis failover, cache purge, CrowdSec ban/unban and maintenance mode on the lab's real
servers. Each test puts the lab back as it found it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import redis

from wpfarm_tui.actions import AuditLog, StepEvent, Verdict, execute
from wpfarm_tui.actions.cache import CachePurge
from wpfarm_tui.actions.crowdsec import BanAction, UnbanAction
from wpfarm_tui.actions.maintenance import Maintenance
from wpfarm_tui.actions.redis import RedisFailover
from wpfarm_tui.status.bans import BansCollector
from wpfarm_tui.status.caches import CachesCollector

pytestmark = pytest.mark.lab


def _run(action, confirmed=True):
    items = list(execute(action, audit=AuditLog(), confirmed=confirmed))
    events = [i for i in items if isinstance(i, StepEvent)]
    return events, next(i for i in items if isinstance(i, Verdict))


def _creds(lab) -> Path:
    return lab.root / "crowdsec" / "etc" / "local_api_credentials.yaml"


def _master(farm) -> str:
    views = {s.master_address for s in CachesCollector(farm).collect().sentinels}
    assert len(views) == 1, views
    return views.pop()


def test_sentinel_failover_shows_in_caches_collector(lab, lab_farm):
    try:
        before = _master(lab_farm)
        events, verdict = _run(RedisFailover(lab_farm))
        assert verdict.ok, (verdict, events)
        after = _master(lab_farm)
        assert after != before
        snap = CachesCollector(lab_farm).collect()
        roles = {r.address: r.role for r in snap.redis}
        assert roles[after] == "master"
    finally:
        # Leave the master where the lab started it (16379): fail back if needed, so the
        # lab's own seed and the other tests see the usual layout.
        try:
            # The old master turns replica ~10 s after a failover; Sentinel refuses to fail
            # back before that (NOGOODSLAVE), so retry for a while.
            deadline = time.monotonic() + 40
            while _master(lab_farm) != "127.0.0.1:16379" and time.monotonic() < deadline:
                info = redis.Redis(port=16379, socket_timeout=2).info("replication")
                if info.get("role") == "slave" and info.get("master_link_status") == "up":
                    _run(RedisFailover(lab_farm))
                else:
                    time.sleep(0.5)
        finally:
            lab.up(progress=lambda _m: None)


def _probe(farm, domain):
    r = httpx.get(farm.sites.edge_url + "/", headers={"Host": domain}, timeout=10)
    return r.status_code, r.headers.get("x-cache"), r.headers.get("retry-after")


def test_cache_purge_one_site(lab, lab_farm):
    r = redis.Redis(port=16379, socket_timeout=2)
    r.set("wp:site1.test:posts:1", "x")
    r.set("wp:site2.test:posts:1", "y")
    _probe(lab_farm, "site1.test")
    assert _probe(lab_farm, "site1.test")[1] == "HIT"
    events, verdict = _run(CachePurge(lab_farm, "site1.test"))
    assert verdict.ok, (verdict, events)
    assert _probe(lab_farm, "site1.test")[1] in ("MISS", "HIT")  # verify already probed once
    assert r.get("wp:site1.test:posts:1") is None
    assert r.get("wp:site2.test:posts:1") == b"y"  # other sites untouched
    r.unlink("wp:site2.test:posts:1")


def test_cache_purge_next_probe_is_miss(lab, lab_farm):
    _probe(lab_farm, "site2.test")
    assert _probe(lab_farm, "site2.test")[1] == "HIT"
    action = CachePurge(lab_farm, "site2.test")
    for _ in action.run():
        pass
    assert _probe(lab_farm, "site2.test")[1] == "MISS"


def test_ban_unban_round_trip(lab, lab_farm):
    collector = BansCollector(lab_farm.endpoints.crowdsec)
    target = "192.0.2.77"
    try:
        events, verdict = _run(BanAction(lab_farm, target, duration="30m",
                                         reason="test: manual ban", credentials=_creds(lab)))
        assert verdict.ok, (verdict, events)
        bans = [b for b in collector.collect().bans if b.value == target]
        assert bans and bans[0].reason == "test: manual ban"
        # Re-running does not duplicate.
        events, verdict = _run(BanAction(lab_farm, target, duration="30m",
                                         reason="test: manual ban", credentials=_creds(lab)))
        assert any(e.kind == "skipped" for e in events) and verdict.ok
        assert len([b for b in collector.collect().bans if b.value == target]) == 1
        _, verdict = _run(UnbanAction(lab_farm, target, credentials=_creds(lab)))
        assert verdict.ok
        assert not [b for b in collector.collect().bans if b.value == target]
    finally:
        _run(UnbanAction(lab_farm, target, credentials=_creds(lab)))


def test_ban_a_range(lab, lab_farm):
    collector = BansCollector(lab_farm.endpoints.crowdsec)
    try:
        _, verdict = _run(BanAction(lab_farm, "192.0.2.128/25", duration="1h",
                                    reason="test: range", credentials=_creds(lab)))
        assert verdict.ok
        assert [b for b in collector.collect().bans
                if b.value == "192.0.2.128/25" and b.scope == "Range"]
    finally:
        _, verdict = _run(UnbanAction(lab_farm, "192.0.2.128/25", credentials=_creds(lab)))
        assert verdict.ok


def test_maintenance_on_and_off_through_traefik(lab, lab_farm):
    flags = lab.maintenance_dir
    try:
        events, verdict = _run(Maintenance(lab_farm, "site1.test", on=True, flag_dir=flags))
        assert verdict.ok, (verdict, events)
        for _ in range(2):  # and Varnish does not cache the 503
            status, _cache, retry = _probe(lab_farm, "site1.test")
            assert status == 503 and retry
        assert _probe(lab_farm, "site2.test")[0] == 200  # the other site is untouched
        _, verdict = _run(Maintenance(lab_farm, "site1.test", on=False, flag_dir=flags))
        assert verdict.ok
        assert _probe(lab_farm, "site1.test")[0] == 200

        _, verdict = _run(Maintenance(lab_farm, on=True, all_sites=True, flag_dir=flags))
        assert verdict.ok
        assert _probe(lab_farm, "site2.test")[0] == 503
        _, verdict = _run(Maintenance(lab_farm, on=False, all_sites=True, flag_dir=flags))
        assert verdict.ok
        assert _probe(lab_farm, "site2.test")[0] == 200
    finally:
        for flag in ("site1.test", "all"):
            (flags / flag).unlink(missing_ok=True)
