"""Nodes & services pane: Swarm nodes and services from the Docker Engine API."""

from __future__ import annotations

from typing import Any

import docker

from wpfarm_tui.farm import docker as farm_docker
from wpfarm_tui.inventory import DockerEndpoint
from wpfarm_tui.status.base import probe
from wpfarm_tui.status.model import NodeRow, NodesSnapshot, ServiceRow, SourceHealth


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

    def __init__(self, endpoint: DockerEndpoint | None):
        self.endpoint = endpoint
        self._client: docker.DockerClient | None = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

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

    def collect(self) -> NodesSnapshot:
        if self.endpoint is None:
            return NodesSnapshot((SourceHealth("docker", "disabled", "no endpoints.docker"),))
        state, health = probe("docker", self._state, self.endpoint.timeout)
        if state is None:
            return NodesSnapshot((health,))
        nodes = tuple(sorted((_node_row(n) for n in state["nodes"]), key=lambda n: n.hostname))
        ready = sum(1 for n in nodes if n.state == "ready" and n.availability == "active")
        services = tuple(sorted(
            (_service_row(s, state["running"][s["ID"]], ready) for s in state["services"]),
            key=lambda s: s.name))
        return NodesSnapshot((health,), nodes, services)
