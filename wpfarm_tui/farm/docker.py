"""The Docker Engine API (docker SDK): Swarm nodes, services and their tasks."""

from __future__ import annotations

from collections import Counter
from typing import Any

import docker

from wpfarm_tui.inventory import DockerEndpoint


def client(endpoint: DockerEndpoint) -> docker.DockerClient:
    # use_ssh_client=False: paramiko, so known_hosts is honoured without a local ssh binary.
    return docker.DockerClient(base_url=endpoint.host, timeout=int(max(endpoint.timeout, 1)),
                               use_ssh_client=False)


def swarm_state(api: docker.APIClient) -> dict[str, Any]:
    """Nodes, services and the count of running tasks per service, in three API calls."""
    nodes = api.nodes()
    services = api.services()
    running: Counter[str] = Counter()
    for task in api.tasks(filters={"desired-state": "running"}):
        if task.get("Status", {}).get("State") == "running":
            running[task["ServiceID"]] += 1
    return {"nodes": nodes, "services": services, "running": running}
