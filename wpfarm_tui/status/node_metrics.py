"""Each node's figures from the metrics source, for the Nodes pane: one instant query per
figure (farm/node_exporter.py), grouped by the exporter's instance, matched to the Swarm's
nodes by address or hostname, coloured by the console's thresholds; and the rules firing
in the source, named the way the console names its own checks so the Alerts tab shows
each once (status/alerts.py de-duplicates by pane and subject)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from wpfarm_tui.farm import node_exporter
from wpfarm_tui.farm.prometheus import (
    FiringAlert,
    PrometheusClient,
    PrometheusError,
    Sample,
    range_step,
)
from wpfarm_tui.inventory import MetricsEndpoint
from wpfarm_tui.status.base import probe
from wpfarm_tui.status.model import (
    METRIC_THRESHOLDS,
    METRICS_SOURCE,
    NodeMetrics,
    NodeRow,
    RuleAlert,
    SourceHealth,
)
from wpfarm_tui.status.rates import KEEP_SECONDS, GraphSeries
from wpfarm_tui.status.thresholds import DEFAULT_THRESHOLDS, Level, Threshold

_SEVERITY = {"critical": Level.CRITICAL, "warning": Level.WARNING}
# What the graph view draws per node: (title, unit, query, threshold), one line each.
GRAPHS = (
    ("CPU", "%", node_exporter.CPU_PCT, "cpu"),
    ("memory", "%", node_exporter.MEMORY_PCT, "memory"),
    ("disk", "%", f"max by (instance) ({node_exporter.DISK_PCT})", "disk"),
    ("load per core", "", node_exporter.LOAD_PER_CORE, None),
)
GRAPH_WIDTH = 60  # columns of one plot in the graph view's two-wide grid at 120 columns


def instance_host(instance: str) -> str:
    """The host of an `instance` label: "10.0.0.5:9100" -> "10.0.0.5", "[::1]:9100" -> "::1",
    "db1" -> "db1"."""
    if instance.startswith("["):
        return instance[1:].split("]", 1)[0]
    host, sep, port = instance.rpartition(":")
    return host if sep and port.isdigit() and ":" not in host else instance


def _short(name: str) -> str:
    return name.split(".", 1)[0].lower()


def _is_node(node: NodeRow, instance: str, nodename: str | None) -> bool:
    host = instance_host(instance)
    if node.address and host == node.address:
        return True
    names = {_short(node.hostname)}
    return _short(host) in names or (nodename is not None and _short(nodename) in names)


def match_nodes(nodes: Iterable[NodeRow], figures: Mapping[str, NodeMetrics]
                ) -> tuple[dict[str, NodeMetrics], tuple[NodeMetrics, ...]]:
    """(Swarm node id -> its figures, the figures of no Swarm node). A node matches the
    series whose instance is its address, or whose host or uname is its hostname."""
    matched: dict[str, NodeMetrics] = {}
    used: set[str] = set()
    for node in nodes:
        for instance, m in figures.items():
            if instance not in used and _is_node(node, instance, m.nodename):
                matched[node.id] = m
                used.add(instance)
                break
    return matched, tuple(m for i, m in sorted(figures.items()) if i not in used)


def _finite(samples: list[Sample]) -> list[Sample]:
    return [s for s in samples if not math.isnan(s.value) and not math.isinf(s.value)]


def _levels(m: dict[str, Any], thresholds: Mapping[str, Threshold]) -> dict[str, Level]:
    """Only the figures the source has: a missing series is "no series", not a level."""
    out = {}
    for attr, name in METRIC_THRESHOLDS:
        if m.get(attr) is not None:
            out[name] = thresholds.get(name, DEFAULT_THRESHOLDS[name]).level(m[attr])
    return out


class NodeMetricsReader:
    def __init__(self, endpoint: MetricsEndpoint, thresholds: Mapping[str, Threshold]):
        self.endpoint = endpoint
        self.thresholds = thresholds
        self._client: PrometheusClient | None = None
        self._lock = threading.Lock()  # the poll and the graphs' range queries share it

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _connected(self) -> PrometheusClient:
        with self._lock:
            if self._client is None:
                self._client = PrometheusClient(self.endpoint)  # reads the auth secret
            return self._client

    def _figures(self) -> tuple[dict[str, NodeMetrics], list[FiringAlert] | None]:
        client = self._connected()
        raw: dict[str, dict[str, Any]] = {}
        for sample in _finite(client.query(node_exporter.UNAME)):
            if "instance" in sample.labels:
                raw.setdefault(sample.labels["instance"], {})["nodename"] = (
                    sample.labels.get("nodename"))
        for attr, expr in node_exporter.NODE_QUERIES.items():
            for sample in _finite(client.query(expr)):
                instance = sample.labels.get("instance")
                if instance is None:
                    continue
                m = raw.setdefault(instance, {})
                mount = sample.labels.get("mountpoint")
                if attr == "disk_pct":  # the fullest filesystem; "/" before a bind of it
                    key = (sample.value, -len(mount or ""))
                    if m.get(attr) is None or key > (m[attr], -len(m.get("disk_mount") or "")):
                        m[attr], m["disk_mount"] = sample.value, mount
                elif attr == "days_until_full":  # the soonest full
                    if m.get(attr) is None or sample.value < m[attr]:
                        m[attr], m["days_mount"] = sample.value, mount
                elif attr == "cpu_pct":  # rate()'s extrapolation can step past 0 or 100
                    m[attr] = min(100.0, max(0.0, sample.value))
                else:
                    m[attr] = sample.value
        figures = {i: NodeMetrics(instance=i, levels=_levels(m, self.thresholds), **m)
                   for i, m in raw.items() if set(m) - {"nodename"}}
        try:
            firing = [a for a in client.alerts() if a.state == "firing"]
        except (PrometheusError, httpx.HTTPStatusError):
            firing = None  # a source without a ruler (Mimir's may be off): figures only
        return figures, firing

    def read(self) -> tuple[dict[str, NodeMetrics], list[FiringAlert] | None, SourceHealth]:
        """Every node's figures and the firing alerts; a failure is the SourceHealth."""
        result, health = probe(METRICS_SOURCE, self._figures, self.endpoint.timeout)
        if result is None:
            self.close()  # reconnect next time: the server may come back elsewhere
            return {}, None, health
        return result[0], result[1], health

    def ranges(self, names: Mapping[str, str], width: int = GRAPH_WIDTH
               ) -> list[GraphSeries]:
        """The last 30 minutes of each node's figures (range queries, one point per column
        of a plot), times on the monotonic clock the graph view draws with."""
        client = self._connected()
        end = time.time()
        to_monotonic = time.monotonic() - end
        step = range_step(KEEP_SECONDS, width)
        by_node: dict[str, list[GraphSeries]] = {name: [] for name in names.values()}
        for title, unit, expr, threshold in GRAPHS:
            found = {s.labels.get("instance"): s for s in client.query_range(
                expr, end - KEEP_SECONDS, end, step)}
            for instance, name in names.items():
                series = found.get(instance)
                points = tuple((t + to_monotonic, v) for t, v in series.points
                               if math.isfinite(v)) if series else ()
                by_node[name].append(GraphSeries(f"{name} {title}", unit, points, threshold))
        return [g for name in sorted(by_node) for g in by_node[name]]

    def rule_alerts(self, firing: list[FiringAlert] | None, nodes: Iterable[NodeRow],
                    unmatched: Iterable[NodeMetrics]) -> tuple[RuleAlert, ...]:
        """The firing rules, each named as the console names the same check: "<node>
        <threshold>" for a node's threshold (our rules' `threshold` label)."""
        if not firing:
            return ()
        nodes, unmatched = list(nodes), list(unmatched)
        out = []
        for a in firing:
            instance = a.labels.get("instance")
            name = instance
            if instance is not None:
                node = next((n for n in nodes if _is_node(
                    n, instance, n.metrics.nodename if n.metrics else None)), None)
                other = next((m for m in unmatched if m.instance == instance), None)
                name = node.hostname if node else other.name if other else instance
            threshold = a.labels.get("threshold")
            subject = " ".join(p for p in (name, threshold or a.name) if p)
            out.append(RuleAlert(a.name, _SEVERITY.get(a.labels.get("severity", ""), Level.OK),
                                 a.summary, subject, threshold))
        return tuple(sorted(out, key=lambda r: (r.subject, -r.level)))
