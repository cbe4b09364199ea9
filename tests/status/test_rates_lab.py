"""Rates over windows against the lab's real Varnish and Redis: known traffic gives its rate,
and a restarted server gives "reset", never a negative rate."""

from __future__ import annotations

import time

import httpx
import pytest
import redis

from wpfarm_tui.status.caches import CachesCollector
from wpfarm_tui.status.rates import MINUTE

pytestmark = pytest.mark.lab

VARNISH = "http://127.0.0.1:16081/"


def _varnish(collector: CachesCollector):
    snap = collector.collect()
    assert snap.varnish and snap.varnish[0].reachable, snap.sources
    return snap.varnish[0]


def test_known_traffic_through_varnish_gives_its_rate(lab_farm) -> None:
    collector = CachesCollector(lab_farm)
    first = _varnish(collector)
    assert first.requests_per_s is not None and first.requests_per_s.value is None  # one sample
    n = 200
    with httpx.Client(headers={"Host": "site1.test"}, timeout=5) as http:
        for _ in range(n):
            http.get(VARNISH)
    second = _varnish(collector)
    rate = second.requests_per_s
    assert rate is not None and not rate.reset and rate.value is not None
    served = rate.value * rate.covered
    # Our requests, and at most a few of anything else hitting the lab's Varnish meanwhile.
    assert n <= round(served) <= n + 20, (served, rate)
    # All but the first of the same page were hits: the minute's ratio shows it.
    assert second.hit_ratio_1m is not None and second.hit_ratio_1m.value is not None
    assert second.hit_ratio_1m.value > 90, second.hit_ratio_1m


def test_redis_restart_gives_reset_not_a_negative_rate(lab, lab_farm) -> None:
    collector = CachesCollector(lab_farm)
    replica = next(i for i in lab_farm.endpoints.redis.instances if i.name == "redis-replica")

    def replica_row():
        snap = collector.collect()
        return next(r for r in snap.redis if r.name == replica.name)

    secret = lab_farm.endpoints.redis.password
    password = secret.reveal() if secret else None
    client = redis.Redis(host=replica.host, port=replica.port, password=password)
    for _ in range(300):
        client.get("wpfarm-rates-test")  # keyspace misses and commands on the replica
    client.close()
    replica_row()
    replica_row()
    lab.stop("redis-replica")
    try:
        down = replica_row()
        assert not down.reachable
    finally:
        lab.start("redis-replica", progress=lambda _m: None)
    deadline = time.monotonic() + 20
    while not (row := replica_row()).reachable:
        assert time.monotonic() < deadline, row.error
        time.sleep(0.5)
    row = replica_row()
    # The last interval is after the restart: an honest rate. The minute spans the restart.
    assert row.ops_per_s is not None and row.ops_per_s.value is not None
    assert row.ops_per_s.value >= 0
    minute = collector.history.rate(("redis", replica.name), "total_commands_processed", MINUTE)
    assert minute.reset and minute.value is None


def test_new_crowdsec_decisions_per_minute(lab, lab_farm) -> None:
    from wpfarm_tui.status.bans import BansCollector

    collector = BansCollector(lab_farm.endpoints.crowdsec)
    first = collector.collect()
    assert first.sources[0].ok, first.sources
    assert first.new_per_minute is not None and first.new_per_minute.value is None
    # Outside the lab's seeded 198.51.100.0/24: `cscli decisions delete --ip` deletes
    # every decision covering the address, the seeded range included.
    added = ["198.18.42.71", "198.18.42.72", "198.18.42.73"]
    for address in added:
        lab._cscli("decisions", "add", "--ip", address, "--duration", "5m",
                   "--reason", "wpfarm rates test")
    try:
        second = collector.collect()
        rate = second.new_per_minute
        assert rate is not None and rate.value is not None
        # Three new decisions in `covered` seconds, as a per-minute figure.
        assert round(rate.value * rate.covered / 60) == len(added), rate
    finally:
        for address in added:
            lab._cscli("decisions", "delete", "--ip", address, check=False)


def test_known_commits_give_galera_commits_per_second(lab_farm) -> None:
    from wpfarm_tui.farm.galera import connect
    from wpfarm_tui.status.galera import GaleraCollector

    endpoint = lab_farm.endpoints.galera
    collector = GaleraCollector(endpoint, dict(lab_farm.thresholds))
    node = endpoint.nodes[0]

    def row():
        return next(n for n in collector.collect().nodes if n.name == node.name)

    db = connect(endpoint, node)
    try:
        with db.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS wpfarm_rates_test")
            cur.execute("CREATE TABLE IF NOT EXISTS wpfarm_rates_test.t "
                        "(id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
        first = row()
        assert first.commits_per_s is not None and first.commits_per_s.value is None
        n = 100
        with db.cursor() as cur:
            for i in range(n):
                cur.execute("INSERT INTO wpfarm_rates_test.t (v) VALUES (%s)", [i])
        second = row()
    finally:
        with db.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS wpfarm_rates_test")
        db.close()
    rate = second.commits_per_s
    assert rate is not None and rate.value is not None and not rate.reset
    # Our inserts, and at most a few other writes of the suite (registry, sites) meanwhile.
    assert n <= round(rate.value * rate.covered) <= n + 20, rate
    assert second.flow_control_1m is not None and second.flow_control_1m.value is not None
    assert 0 <= second.flow_control_1m.value <= 100


def test_status_sample_carries_rates_and_their_window(lab) -> None:
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "wpfarm_tui", "--farm", str(lab.farm_file),
                           "status", "--sample", "1", "--json"],
                          capture_output=True, text=True, timeout=120)
    report = json.loads(done.stdout)
    varnish = report["panes"]["caches"]["varnish"][0]["requests_per_s"]
    assert varnish["value"] is not None and varnish["value"] >= 0
    assert varnish["covered"] >= 1.0  # the window the figure covers, at least the sample
    commits = report["panes"]["galera"]["nodes"][0]["commits_per_s"]
    assert commits["covered"] >= 1.0
