"""Threshold colouring and the snapshot builders that apply it."""

from __future__ import annotations

import pytest

from wpfarm_tui.farm.http import Probe
from wpfarm_tui.inventory import HostPort
from wpfarm_tui.status.caches import redis_stats, sentinel_view, varnish_stats
from wpfarm_tui.status.galera import node_from_status
from wpfarm_tui.status.schedule import Backoff
from wpfarm_tui.status.sites import site_level
from wpfarm_tui.status.thresholds import DEFAULT_THRESHOLDS as T
from wpfarm_tui.status.thresholds import Level, Threshold, site_backup_level


@pytest.mark.parametrize(("value", "level"), [
    (None, Level.UNKNOWN), (10, Level.OK), (70, Level.OK), (70.1, Level.WARNING),
    (90, Level.WARNING), (90.5, Level.CRITICAL)])
def test_higher_is_worse(value, level):
    assert T["cpu"].level(value) is level


@pytest.mark.parametrize(("value", "level"), [
    (99, Level.OK), (80, Level.OK), (79.9, Level.WARNING), (60, Level.WARNING),
    (59.9, Level.CRITICAL)])
def test_lower_is_worse_for_hit_ratio(value, level):
    assert T["cache_hit_ratio"].level(value) is level


def test_table_defaults_match_architecture():
    assert (T["response_time_ms"].warning, T["response_time_ms"].critical) == (500, 2000)
    assert (T["replication_lag_s"].warning, T["replication_lag_s"].critical) == (1, 5)
    assert (T["cache_memory"].warning, T["cache_memory"].critical) == (80, 95)
    assert (T["disk"].warning, T["disk"].critical) == (70, 85)


SYNCED = {"wsrep_cluster_status": "Primary", "wsrep_local_state_comment": "Synced",
          "wsrep_ready": "ON", "wsrep_cluster_size": "3", "wsrep_flow_control_paused": "0.0",
          "wsrep_local_recv_queue_avg": "0.0", "wsrep_last_committed": "42",
          "threads_connected": "10", "max_connections": "100"}
NODE = HostPort("db1", "127.0.0.1", 3306)


def test_galera_node_levels():
    assert node_from_status(NODE, SYNCED, T).level is Level.OK
    donor = {**SYNCED, "wsrep_local_state_comment": "Donor/Desynced"}
    assert node_from_status(NODE, donor, T).level is Level.WARNING
    split = {**SYNCED, "wsrep_cluster_status": "non-Primary", "wsrep_ready": "OFF"}
    assert node_from_status(NODE, split, T).level is Level.CRITICAL
    busy = {**SYNCED, "threads_connected": "96"}
    node = node_from_status(NODE, busy, T)
    assert node.connections_pct == 96.0 and node.level is Level.CRITICAL
    paused = {**SYNCED, "wsrep_flow_control_paused": "0.2"}
    assert node_from_status(NODE, paused, T).level is Level.WARNING


def test_cache_levels_need_enough_lookups():
    assert varnish_stats("v", {"cache_hit": 1, "cache_miss": 9}, T).level is Level.OK
    cold = varnish_stats("v", {"cache_hit": 50, "cache_miss": 150}, T)
    assert cold.hit_ratio == 25.0 and cold.level is Level.CRITICAL
    warm = varnish_stats("v", {"cache_hit": 900, "cache_miss": 100}, T)
    assert warm.hit_ratio == 90.0 and warm.level is Level.OK


def test_cache_level_follows_the_last_minute_not_the_total():
    # Ten million hits last week, nothing but misses now: critical, though 95 % since start.
    from wpfarm_tui.status.rates import Histories

    history = Histories()
    key = ("varnish", "v")
    history.record(key, {"cache_hit": 9_500_000, "cache_miss": 500_000}, at=0)
    now = {"cache_hit": 9_500_000, "cache_miss": 502_000}
    history.record(key, now, at=60)
    stats = varnish_stats("v", now, T, history)
    assert stats.hit_ratio is not None and stats.hit_ratio > 94
    assert stats.hit_ratio_1m is not None and stats.hit_ratio_1m.value == 0.0
    assert stats.level is Level.CRITICAL
    # And a quiet minute (too few lookups) is no alarm.
    history.record(key, {"cache_hit": 9_500_000, "cache_miss": 502_010}, at=130)
    quiet = varnish_stats("v", {"cache_hit": 9_500_000, "cache_miss": 502_010}, T, history)
    assert quiet.level is Level.OK


def test_redis_levels():
    info = {"role": "master", "keyspace_hits": 0, "keyspace_misses": 0, "used_memory": 96,
            "maxmemory": 100}
    assert redis_stats(NODE, info, T).level is Level.CRITICAL  # 96 % of maxmemory
    replica = {"role": "slave", "master_link_status": "down", "used_memory": 1, "maxmemory": 0}
    assert redis_stats(NODE, replica, T).level is Level.CRITICAL
    assert redis_stats(NODE, {**replica, "master_link_status": "up"}, T).level is Level.OK


def test_sentinel_flags():
    base = {"name": "mymaster", "ip": "127.0.0.1", "port": 16379, "num-slaves": 1}
    assert sentinel_view(NODE, {**base, "flags": "master"}).level is Level.OK
    assert sentinel_view(NODE, {**base, "flags": "s_down,master"}).level is Level.WARNING
    assert sentinel_view(NODE, {**base, "flags": "o_down,s_down,master"}).level is Level.CRITICAL


def test_site_levels():
    ok = Probe(200, 45.0, "HIT", None)
    assert site_level("active", ok, 95.0, 10, T) is Level.OK
    assert site_level("active", Probe(200, 700.0, "HIT", None), None, 0, T) is Level.WARNING
    assert site_level("active", Probe(502, 10.0, None, None), None, 0, T) is Level.CRITICAL
    assert site_level("active", Probe(None, None, None, "refused"), None, 0, T) is Level.CRITICAL
    # A low hit ratio counts only once there are enough probes.
    assert site_level("active", ok, 10.0, 2, T) is Level.OK
    assert site_level("active", ok, 10.0, 10, T) is Level.CRITICAL
    # A suspended site is expected to answer 503.
    assert site_level("suspended", Probe(503, 5.0, None, None), None, 0, T) is Level.OK
    assert site_level("suspended", ok, None, 0, T) is Level.WARNING


@pytest.mark.parametrize(("age_s", "state", "level"), [
    (0, "active", Level.OK), (3600, "active", Level.OK), (3601, "active", Level.WARNING),
    (9 * 86400, "suspended", Level.WARNING), (None, "active", Level.CRITICAL),
    (None, "creating", Level.UNKNOWN), (None, "suspended", Level.UNKNOWN)])
def test_site_backup_level_against_the_1h_rpo(age_s, state, level):
    assert site_backup_level(age_s, state) is level


def test_backoff_doubles_then_caps_and_resets():
    b = Backoff(interval=1.0, max_delay=10.0)
    assert [b.next_delay(False) for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert b.next_delay(True) == 1.0
    assert b.next_delay(False) == 1.0


def test_threshold_is_frozen():
    with pytest.raises(AttributeError):
        Threshold(1, 2).warning = 3  # type: ignore[misc]


def test_flow_control_level_follows_the_last_minute_not_the_fraction_since_start():
    from wpfarm_tui.status.rates import Histories

    history = Histories()
    # 40 % paused since start (an old storm), not paused at all in the last minute.
    history.record(NODE.name, {"wsrep_flow_control_paused_ns": 400 * 10**9}, at=0)
    history.record(NODE.name, {"wsrep_flow_control_paused_ns": 400 * 10**9}, at=60)
    old_storm = {**SYNCED, "wsrep_flow_control_paused": "0.4"}
    assert node_from_status(NODE, old_storm, T).level is Level.WARNING  # one-shot: since start
    calm = node_from_status(NODE, old_storm, T, history)
    assert calm.flow_control_1m is not None and calm.flow_control_1m.value == 0.0
    assert calm.level is Level.OK
    # 40 s paused in the next minute: two thirds of it, critical.
    history.record(NODE.name, {"wsrep_flow_control_paused_ns": 440 * 10**9}, at=120)
    storm = node_from_status(NODE, old_storm, T, history)
    assert round(storm.flow_control_1m.value) == 67 and storm.level is Level.CRITICAL
