"""Galera pane: every node's wsrep status, read concurrently."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from wpfarm_tui.farm.galera import GaleraConnections
from wpfarm_tui.inventory import GaleraEndpoint, HostPort
from wpfarm_tui.status.base import SourcePoll, probe, slow_health
from wpfarm_tui.status.model import GaleraNode, GaleraSnapshot, SourceHealth
from wpfarm_tui.status.rates import MINUTE, GraphSeries, Histories
from wpfarm_tui.status.thresholds import Level, Threshold, worst


def _int(v: str | None) -> int | None:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None


GALERA_COUNTERS = ("wsrep_last_committed", "wsrep_flow_control_paused_ns",
                   "wsrep_local_cert_failures", "wsrep_local_bf_aborts")


def node_from_status(node: HostPort, status: dict[str, str],
                     thresholds: dict[str, Threshold],
                     history: Histories | None = None) -> GaleraNode:
    """One node's status; with `history` (this poll recorded in it) the rates too, and the
    flow-control threshold applies to the last minute, not the fraction since start (an
    hour-old storm is not a current one)."""
    cluster_status = status.get("wsrep_cluster_status")
    local_state = status.get("wsrep_local_state_comment")
    paused = _float(status.get("wsrep_flow_control_paused"))
    flow_1m = None
    if history is not None:
        ns_per_s = history.rate(node.name, "wsrep_flow_control_paused_ns", MINUTE)
        flow_1m = dataclasses.replace(
            ns_per_s, value=None if ns_per_s.value is None else ns_per_s.value / 1e7)
    # With history only the window counts (none yet: no alarm from it); one-shot reads
    # (`wpfarm status`) have nothing but the fraction since start.
    paused_pct = (flow_1m.value if flow_1m is not None
                  else paused * 100 if paused is not None else None)
    max_conn = _int(status.get("max_connections")) or 0
    threads = _int(status.get("threads_connected"))
    conn_pct = round(100.0 * threads / max_conn, 1) if (threads is not None and max_conn) else None
    levels = [Level.OK]
    if cluster_status != "Primary":
        levels.append(Level.CRITICAL)  # a non-Primary node refuses writes
    if local_state != "Synced":
        levels.append(Level.WARNING)
    if status.get("wsrep_ready") != "ON":
        levels.append(Level.CRITICAL)
    levels.append(thresholds["galera_flow_control_paused"].level(paused_pct))
    levels.append(thresholds["db_connections"].level(conn_pct))
    return GaleraNode(
        name=node.name, address=node.address, reachable=True, error=None,
        cluster_status=cluster_status, local_state=local_state,
        cluster_size=_int(status.get("wsrep_cluster_size")),
        cluster_state_uuid=status.get("wsrep_cluster_state_uuid"),
        ready=status.get("wsrep_ready") == "ON",
        flow_control_paused=paused, recv_queue_avg=_float(status.get("wsrep_local_recv_queue_avg")),
        last_committed=_int(status.get("wsrep_last_committed")), connections_pct=conn_pct,
        level=worst([lv for lv in levels if lv is not Level.UNKNOWN]),
        commits_per_s=history.rate(node.name, "wsrep_last_committed") if history else None,
        flow_control_1m=flow_1m,
        cert_failures_per_s=(history.rate(node.name, "wsrep_local_cert_failures")
                             if history else None),
        bf_aborts_per_s=history.rate(node.name, "wsrep_local_bf_aborts") if history else None,
        send_queue=_int(status.get("wsrep_local_send_queue")),
        recv_queue=_int(status.get("wsrep_local_recv_queue")),
    )


class GaleraCollector:
    pane = "galera"

    def __init__(self, endpoint: GaleraEndpoint | None, thresholds: dict[str, Threshold],
                 patience: float | None = None):
        """`patience`: how long a poll waits for its slowest node once every node has
        answered once (status/base.py SourcePoll); None waits for every answer."""
        self.endpoint = endpoint
        self.thresholds = thresholds
        self.patience = patience
        self._db = GaleraConnections(endpoint) if endpoint else None
        workers = len(endpoint.nodes) if endpoint else 1
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="galera")
        self.history = Histories()  # counters between polls, for rates over windows
        self._poll: SourcePoll[str, tuple[GaleraNode, SourceHealth]] = SourcePoll(self._pool)

    def _slow(self, node: HostPort, seconds: float) -> tuple[GaleraNode, SourceHealth]:
        """A node still answering after the patience: its previous row, at least a warning,
        marked slow (not down: its own timeout decides that)."""
        health = slow_health(node.name, seconds)
        row = self._poll.last[node.name][0]
        return dataclasses.replace(row, level=max(row.level, Level.WARNING), health="slow",
                                   error=health.error), health

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._db is not None:
            self._db.close()

    def _one(self, node: HostPort) -> tuple[GaleraNode, SourceHealth]:
        assert self.endpoint is not None and self._db is not None
        db = self._db
        status, health = probe(node.name, lambda: db.node_status(node), self.endpoint.timeout)
        if status is None:
            return GaleraNode(node.name, node.address, False, health.error,
                              level=Level.CRITICAL, health=health.state), health
        self.history.record(node.name, {k: _int(status.get(k)) for k in GALERA_COUNTERS})
        return node_from_status(node, status, self.thresholds, self.history), health

    def graphs(self) -> list[GraphSeries]:
        """Per node: commits/s and the share of time paused by flow control."""
        out = []
        for node in self.endpoint.nodes if self.endpoint else ():
            out += [GraphSeries(f"{node.name} commits", "/s",
                                self.history.rate_series(node.name, "wsrep_last_committed")),
                    GraphSeries(f"{node.name} flow control paused", "%",
                                self.history.rate_series(
                                    node.name, "wsrep_flow_control_paused_ns", 1e-7),
                                "galera_flow_control_paused")]
        return out

    def collect(self) -> GaleraSnapshot:
        if self.endpoint is None:
            return GaleraSnapshot((SourceHealth("galera", "disabled", "no endpoints.galera"),))
        calls = {node.name: partial(self._one, node) for node in self.endpoint.nodes}
        done, pending = self._poll.gather(calls, self.patience)
        results = [done[n.name] if n.name in done else self._slow(n, pending[n.name])
                   for n in self.endpoint.nodes]
        nodes = tuple(r[0] for r in results)
        primary = [n for n in nodes if n.reachable and n.cluster_status == "Primary"]
        expected = len(self.endpoint.nodes)
        size = max((n.cluster_size or 0 for n in primary), default=None)
        if primary:
            status = "Primary"
        elif any(n.denied for n in nodes):
            status = "unknown"  # a node we may not read could be Primary: never say down
        else:
            status = "non-Primary" if any(n.reachable for n in nodes) else "down"
        levels = [n.level for n in nodes]
        if not primary:
            levels.append(Level.CRITICAL)
        elif size is not None and size < expected:
            levels.append(Level.WARNING)
        return GaleraSnapshot(tuple(r[1] for r in results), nodes, expected, size, status,
                              worst(levels))
