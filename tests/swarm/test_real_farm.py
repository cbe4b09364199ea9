"""The console on the real topology: a three-node Swarm watched from outside its overlay
networks, through the farm file `wpfarm swarmlab up` writes (README "How the bastion
reaches the farm"). No test-side provisioning: the deploy made every account.

`wpfarm status --json` must see every layer with real figures, and each fault (a Varnish
task killed, the Redis master's task stopped, a node drained) must be on screen at the
first poll after it: "within one refresh". How long that poll takes is measured by
benchmarks/bench_fault_latency.py --swarm, not here.

Stands in for production: the lab images and overrides of wpfarm_tui/swarmlab (listed in
swarmlab/farm.py)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time

import httpx
import pytest

from wpfarm_tui.inventory import load_farm
from wpfarm_tui.status.caches import CachesCollector
from wpfarm_tui.status.model import Level
from wpfarm_tui.status.nodes import NodesCollector
from wpfarm_tui.swarmlab import NODES
from wpfarm_tui.swarmlab.farm import SITE

pytestmark = pytest.mark.swarm
SERVICE_LABEL = "com.docker.swarm.service.name"


@pytest.fixture(scope="module")
def farm_file(deployed, swarmlab):
    # swarmlab up wrote it; every endpoint in it is reached the bastion's way.
    return swarmlab.farm_file


def _edge_get(n: int) -> list[str]:
    seen = []
    with httpx.Client(verify=False, timeout=10) as client:
        for _ in range(n):
            r = client.get(f"https://{NODES[0].address}/", headers={"Host": SITE})
            seen.append(f"{r.status_code} {r.headers.get('x-cache')}")
    return seen


def _status_json(farm_file) -> dict:
    done = subprocess.run([sys.executable, "-m", "wpfarm_tui", "--farm", str(farm_file),
                           "status", "--json"], capture_output=True, text=True, timeout=120)
    assert done.stdout, done.stderr
    return json.loads(done.stdout)


def _wait(what: str, check, timeout: float = 90.0, every: float = 1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: not after {timeout:.0f} s (last: {last!r})")


def test_status_json_sees_every_layer_with_real_figures(farm_file):
    # Known traffic first: Traefik spreads it over the three Varnish replicas.
    seen = _edge_get(9)
    assert all(s.startswith("200") for s in seen), seen
    doc = _status_json(farm_file)
    panes = doc["panes"]
    for name in ("nodes", "galera", "caches", "edge", "sites", "bans"):
        # This lab deploys no observability stack: its farm file names no metrics source,
        # and the Nodes pane says so in a source of its own.
        bad = [s for s in panes[name]["sources"] if s["state"] != "ok" and not (
            s["name"] == "metrics" and s["error"] == "no endpoints.metrics")]
        assert not bad, (name, bad)

    caches = panes["caches"]
    assert len(caches["varnish"]) == 3
    assert sum(v["hits"] for v in caches["varnish"]) >= 1, caches["varnish"]
    assert sum(v["hits"] + v["misses"] for v in caches["varnish"]) >= 9
    roles = sorted(r["role"] for r in caches["redis"])
    assert roles == ["master", "slave", "slave"], caches["redis"]
    master = next(r["address"] for r in caches["redis"] if r["role"] == "master")
    # Sentinel names the master by its overlay name; the console shows the address it
    # reaches it by, so "every Sentinel agrees with the instances" is checkable.
    assert [s["master_address"] for s in caches["sentinels"]] == [master] * 3, \
        caches["sentinels"]

    routers = {r["name"] for r in panes["edge"]["routers"]}
    assert any(SITE.replace(".", "-") in r or "site" in r for r in routers), routers
    (site,) = [s for s in panes["sites"]["sites"] if s["domain"] == SITE]
    assert site["http_status"] == 200, site
    galera = panes["galera"]
    assert len(galera["nodes"]) == 3 and all(n["reachable"] for n in galera["nodes"])


def test_the_site_probe_sees_a_hit_after_a_miss(farm_file):
    """The blackbox probe goes the visitors' way (Traefik -> Varnish): with three Varnish
    replicas, a HIT is there within one probe per replica."""
    caches = []
    for _ in range(len(NODES) + 1):
        (site,) = [s for s in _status_json(farm_file)["panes"]["sites"]["sites"]
                   if s["domain"] == SITE]
        caches.append(site["cache"])
    assert "HIT" in caches, caches


def _wpfarm(farm_file, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wpfarm_tui", "--farm", str(farm_file),
                           *args], capture_output=True, text=True, timeout=120)


def test_a_ban_through_the_console_is_in_the_lapi_and_the_pane(farm_file):
    """Ban and unban as an operator would, headless; the effect is read back the way the
    bouncers read it (the LAPI's bouncer view), which is what the pane shows."""
    address = "203.0.113.77"
    _wpfarm(farm_file, "unban", address, "--yes")  # a leftover from an aborted run
    done = _wpfarm(farm_file, "ban", address, "--duration", "30m", "--reason",
                   "swarm test: xmlrpc bruteforce", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    bans = _status_json(farm_file)["panes"]["bans"]
    (ban,) = [b for b in bans["bans"] if b["value"] == address]
    assert ban["type"] == "ban" and "xmlrpc" in ban["reason"], ban
    done = _wpfarm(farm_file, "unban", address, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    bans = _status_json(farm_file)["panes"]["bans"]
    assert not [b for b in bans["bans"] if b["value"] == address], bans["bans"]


def _containers(swarmlab, node, service: str):
    with contextlib.closing(swarmlab.client(node)) as cli:
        return cli.containers.list(filters={"label": f"{SERVICE_LABEL}={service}"})


def _wait_running(swarmlab, node, service: str) -> None:
    _wait(f"{service} running again on {node.name}",
          lambda: [c for c in _containers(swarmlab, node, service) if c.status == "running"],
          timeout=120)


def test_a_killed_varnish_task_is_red_at_the_next_poll(farm_file, swarmlab):
    farm = load_farm(farm_file)
    node = NODES[1]
    collector = CachesCollector(farm)
    try:
        before = {v.name: v for v in collector.collect().varnish}
        assert before[f"varnish-{node.name}"].reachable
        (container,) = _containers(swarmlab, node, "cache_varnish")
        container.kill()
        after = {v.name: v for v in collector.collect().varnish}
        row = after[f"varnish-{node.name}"]
        assert not row.reachable and row.level is Level.CRITICAL, row
        assert "cache_varnish" in (row.error or ""), row.error
        # The other cache nodes are still shown live.
        assert all(v.reachable for name, v in after.items() if name != row.name), after
        # Swarm replaces the task; the console sees it back.
        _wait_running(swarmlab, node, "cache_varnish")
        _wait("varnish row back", lambda: {v.name: v for v in collector.collect().varnish}[
            row.name].reachable)
    finally:
        collector.close()


def test_the_redis_masters_task_stopped_is_red_at_the_next_poll(farm_file, swarmlab):
    farm = load_farm(farm_file)
    collector = CachesCollector(farm)
    try:
        snap = collector.collect()
        master = next(r for r in snap.redis if r.role == "master")
        instance = next(i for i in farm.endpoints.redis.instances if i.name == master.name)
        node = next(n for n in NODES if n.address == instance.host)
        service = f"redis_{instance.announce.partition(':')[0]}"
        (container,) = _containers(swarmlab, node, service)
        container.stop(timeout=1)
        after = collector.collect()
        row = next(r for r in after.redis if r.name == master.name)
        assert not row.reachable and row.level is Level.CRITICAL, row
        assert after.level is Level.CRITICAL
        _wait_running(swarmlab, node, service)
        _wait("the Redis instance back", lambda: next(
            r for r in collector.collect().redis if r.name == master.name).reachable)
    finally:
        collector.close()
    # Whatever Sentinel did meanwhile, it settles on one master that every Sentinel names.
    def settled():
        with contextlib.closing(CachesCollector(farm)) as c:
            s = c.collect()
        masters = [r.address for r in s.redis if r.role == "master"]
        named = {v.master_address for v in s.sentinels}
        return len(masters) == 1 and named == set(masters)
    _wait("one Redis master that every Sentinel names", settled, timeout=120, every=2)


def test_a_drained_node_shows_at_the_next_poll_and_comes_back(farm_file, swarmlab):
    farm = load_farm(farm_file)
    node = NODES[2]
    collector = NodesCollector(farm)
    with contextlib.closing(swarmlab.client()) as cli:
        swarm_node = next(n for n in cli.nodes.list()
                          if n.attrs["Description"]["Hostname"] == node.name)
        spec = dict(swarm_node.attrs["Spec"])
        try:
            assert {n.hostname: n for n in collector.collect().nodes}[node.name].level \
                is Level.OK
            swarm_node.update({**spec, "Availability": "drain"})
            row = {n.hostname: n for n in collector.collect().nodes}[node.name]
            assert row.availability == "drain" and row.level is not Level.OK, row
            # The services pinned to it lose their task: red once Swarm has stopped it.
            pinned = f"redis_sentinel-{node.index}"
            _wait(f"{pinned} at 0 running", lambda: next(
                s for s in collector.collect().services if s.name == pinned).level
                is Level.CRITICAL)
        finally:
            swarm_node.reload()
            swarm_node.update({**dict(swarm_node.attrs["Spec"]), "Availability": "active"})
        # Everything converges again (Galera's node rejoins) before the next test.
        def converged():
            snap = collector.collect()
            return all(s.running >= s.desired for s in snap.services) and all(
                n.level is Level.OK for n in snap.nodes)
        _wait("every service converged after the drain", converged, timeout=240, every=2)
    collector.close()


def test_visitors_traffic_from_the_edge_services_logs(farm_file):
    """`wpfarm traffic` on the Swarm reads edge_traefik's access log through the manager's
    API, as the bastion does: the requests sent meanwhile are counted for the site, with
    their cache verdicts, and nothing else is needed on the farm's side."""
    proc = subprocess.Popen([sys.executable, "-m", "wpfarm_tui", "--farm", str(farm_file),
                             "traffic", "--site", SITE, "--sample", "15", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(5)  # the follow is open before the first request (it reads from now on)
    sent = _edge_get(30)
    out, err = proc.communicate(timeout=90)
    assert out, err
    report = json.loads(out)
    assert report["source"]["state"] == "ok", report["source"]
    site = report["sites"][SITE]["m1"]
    print(f"\n{SITE} on the Swarm: {site}")
    assert site["requests"] >= len(sent), (site, sent)
    assert site["hit_pct"] is not None and site["hit_pct"] > 50, site  # repeated: cached
    assert site["p95_ms"] is not None and site["p95_ms"] > 0, site
