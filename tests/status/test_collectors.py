"""Every collector against the lab's real servers (Docker, Galera, Redis +
Sentinel, Varnish, Traefik, CrowdSec, nginx + php-fpm + WordPress)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wpfarm_tui.status.bans import BansCollector
from wpfarm_tui.status.caches import CachesCollector
from wpfarm_tui.status.collectors import build_collectors, refresh_all
from wpfarm_tui.status.edge import EdgeCollector
from wpfarm_tui.status.galera import GaleraCollector
from wpfarm_tui.status.nodes import NodesCollector
from wpfarm_tui.status.panes import BY_KEY as PANES
from wpfarm_tui.status.sites import SitesCollector
from wpfarm_tui.status.thresholds import Level

pytestmark = pytest.mark.lab


def test_nodes_pane_reads_the_real_swarm(lab_farm):
    snap = NodesCollector(lab_farm).collect()
    assert snap.sources[0].ok, snap.sources
    assert len(snap.nodes) == 1
    node = snap.nodes[0]
    assert (node.role, node.state, node.availability, node.leader) == (
        "manager", "ready", "active", True)
    web = next(s for s in snap.services if s.name == "lab-web")
    assert (web.mode, web.desired, web.running) == ("replicated", 2, 2)


def test_galera_pane_sees_three_synced_nodes(lab_farm):
    snap = GaleraCollector(lab_farm.endpoints.galera, dict(lab_farm.thresholds)).collect()
    assert [s.state for s in snap.sources] == ["ok", "ok", "ok"], snap.sources
    assert (snap.cluster_status, snap.cluster_size, snap.expected_size) == ("Primary", 3, 3)
    assert {n.local_state for n in snap.nodes} == {"Synced"}
    assert len({n.cluster_state_uuid for n in snap.nodes}) == 1
    assert all(n.last_committed and n.last_committed > 0 for n in snap.nodes)
    assert snap.level is Level.OK


def test_caches_pane_reads_varnish_redis_and_sentinels(lab_farm):
    collector = CachesCollector(lab_farm)
    # After a failover elsewhere in the suite, Sentinel takes ~10 s to turn the old master
    # into a replica: wait for one master and one replica before reading.
    deadline = time.monotonic() + 40
    while True:
        snap = collector.collect()
        if sorted(r.role or "" for r in snap.redis) == ["master", "slave"]:
            break
        assert time.monotonic() < deadline, snap.redis
        time.sleep(1)
    assert all(s.ok for s in snap.sources), snap.sources
    varnish = snap.varnish[0]
    assert varnish.reachable and varnish.uptime_s is not None and varnish.uptime_s > 0
    roles = sorted(r.role for r in snap.redis)
    assert roles == ["master", "slave"]
    master = next(r for r in snap.redis if r.role == "master")
    # Every Sentinel agrees on the master the instances report.
    assert {s.master_address for s in snap.sentinels} == {master.address}
    assert all(s.other_sentinels == 2 for s in snap.sentinels)


def test_bans_pane_reads_the_lapi(lab_farm):
    snap = BansCollector(lab_farm.endpoints.crowdsec).collect()
    assert snap.sources[0].ok, snap.sources
    values = {b.value for b in snap.bans}
    assert {"203.0.113.7", "198.51.100.0/24"} <= values
    ban = next(b for b in snap.bans if b.value == "203.0.113.7")
    assert ban.type == "ban" and ban.expires_in


def test_edge_pane_lists_traefik_routers(lab_farm):
    snap = EdgeCollector(lab_farm.endpoints.traefik).collect()
    assert snap.sources[0].ok, snap.sources
    names = {r.name for r in snap.routers}
    assert {"site1@file", "site2@file"} <= names
    assert all(r.status == "enabled" for r in snap.routers)
    assert snap.version and snap.version.startswith("3.")


def test_sites_pane_probes_through_traefik_and_varnish(lab_farm):
    collector = SitesCollector(lab_farm)
    first = collector.collect()
    assert all(s.ok for s in first.sources), first.sources
    assert [s.domain for s in first.sites] == ["site1.test", "site2.test"]
    assert all(s.http_status == 200 and s.ttfb_ms is not None for s in first.sites), first.sites
    assert all(s.state == "active" for s in first.sites)
    second = collector.collect()
    # The page was cached by the first probe: Varnish answers the second from cache.
    assert [s.cache for s in second.sites] == ["HIT", "HIT"], second.sites
    assert all(s.hit_ratio and s.hit_ratio > 0 for s in second.sites)


def test_full_refresh_runs_panes_concurrently(lab_farm):
    result = refresh_all(build_collectors(lab_farm))
    assert set(result.snapshots) == set(PANES)
    # Concurrent polls: the whole refresh costs about its slowest pane, not their sum.
    assert result.wall_s < sum(result.seconds.values()) or len(result.seconds) == 1


def _secrets(lab) -> list[str]:
    return [p.read_text().strip() for p in Path(lab.root, "secrets").iterdir() if p.is_file()]


def test_status_cli_json_and_no_secrets(lab, lab_farm):
    # wait until every source answers (a previous test may have restarted one)
    for _ in range(30):
        done = subprocess.run([sys.executable, "-m", "wpfarm_tui", "--farm", str(lab.farm_file),
                               "status", "--json"], capture_output=True, text=True, timeout=60)
        report = json.loads(done.stdout)
        # Backups are critical on a lab older than the RPO since its last backup.
        others = [p["level"] for name, p in report["panes"].items() if name != "backups"]
        if "critical" not in others:
            break
        time.sleep(1)
    backups_critical = report["panes"]["backups"]["level"] == "critical"
    assert done.returncode == (2 if backups_critical else 0), done.stdout[-2000:]
    assert "critical" not in others
    assert set(report["panes"]) == set(PANES)
    assert report["panes"]["galera"]["cluster_size"] == 3
    for secret in _secrets(lab):
        assert secret not in done.stdout and secret not in done.stderr


def test_status_cli_human_output(lab):
    done = subprocess.run([sys.executable, "-m", "wpfarm_tui", "--farm", str(lab.farm_file),
                           "status"], capture_output=True, text=True, timeout=60)
    assert "site1.test" in done.stdout and "galera" in done.stdout
    for secret in _secrets(lab):
        assert secret not in done.stdout
