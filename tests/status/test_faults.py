"""Faults injected into the lab's real servers while collectors keep polling."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from wpfarm_tui.status.bans import BansCollector
from wpfarm_tui.status.caches import CachesCollector
from wpfarm_tui.status.collectors import build_collectors, refresh_all
from wpfarm_tui.status.galera import GaleraCollector
from wpfarm_tui.status.thresholds import Level

pytestmark = pytest.mark.lab


def wait_for(condition: Callable[[], object], timeout: float, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(every)


def test_killed_galera_node_shows_down_while_cluster_stays_primary(lab, lab_farm):
    collector = GaleraCollector(lab_farm.endpoints.galera, dict(lab_farm.thresholds))
    lab.stop("galera-2", hard=True)  # kill -9: a crash, not a clean leave
    try:
        snap = wait_for(lambda: (s := collector.collect()).cluster_size == 2 and s, 30)
        down = next(n for n in snap.nodes if n.name == "galera-2")
        assert not down.reachable and down.error
        assert down.level is Level.CRITICAL
        assert snap.cluster_status == "Primary"
        assert {n.cluster_size for n in snap.nodes if n.reachable} == {2}
        source = next(s for s in snap.sources if s.name == "galera-2")
        assert source.state == "down"
        assert snap.level is Level.CRITICAL
    finally:
        lab.start("galera-2", progress=lambda _m: None)
    snap = wait_for(lambda: (s := collector.collect()).cluster_size == 3 and s, 60)
    assert all(n.local_state == "Synced" for n in snap.nodes)


def test_redis_master_stop_sentinel_promotes_and_pane_follows(lab, lab_farm):
    collector = CachesCollector(lab_farm)
    before = collector.collect()
    master = next(r for r in before.redis if r.role == "master")
    lab.stop(master.name)
    try:
        def promoted():
            snap = collector.collect()
            new = [r for r in snap.redis if r.reachable and r.role == "master"]
            agreed = {s.master_address for s in snap.sentinels}
            return new and agreed == {new[0].address} and snap
        snap = wait_for(promoted, 30)
        old = next(r for r in snap.redis if r.name == master.name)
        assert not old.reachable and old.level is Level.CRITICAL
        assert next(s for s in snap.sources if s.name == master.name).state == "down"
    finally:
        lab.start(master.name, progress=lambda _m: None)
    # The old master comes back as a replica of the new one.
    wait_for(lambda: any(r.name == master.name and r.role == "slave"
                         for r in collector.collect().redis), 40)


def test_crowdsec_down_other_panes_keep_refreshing(lab, lab_farm):
    collectors = build_collectors(lab_farm)
    lab.stop("crowdsec")
    try:
        result = refresh_all(collectors)
        bans = result.snapshots["bans"]
        assert bans.sources[0].state == "down" and bans.level is Level.CRITICAL
        assert bans.sources[0].error
        assert result.snapshots["edge"].sources[0].ok
        assert result.snapshots["galera"].cluster_size == 3
        assert any(s.http_status == 200 for s in result.snapshots["sites"].sites)
    finally:
        lab.start("crowdsec", progress=lambda _m: None)
    wait_for(lambda: BansCollector(lab_farm.endpoints.crowdsec).collect().sources[0].ok, 30)
