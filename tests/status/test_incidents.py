"""The grouping rules of status/incidents.py on constructed snapshots: each fault of the
issue's list gives exactly one incident, with the right cause and procedure (or none).

Constructed, not the lab: stopping Galera or Redis on the shared lab would break the
other tests running beside these; the lab tests of the verifications use the real
servers."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from tests.ui import fixtures as fx
from wpfarm_tui.status.alerts import alerts_from
from wpfarm_tui.status.incidents import incidents_from, maintenance_flags
from wpfarm_tui.status.model import (
    GaleraNode,
    ServiceRow,
    SiteRow,
    SourceHealth,
)
from wpfarm_tui.status.thresholds import Level

UUID = "8f1c2a9e-0000-11ef-9a3b-0242ac120002"
DOMAINS = [f"site{i}.lab.test" for i in range(1, 7)]
REFUSED = "[Errno 111] Connection refused"


def node(i: int, **kw) -> GaleraNode:
    base = GaleraNode(f"galera-{i}", f"127.0.0.1:3306{i}", True, None, "Primary", "Synced", 3,
                      UUID, True, 0.0, 0.0, 1000, 5.0, Level.OK)
    return replace(base, **kw)


def site(domain: str, status: int | None = 200, error: str | None = None,
         state: str = "active") -> SiteRow:
    level = Level.OK if status == 200 else Level.CRITICAL
    return SiteRow(domain, state, status, 40.0 if status else None,
                   "HIT" if status == 200 else None, 95.0, error, level)


def healthy() -> dict:
    """The lab's shape with every part healthy: no alert at all."""
    galera = replace(fx.galera_snapshot(),
                     sources=tuple(fx.ok(f"galera-{i}") for i in (1, 2, 3)),
                     nodes=tuple(node(i) for i in (1, 2, 3)), cluster_size=3,
                     level=Level.OK)
    caches = fx.caches_snapshot()
    caches = replace(caches, varnish=(replace(caches.varnish[0], level=Level.OK),))
    nodes = replace(fx.nodes_snapshot(), services=())
    sites = replace(fx.sites_snapshot(), sites=tuple(site(d) for d in DOMAINS))
    return {"nodes": nodes, "sites": sites, "galera": galera, "caches": caches,
            "bans": fx.bans_snapshot(), "edge": fx.edge_snapshot()}


def only(snaps: dict, maintenance: frozenset[str] | None = frozenset()):
    found = incidents_from(snaps, alerts_from(snaps), maintenance)
    assert len(found) == 1, [(i.cause, [a.key for a in i.symptoms]) for i in found]
    return found[0]


def all_sites(snaps: dict, status: int | None, error: str | None = None) -> None:
    snaps["sites"] = replace(snaps["sites"], sites=tuple(site(d, status, error)
                                                         for d in DOMAINS))


def test_a_healthy_farm_has_no_incident():
    snaps = healthy()
    assert alerts_from(snaps) == []
    assert incidents_from(snaps, [], frozenset()) == []


def test_varnish_down_is_one_incident_with_every_site_under_it():
    snaps = healthy()
    caches = snaps["caches"]
    snaps["caches"] = replace(
        caches, sources=(fx.failed("varnish-1", "error", "varnishstat: exit 1"),
                         *caches.sources[1:]),
        varnish=(replace(caches.varnish[0], reachable=False, error="varnishstat: exit 1",
                         level=Level.CRITICAL),))
    all_sites(snaps, 503)
    inc = only(snaps)
    assert inc.kind == "varnish-down"
    assert inc.cause == "Varnish down, 6 sites affected"
    # Not "maintenance off" per site: no flag is set, and the lab has no Varnish service.
    assert inc.procedure is None and any("wpfarm lab up" in a for a in inc.advice)
    assert {a.subject for a in inc.symptoms} >= set(DOMAINS) | {"varnish-1"}
    assert inc.level == Level.CRITICAL


def test_varnish_down_on_swarm_proposes_restarting_its_service():
    snaps = healthy()
    caches = snaps["caches"]
    snaps["caches"] = replace(caches, varnish=(replace(caches.varnish[0], reachable=False,
                                                       error="down", level=Level.CRITICAL),))
    snaps["nodes"] = replace(snaps["nodes"], services=(
        ServiceRow("v", "cache_varnish", "replicated", 2, 0, "varnish:7", ""),))
    all_sites(snaps, 502)
    inc = only(snaps)
    assert inc.kind == "varnish-down"
    assert (inc.procedure, dict(inc.values)) == ("service-restart",
                                                 {"service": "cache_varnish"})


def test_one_galera_node_down_is_a_rejoin():
    snaps = healthy()
    g = snaps["galera"]
    snaps["galera"] = replace(
        g, sources=(*g.sources[:2], fx.failed("galera-3", "down", REFUSED)),
        nodes=(*g.nodes[:2], GaleraNode("galera-3", "127.0.0.1:33063", False, REFUSED,
                                        level=Level.CRITICAL)),
        cluster_size=2, level=Level.CRITICAL)
    inc = only(snaps)
    assert inc.kind == "galera-node-down" and inc.cause == "Galera node galera-3 down"
    assert (inc.procedure, dict(inc.values)) == ("galera-rejoin", {"node": "galera-3"})


def test_galera_non_primary_takes_the_sites_5xx():
    snaps = healthy()
    g = snaps["galera"]
    snaps["galera"] = replace(
        g, nodes=tuple(node(i, cluster_status="non-Primary", local_state="Initialized",
                            cluster_size=1, level=Level.CRITICAL) for i in (1, 2, 3)),
        cluster_status="non-Primary", level=Level.CRITICAL)
    all_sites(snaps, 500)
    inc = only(snaps)
    assert inc.kind == "galera-non-primary"
    assert inc.cause == "Galera not Primary, 6 sites affected"
    assert inc.procedure == "galera-recover"
    assert {a.subject for a in inc.symptoms} >= set(DOMAINS)


def test_redis_master_down_is_a_failover():
    snaps = healthy()
    c = snaps["caches"]
    master = replace(c.redis[0], reachable=False, error=REFUSED, role=None,
                     level=Level.CRITICAL, health="down")
    sentinels = tuple(replace(s, master_flags="s_down,master", level=Level.CRITICAL)
                      for s in c.sentinels)
    snaps["caches"] = replace(c, redis=(master, c.redis[1]), sentinels=sentinels,
                              sources=(c.sources[0], fx.failed("redis-1", "down", REFUSED),
                                       *c.sources[2:]))
    inc = only(snaps)
    assert inc.kind == "redis-master-down" and inc.procedure == "redis-failover"
    assert "redis-1" in inc.cause


def test_a_down_redis_the_sentinels_no_longer_name_is_no_failover():
    snaps = healthy()
    c = snaps["caches"]
    old = replace(c.redis[0], reachable=False, error=REFUSED, role=None,
                  level=Level.CRITICAL, health="down")
    sentinels = tuple(replace(s, master_address="127.0.0.1:16380") for s in c.sentinels)
    snaps["caches"] = replace(c, redis=(old, replace(c.redis[1], role="master",
                                                     master_link=None)),
                              sentinels=sentinels)
    inc = only(snaps)
    assert inc.kind == "redis-replica-down" and inc.procedure is None
    assert all(a.procedure is None for a in alerts_from(snaps))


def test_crowdsec_down_is_one_incident():
    snaps = healthy()
    snaps["bans"] = replace(snaps["bans"], sources=(
        fx.failed("crowdsec", "down", "connection refused (127.0.0.1:16180)"),), bans=())
    inc = only(snaps)
    assert inc.kind == "crowdsec-down" and inc.procedure is None
    assert "connection refused" in " ".join(inc.evidence)


def test_one_sites_backend_down_is_service_down_with_logs_and_restart():
    from wpfarm_tui.sites.naming import names_for

    snaps = healthy()
    svc = f"wp_{names_for('site3.lab.test').service}"
    snaps["nodes"] = replace(snaps["nodes"], services=(
        ServiceRow("s3", svc, "replicated", 2, 0, "wpfarm/wordpress", ""),))
    snaps["sites"] = replace(snaps["sites"], sites=tuple(
        site(d, 502 if d == "site3.lab.test" else 200) for d in DOMAINS))
    inc = only(snaps)
    assert inc.kind == "site-service-down"
    assert inc.cause == "site3.lab.test: its service is down (0 of 2 tasks)"
    assert (inc.procedure, dict(inc.values)) == ("service-restart", {"service": svc})
    assert any("service logs" in a for a in inc.advice)


def test_a_503_is_maintenance_only_when_the_flag_is_set():
    snaps = healthy()
    snaps["sites"] = replace(snaps["sites"], sites=tuple(
        site(d, 503 if d == "site2.lab.test" else 200) for d in DOMAINS))
    inc = only(snaps, frozenset({"site2.lab.test"}))
    assert inc.kind == "site-maintenance"
    assert (inc.procedure, dict(inc.values)) == ("maintenance-off",
                                                 {"domain": "site2.lab.test"})
    # The same 503 without the flag: cause unknown, the evidence, and no procedure.
    inc = only(snaps, frozenset())
    assert inc.kind == "unknown" and inc.procedure is None
    assert "site2.lab.test: HTTP 503" in inc.evidence
    assert "no maintenance flag is set" in inc.evidence


def test_the_all_flag_offers_turning_every_site_back_on():
    snaps = healthy()
    all_sites(snaps, 503)
    inc = only(snaps, frozenset({"all"}))
    assert inc.procedure == "maintenance-all-off" and len(inc.symptoms) == len(DOMAINS)


def test_traefik_down_is_one_incident():
    snaps = healthy()
    snaps["edge"] = replace(snaps["edge"], sources=(
        fx.failed("traefik", "down", "connection refused"),), routers=())
    all_sites(snaps, None, "connection refused")
    snaps["sites"] = replace(snaps["sites"], sources=(
        *snaps["sites"].sources, SourceHealth("edge", "down", "connection refused")))
    inc = only(snaps)
    assert inc.kind == "edge-down" and inc.cause == "Traefik down, 6 sites unreachable"


@pytest.mark.parametrize("flags,expected", [(None, None), ((), frozenset()),
                                            (("site1.test", "all"),
                                             frozenset({"site1.test", "all"}))])
def test_maintenance_flags_read_the_flag_directory(tmp_path, flags, expected):
    if flags is None:
        assert maintenance_flags(None) is None
        return
    for f in flags:
        (tmp_path / f).write_text("wpfarm maintenance\n")
    assert maintenance_flags(tmp_path) == expected
    assert maintenance_flags(tmp_path / "never-created") == frozenset()


def test_no_user_facing_text_shows_a_python_repr():
    snaps = healthy()
    c = snaps["caches"]
    snaps["caches"] = replace(c, redis=(replace(c.redis[0], role=None, level=Level.WARNING,
                                                memory_pct=float("nan")), c.redis[1]))
    g = snaps["galera"]
    snaps["galera"] = replace(g, nodes=(node(1, cluster_status=None, local_state=None,
                                             level=Level.CRITICAL), *g.nodes[1:]))
    snaps["sites"] = replace(snaps["sites"], sites=(site("a.lab.test", 500),))
    texts = [a.message for a in alerts_from(snaps)]
    for i in incidents_from(snaps, alerts_from(snaps), frozenset()):
        texts += [i.cause, *i.evidence, *i.advice]
    assert texts
    for t in texts:
        assert not re.search(r"\b(None|nan|NaN)\b", t), t


@pytest.mark.parametrize("go,expected", [
    ("3h59m12.123456789s", "3h59m"), ("4m59.619189396s", "4m59s"), ("59.9s", "59s"),
    ("72h0m0s", "3d"), ("25h30m0s", "1d1h"), ("300ms", "0s"), ("-1.5s", "-1s"),
    ("", "unknown"), ("banana", "banana")])
def test_crowdsec_durations_read_like_3h59m(go, expected):
    from wpfarm_tui.status.bans import ban_from_decision
    from wpfarm_tui.status.texts import go_duration_text

    assert go_duration_text(go) == expected
    assert ban_from_decision({"id": 1, "duration": go}).expires_in == expected
