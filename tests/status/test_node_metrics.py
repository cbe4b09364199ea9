"""Node figures matched to Swarm nodes, coloured by the thresholds, and the metrics
source's firing rules shown beside the console's own checks, once (plain data: the lab
tests in test_node_metrics_lab.py read the real Prometheus)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.ui import fixtures as fx
from wpfarm_tui.farm.prometheus import FiringAlert
from wpfarm_tui.inventory import MetricsEndpoint
from wpfarm_tui.status.alerts import alerts_from
from wpfarm_tui.status.incidents import incidents_from
from wpfarm_tui.status.model import NodeMetrics, NodeRow, NodesSnapshot
from wpfarm_tui.status.node_metrics import NodeMetricsReader, instance_host, match_nodes
from wpfarm_tui.status.thresholds import DEFAULT_THRESHOLDS, Level


def _node(hostname: str, address: str) -> NodeRow:
    return NodeRow(f"id-{hostname}", hostname, "worker", "ready", "active", address, False, "")


@pytest.mark.parametrize(("instance", "host"), [
    ("10.0.0.5:9100", "10.0.0.5"), ("[fd00::5]:9100", "fd00::5"), ("db1", "db1"),
    ("db1.farm.internal:9100", "db1.farm.internal")])
def test_instance_host(instance: str, host: str) -> None:
    assert instance_host(instance) == host


def test_nodes_match_by_address_or_hostname_and_the_rest_stay_apart() -> None:
    nodes = [_node("mgr1", "10.0.0.11"), _node("db1", "10.0.0.21"), _node("cache1", "10.0.0.31")]
    figures = {
        "10.0.0.11:9100": NodeMetrics("10.0.0.11:9100", nodename="mgr1"),  # by address
        "node-exporter.3:9100": NodeMetrics("node-exporter.3:9100", nodename="db1.farm"),
        "10.9.9.9:9100": NodeMetrics("10.9.9.9:9100", nodename="stranger"),
    }
    matched, unmatched = match_nodes(nodes, figures)
    assert matched["id-mgr1"].instance == "10.0.0.11:9100"
    assert matched["id-db1"].instance == "node-exporter.3:9100"  # by uname
    assert "id-cache1" not in matched
    assert [m.name for m in unmatched] == ["stranger"]


def _snapshot(metrics: NodeMetrics | None, rules=()) -> NodesSnapshot:
    snap = fx.nodes_snapshot()
    node = replace(snap.nodes[0], metrics=metrics)
    return replace(snap, nodes=(node,), services=(), rule_alerts=tuple(rules))


def test_a_node_past_its_threshold_is_an_alert_and_no_series_is_said() -> None:
    hot = replace(fx.LAB_MGR1_METRICS, cpu_pct=95.0, disk_pct=88.0,
                  levels={"cpu": Level.CRITICAL, "memory": Level.OK, "disk": Level.CRITICAL})
    snap = _snapshot(hot)
    assert snap.nodes[0].level is Level.CRITICAL
    by_key = {a.key: a for a in alerts_from({"nodes": snap})}
    assert by_key["nodes/lab-mgr1 cpu"].message == "CPU 95 % over the last minute"
    assert by_key["nodes/lab-mgr1 disk"].message == "disk / 88 % used"
    quiet = _snapshot(None)
    assert quiet.metrics_note(None) == "no series" and quiet.nodes[0].level is Level.OK
    assert alerts_from({"nodes": quiet}) == []


def test_a_firing_rule_is_named_like_the_console_check_and_shown_once() -> None:
    reader = NodeMetricsReader(MetricsEndpoint("http://127.0.0.1:9"), DEFAULT_THRESHOLDS)
    hot = replace(fx.LAB_MGR1_METRICS, cpu_pct=95.0,
                  levels={"cpu": Level.CRITICAL, "memory": Level.OK, "disk": Level.OK})
    node = replace(fx.nodes_snapshot().nodes[0], metrics=hot)
    firing = [
        FiringAlert("wpfarm_cpu_critical", "firing",
                    {"instance": "127.0.0.1:16091", "severity": "critical", "threshold": "cpu"},
                    "CPU usage on 127.0.0.1:16091: 95% (> 90%)", ""),
        FiringAlert("wpfarm_memory_warning", "firing",
                    {"instance": "127.0.0.1:16091", "severity": "warning",
                     "threshold": "memory"}, "Memory usage on 127.0.0.1:16091: 80% (> 75%)",
                    ""),
        FiringAlert("GlusterBrickDown", "firing", {"severity": "critical"}, "a brick is down",
                    ""),
    ]
    rules = reader.rule_alerts(firing, [node], [])
    assert [r.subject for r in rules] == ["GlusterBrickDown", "lab-mgr1 cpu", "lab-mgr1 memory"]
    alerts = alerts_from({"nodes": _snapshot(hot, rules)})
    keys = [a.key for a in alerts]
    # The console's CPU check and the rule on the same node: one alert, not two.
    assert sorted(keys) == ["nodes/GlusterBrickDown", "nodes/lab-mgr1 cpu",
                            "nodes/lab-mgr1 memory"]
    memory = next(a for a in alerts if a.subject == "lab-mgr1 memory")
    assert memory.level is Level.WARNING and "rule wpfarm_memory_warning firing" in memory.message
    # And the incident view takes them as they are.
    assert incidents_from({"nodes": _snapshot(hot, rules)}, alerts, frozenset())


def test_a_recording_gives_the_figures_back_as_they_were() -> None:
    from wpfarm_tui.status.jsonable import jsonable
    from wpfarm_tui.status.model import RuleAlert
    from wpfarm_tui.status.recording import decode

    hot = replace(fx.LAB_MGR1_METRICS, cpu_pct=95.0,
                  levels={"cpu": Level.CRITICAL, "memory": Level.OK, "disk": Level.OK})
    snap = replace(_snapshot(hot, [RuleAlert("wpfarm_cpu_critical", Level.CRITICAL, "CPU",
                                             "lab-mgr1 cpu", "cpu")]),
                   unmatched=(NodeMetrics("10.0.0.9:9100", nodename="stray", cpu_pct=1.0),))
    assert decode(NodesSnapshot, jsonable(snap)) == snap
