"""The Docker Engine API (docker SDK): Swarm nodes, services and their tasks."""

from __future__ import annotations

from collections import Counter
from typing import Any

import docker

from wpfarm_tui.inventory import DockerEndpoint, Farm
from wpfarm_tui.steps import ActionError


def client(endpoint: DockerEndpoint) -> docker.DockerClient:
    # use_ssh_client=False: paramiko, so known_hosts is honoured without a local ssh binary.
    return docker.DockerClient(base_url=endpoint.host, timeout=int(max(endpoint.timeout, 1)),
                               use_ssh_client=False)


def manager_client(farm: Farm) -> docker.DockerClient:
    """A client of the farm's manager that answered a ping; ActionError naming the field."""
    if farm.endpoints.docker is None:
        raise ActionError("endpoints.docker: missing in farm.yaml; Swarm actions talk to a "
                          "manager's Docker API")
    manager = None
    try:
        manager = client(farm.endpoints.docker)
        manager.ping()
        return manager
    except docker.errors.DockerException as exc:
        if manager is not None:  # an ssh:// client holds an SSH session: let it go
            manager.close()
        raise ActionError(f"endpoints.docker: {farm.endpoints.docker.host} does not answer "
                          f"({str(exc).splitlines()[0][:160]})") from None


def swarm_state(api: docker.APIClient) -> dict[str, Any]:
    """Nodes, services and the count of running tasks per service, in three API calls."""
    nodes = api.nodes()
    services = api.services()
    running: Counter[str] = Counter()
    for task in api.tasks(filters={"desired-state": "running"}):
        if task.get("Status", {}).get("State") == "running":
            running[task["ServiceID"]] += 1
    return {"nodes": nodes, "services": services, "running": running}
