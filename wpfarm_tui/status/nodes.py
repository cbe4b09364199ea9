"""Nodes & services pane: Swarm nodes and services from the Docker Engine API, and each
node's CPU, memory, load, disk and network from the metrics source (status/node_metrics.py).

The two sources are polled side by side and fail apart: Docker down still shows every
node's figures (as series the Swarm does not list), the metrics source down still shows
the Swarm."""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker

from wpfarm_tui.farm import docker as farm_docker
from wpfarm_tui.inventory import Farm
from wpfarm_tui.status.base import SourcePoll, probe, slow_health
from wpfarm_tui.status.model import (
    METRICS_SOURCE,
    NodeRow,
    NodesSnapshot,
    ServiceRow,
    SourceHealth,
)
from wpfarm_tui.status.node_metrics import GRAPHS, NodeMetricsReader, match_nodes
from wpfarm_tui.status.rates import GraphSeries

GRAPH_REFRESH_S = 10.0  # the graphs' step is 30 s: a newer point every 10 s is plenty
GRAPH_IDLE_S = 5.0  # no graph view asked for this long: stop the range queries


def _node_row(raw: dict[str, Any]) -> NodeRow:
    spec, status, desc = raw.get("Spec", {}), raw.get("Status", {}), raw.get("Description", {})
    manager = raw.get("ManagerStatus") or {}
    return NodeRow(
        id=raw["ID"],
        hostname=desc.get("Hostname", raw["ID"][:12]),
        role=spec.get("Role", "?"),
        state=status.get("State", "unknown"),
        availability=spec.get("Availability", "?"),
        address=status.get("Addr", ""),
        leader=bool(manager.get("Leader")),
        engine_version=desc.get("Engine", {}).get("EngineVersion", ""),
        labels=tuple(sorted((spec.get("Labels") or {}).items())),
    )


def _service_row(raw: dict[str, Any], running: int, ready_nodes: int) -> ServiceRow:
    spec = raw.get("Spec", {})
    mode = spec.get("Mode", {})
    if "Replicated" in mode:
        kind, desired = "replicated", int(mode["Replicated"].get("Replicas", 0))
    else:
        kind, desired = "global", ready_nodes  # one task per eligible node
    image = spec.get("TaskTemplate", {}).get("ContainerSpec", {}).get("Image", "")
    return ServiceRow(
        id=raw["ID"], name=spec.get("Name", raw["ID"][:12]), mode=kind, desired=desired,
        running=running, image=image.split("@sha256:")[0], updated_at=raw.get("UpdatedAt", ""),
    )


class NodesCollector:
    pane = "nodes"

    def __init__(self, farm: Farm, patience: float | None = None):
        """`patience`: how long a poll waits for the metrics source before it shows the
        Swarm with the metrics' previous figures, marked slow (status/base.py SourcePoll);
        None waits for its answer or timeout."""
        self.endpoint = farm.endpoints.docker
        self.patience = patience
        self._client: docker.DockerClient | None = None
        self._metrics = (NodeMetricsReader(farm.endpoints.metrics, farm.thresholds)
                         if farm.endpoints.metrics else None)
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="nodes")
        self._poll: SourcePoll[str, Any] = SourcePoll(self._pool)
        # The graph view (`g`): range queries in the background while it is open.
        self._graph_names: dict[str, str] = {}  # instance -> the node's name in the pane
        self._graphs: list[GraphSeries] = []
        self._graphs_asked = self._graphs_at = -1e9
        self._graphs_running = threading.Lock()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._metrics is not None:
            self._metrics.close()
        self._pool.shutdown(wait=False)

    def _state(self) -> dict[str, Any]:
        assert self.endpoint is not None
        if self._client is None:
            self._client = farm_docker.client(self.endpoint)
        try:
            return farm_docker.swarm_state(self._client.api)
        except Exception:
            # Drop the connection so the next poll reconnects (dockerd may have restarted).
            self._client.close()
            self._client = None
            raise

    def _swarm(self) -> tuple[SourceHealth, tuple[NodeRow, ...], tuple[ServiceRow, ...]]:
        if self.endpoint is None:
            return SourceHealth("docker", "disabled", "no endpoints.docker"), (), ()
        state, health = probe("docker", self._state, self.endpoint.timeout)
        if state is None:
            return health, (), ()
        nodes = tuple(sorted((_node_row(n) for n in state["nodes"]), key=lambda n: n.hostname))
        ready = sum(1 for n in nodes if n.state == "ready" and n.availability == "active")
        services = tuple(sorted(
            (_service_row(s, state["running"][s["ID"]], ready) for s in state["services"]),
            key=lambda s: s.name))
        return health, nodes, services

    def collect(self) -> NodesSnapshot:
        if self._metrics is None:
            health, nodes, services = self._swarm()
            return NodesSnapshot((health, SourceHealth(METRICS_SOURCE, "disabled",
                                                       "no endpoints.metrics")), nodes, services)
        # Both sources at once: a refresh waits for the slower, not for the sum, and for a
        # hung metrics source no longer than its patience.
        swarm = self._pool.submit(self._swarm)
        done, pending = self._poll.gather({METRICS_SOURCE: self._metrics.read}, self.patience)
        health, nodes, services = swarm.result()
        if METRICS_SOURCE in done:
            figures, rules, metrics_health = done[METRICS_SOURCE]
        else:
            figures, rules, _ = self._poll.last[METRICS_SOURCE]
            metrics_health = slow_health(METRICS_SOURCE, pending[METRICS_SOURCE])
        matched, unmatched = match_nodes(nodes, figures)
        nodes = tuple(dataclasses.replace(n, metrics=matched.get(n.id)) for n in nodes)
        rule_alerts = self._metrics.rule_alerts(rules, nodes, unmatched)
        self._graph_names = {**{m.instance: m.name for m in unmatched},
                             **{n.metrics.instance: n.hostname for n in nodes if n.metrics}}
        self._maybe_refresh_graphs()
        return NodesSnapshot((health, metrics_health), nodes, services, unmatched, rule_alerts)

    def graphs(self) -> list[GraphSeries]:
        """Each node's CPU, memory, disk and load over the last 30 minutes, from the metrics
        source. Called by the graph view on the UI thread: it never waits on the network;
        the range queries run in the background while the view keeps asking (lines stay
        empty until the first answer)."""
        self._graphs_asked = time.monotonic()
        self._maybe_refresh_graphs()
        if self._graphs:
            return list(self._graphs)
        return [GraphSeries(f"{name} {title}", unit, (), threshold)
                for name in sorted(self._graph_names.values())
                for title, unit, _, threshold in GRAPHS]

    def _maybe_refresh_graphs(self) -> None:
        now = time.monotonic()
        if (self._metrics is None or not self._graph_names
                or now - self._graphs_asked > GRAPH_IDLE_S
                or now - self._graphs_at < GRAPH_REFRESH_S
                or not self._graphs_running.acquire(blocking=False)):
            return
        self._graphs_at = now
        names, metrics = dict(self._graph_names), self._metrics

        def refresh() -> None:
            try:
                self._graphs = metrics.ranges(names)
            except Exception:  # noqa: BLE001 - the pane's source row says why; keep the last
                pass
            finally:
                self._graphs_running.release()

        self._pool.submit(refresh)
