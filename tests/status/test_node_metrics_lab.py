"""The Nodes pane's figures against the lab's real Prometheus and node-exporter: they match
what node-exporter itself reports, a bounded CPU burner moves the CPU column, and
Prometheus stopped mid-run is shown down at the next refresh while the Swarm still shows.

The lab (`wpfarm lab up`) runs prometheus-node-exporter on 127.0.0.1:16091 and a
Prometheus on 127.0.0.1:16090 scraping it every 2 s."""

from __future__ import annotations

import os
import re
import resource
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.load import cpu_burner
from wpfarm_tui.farm.prometheus import PrometheusClient, range_step
from wpfarm_tui.inventory import Farm
from wpfarm_tui.status.model import NodeMetrics, NodesSnapshot
from wpfarm_tui.status.nodes import NodesCollector
from wpfarm_tui.status.panes import BY_KEY, CollectorOptions

pytestmark = pytest.mark.lab

NODE_EXPORTER = "http://127.0.0.1:16091/metrics"
NOT_DISKS = r"tmpfs|ramfs|overlay|squashfs|nsfs|fuse\.lxcfs|autofs"  # farm/node_exporter.py
SCRAPE_S = 2.0


def _exporter() -> dict[str, list[tuple[dict[str, str], float]]]:
    """node-exporter's own answer, read directly: sample name -> [(labels, value)]."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(httpx.get(NODE_EXPORTER, timeout=5).text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def _one(exported: dict, name: str, **labels: str) -> float:
    return next(v for lab, v in exported[name] if all(lab.get(k) == x for k, x in labels.items()))


def _figures(collector: NodesCollector) -> tuple[NodesSnapshot, NodeMetrics]:
    snap = collector.collect()
    assert [s.state for s in snap.sources] == ["ok", "ok"], snap.sources
    assert len(snap.nodes) == 1 and not snap.unmatched, snap
    metrics = snap.nodes[0].metrics
    assert metrics is not None, "the lab's node-exporter is not matched to its Swarm node"
    return snap, metrics


@pytest.fixture
def collector(lab_farm: Farm):
    c = NodesCollector(lab_farm)
    deadline = time.monotonic() + 30  # a fresh lab: rates need two scrapes
    while True:
        snap = c.collect()
        m = snap.nodes[0].metrics if snap.nodes else None
        if m is not None and m.cpu_pct is not None and m.net_in_bps is not None:
            break
        assert time.monotonic() < deadline, f"no node figures after 30 s: {snap}"
        time.sleep(1)
    yield c
    c.close()


def test_figures_match_what_node_exporter_reports(collector: NodesCollector) -> None:
    snap, m = _figures(collector)
    exported = _exporter()
    # The Swarm node is matched to the exporter by its address (and uname).
    assert m.instance == "127.0.0.1:16091" and m.nodename == os.uname().nodename
    assert snap.nodes[0].address == "127.0.0.1"
    memory = 100 * (1 - _one(exported, "node_memory_MemAvailable_bytes")
                    / _one(exported, "node_memory_MemTotal_bytes"))
    assert m.memory_pct == pytest.approx(memory, abs=3)
    # The fullest of the node's disks (not tmpfs or an image's overlay), as the exporter
    # reports each: a container whose root is an overlay may have none.
    disks = {lab["mountpoint"]: 100 * (1 - _one(exported, "node_filesystem_avail_bytes",
                                                mountpoint=lab["mountpoint"]) / size)
             for lab, size in exported.get("node_filesystem_size_bytes", [])
             if size and not re.fullmatch(NOT_DISKS, lab["fstype"])}
    if not disks:
        assert m.disk_pct is None
    else:
        assert m.disk_pct == pytest.approx(max(disks.values()), abs=1)
        assert disks[m.disk_mount] == pytest.approx(m.disk_pct, abs=1)
    cores = len({lab["cpu"] for lab, _ in exported["node_cpu_seconds_total"]})
    assert cores == os.cpu_count()
    # The 1-minute load moves slowly (the kernel updates it every 5 s).
    assert m.load_per_core * cores == pytest.approx(_one(exported, "node_load1"), abs=0.5)
    assert 0 <= m.cpu_pct <= 100
    assert m.net_in_bps is not None and m.net_in_bps >= 0
    assert m.net_out_bps is not None and m.net_out_bps >= 0
    assert set(m.levels) >= {"cpu", "memory", "disk"}
    row = dict(snap.rows()[0][1])
    assert row["cpu%"] == m.cpu_pct and row["disk%"] == m.disk_pct


def test_a_bounded_cpu_burner_moves_the_cpu_column(collector: NodesCollector) -> None:
    _, before = _figures(collector)
    cores = os.cpu_count() or 1
    seconds = 15.0
    used_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # One busy loop per core, each stopping by itself after `seconds`.
    with cpu_burner(cores, seconds):
        time.sleep(seconds + 0.5)
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    burnt = (used.ru_utime - used_before.ru_utime) + (used.ru_stime - used_before.ru_stime)
    time.sleep(2 * SCRAPE_S + 0.5)  # two scrapes after the burn
    _, after = _figures(collector)
    # Busy over the last minute, all cores: at least the burners' own share of it, which
    # only a column that counts their CPU time can show.
    share = 100 * burnt / (60 * cores)
    assert burnt > 0.3 * seconds, f"the burners got {burnt:.1f} s of CPU"
    assert after.cpu_pct >= 0.8 * share, (
        f"CPU {before.cpu_pct:.1f} % -> {after.cpu_pct:.1f} %, burners {share:.1f} points")
    # On a quiet machine that bound is the column moving up. On a machine other work keeps
    # busy (this one is shared), the burners take that work's place and the others' own
    # swings are larger than the move: there the bound is what can be asserted.
    if before.cpu_pct <= 0.4 * share:
        assert after.cpu_pct - before.cpu_pct >= 0.4 * share


def test_prometheus_stopped_is_shown_down_at_the_next_refresh(lab, lab_farm: Farm) -> None:
    # The console's own collector (live: patience of one refresh).
    collector = BY_KEY["nodes"].build(lab_farm, CollectorOptions(live=True))
    try:
        assert collector.collect().metrics_health.ok
        lab.stop("prometheus")
        try:
            started = time.monotonic()
            snap = collector.collect()
            took = time.monotonic() - started
            assert snap.metrics_health.state == "down", snap.sources
            assert took < lab_farm.refresh.interval, f"{took:.2f} s"
            # The rest of the pane still shows: the Swarm's node and services.
            assert snap.sources[0].ok and snap.nodes and snap.services
            assert snap.metrics_note(snap.nodes[0].metrics) == "metrics down"
            assert any(a.key == "nodes/source/metrics" for a in _alerts(snap))
        finally:
            lab.start("prometheus", progress=lambda _m: None)
        deadline = time.monotonic() + 20
        while not (snap := collector.collect()).metrics_health.ok:
            assert time.monotonic() < deadline, snap.sources
            time.sleep(0.5)
    finally:
        collector.close()


def _alerts(snap: NodesSnapshot):
    from wpfarm_tui.status.alerts import alerts_from

    return alerts_from({"nodes": snap})


def test_no_metrics_endpoint_says_so_and_is_no_error(lab_farm: Farm) -> None:
    import dataclasses

    farm = dataclasses.replace(lab_farm, endpoints=dataclasses.replace(
        lab_farm.endpoints, metrics=None))
    collector = NodesCollector(farm)
    try:
        snap = collector.collect()
    finally:
        collector.close()
    assert snap.metrics_health.state == "disabled"
    assert snap.nodes and snap.metrics_note(snap.nodes[0].metrics) == "no metrics source"
    assert not [a for a in _alerts(snap) if "metrics" in a.key]


def test_range_query_gives_one_point_per_column(lab_farm: Farm) -> None:
    client = PrometheusClient(lab_farm.endpoints.metrics)
    try:
        end = time.time()
        step = range_step(60, 30)
        assert step == 2.0
        series = client.query_range("node_load1", end - 60, end, step)
        assert len(series) == 1 and series[0].labels["instance"] == "127.0.0.1:16091"
        times = [t for t, _ in series[0].points]
        assert 2 <= len(times) <= 31
        assert all(b - a == step for a, b in zip(times, times[1:], strict=False))
        assert client.query("1 + 1")[0].value == 2.0  # a scalar
    finally:
        client.close()


def test_wpfarm_nodes_headless(lab, capsys) -> None:
    import json

    from wpfarm_tui import cli

    rc = cli.main(["nodes", "--json", "--farm", str(lab.farm_file)])
    doc = json.loads(capsys.readouterr().out)
    assert rc == (2 if doc["level"] == "critical" else 0), doc
    assert [(s["name"], s["state"]) for s in doc["sources"]] == [
        ("docker", "ok"), ("metrics", "ok")], doc["sources"]
    metrics = doc["nodes"][0]["metrics"]
    assert metrics["instance"] == "127.0.0.1:16091", metrics
    assert 0 <= metrics["cpu_pct"] <= 100, metrics
    assert set(metrics["levels"]) >= {"cpu", "memory", "disk"}
    rc = cli.main(["nodes", "--farm", str(lab.farm_file)])
    text = capsys.readouterr().out
    assert "metrics: ok" in text and "cpu%" in text, text
    assert doc["nodes"][0]["hostname"] in text, text


def test_the_labs_prometheus_evaluates_the_farms_rules(lab_farm: Farm) -> None:
    from wpfarm_tui.status.thresholds import DEFAULT_THRESHOLDS

    client = PrometheusClient(lab_farm.endpoints.metrics)
    try:
        (group,) = client.rules()
        firing = client.alerts()
    finally:
        client.close()
    assert group["name"] == "wpfarm-lab"
    rules = {r["name"]: r for r in group["rules"]}
    assert len(rules) == 2 * len(DEFAULT_THRESHOLDS)
    # Evaluated by the real Prometheus without an error (a bad expression shows here).
    assert {r["health"] for r in rules.values()} <= {"ok", "unknown"}, [
        (n, r.get("lastError")) for n, r in rules.items() if r["health"] == "err"]
    # The lab farm's own threshold numbers, the ones its console colours with.
    limit = lab_farm.thresholds["cache_hit_ratio"].critical
    assert rules["wpfarm_cache_hit_ratio_critical"]["query"].endswith(f"< {limit:g}")
    assert all(a.labels.get("farm") == "lab" for a in firing)


async def test_g_on_the_nodes_pane_draws_range_queries_of_the_real_prometheus(
        lab_farm: Farm) -> None:
    from wpfarm_tui.app import WpfarmApp
    from wpfarm_tui.screens.graphs import GraphScreen

    collector = NodesCollector(lab_farm)
    try:
        collector.collect()  # the nodes the graphs are of
        app = WpfarmApp(lab_farm, [collector], poll=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("1", "g")
            await pilot.pause()
            assert isinstance(app.screen, GraphScreen)
            name = os.uname().nodename
            assert app.screen.plotted() == [f"{name} CPU", f"{name} memory", f"{name} disk",
                                            f"{name} load per core"]
            deadline = time.monotonic() + 10  # the range queries run in the background
            while not all(g.points for g in collector.graphs()):
                assert time.monotonic() < deadline, collector.graphs()
                await pilot.pause(0.2)
        cpu = collector.graphs()[0]
        assert cpu.threshold == "cpu" and all(0 <= v <= 100 for _, v in cpu.points)
        times = [t for t, _ in cpu.points]
        now = time.monotonic()
        assert now - 1800 - 60 <= times[0] and times[-1] <= now + 1
        steps = {round(b - a) for a, b in zip(times, times[1:], strict=False)}
        assert steps and all(s % 30 == 0 for s in steps), steps  # 30 minutes / 60 columns
    finally:
        collector.close()


@pytest.mark.parametrize("threshold", ["cpu", "memory", "disk", "db_connections",
                                       "replication_lag_s", "galera_flow_control_paused",
                                       "cache_hit_ratio"])
def test_the_rule_expressions_read_the_labs_exporters(lab_farm: Farm, threshold: str) -> None:
    # The rules' own expressions (without their limit) on the lab's real series: node-
    # exporter, the mysqld exporter on Galera and the Varnish exporter.
    from wpfarm_tui.stacks.rules import ALERT_EXPRESSIONS

    expr = ALERT_EXPRESSIONS[threshold][0]
    client = PrometheusClient(lab_farm.endpoints.metrics)
    try:
        deadline = time.monotonic() + 30  # a fresh lab: 10 s scrapes, rates need two
        while not (found := [s for s in client.query(expr) if s.value == s.value]):
            assert time.monotonic() < deadline, f"{threshold}: no value for {expr}"
            time.sleep(1)
    finally:
        client.close()
    assert all(s.value >= 0 for s in found), found
    if threshold in ("cache_hit_ratio", "db_connections"):
        assert all(s.value <= 100 for s in found), found
