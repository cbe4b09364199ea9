"""Swarm procedures through the Docker Engine API: drain / activate a node, scale a
service, rolling restart, roll back to the previous spec; and a service's logs.

Each action looks the node or service up when it is built, so a typo is an
error naming the field and what exists, before anything is planned.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import docker

from wpfarm_tui.actions.base import ActionError, Step, StepEvent, Verdict
from wpfarm_tui.farm import docker as farm_docker
from wpfarm_tui.inventory import Farm

WAIT_S = 90.0
POLL_S = 0.5


def _client(farm: Farm) -> docker.DockerClient:
    if farm.endpoints.docker is None:
        raise ActionError("endpoints.docker: missing in farm.yaml; Swarm actions talk to a "
                          "manager's Docker API")
    try:
        client = farm_docker.client(farm.endpoints.docker)
        client.ping()
        return client
    except docker.errors.DockerException as exc:
        raise ActionError(f"endpoints.docker: {farm.endpoints.docker.host} does not answer "
                          f"({str(exc).splitlines()[0][:160]})") from None


def _node(client: docker.DockerClient, name: str) -> Any:
    nodes = client.nodes.list()
    for node in nodes:
        if name in (node.attrs["Description"]["Hostname"], node.id, node.id[:12]):
            return node
    known = ", ".join(sorted(n.attrs["Description"]["Hostname"] for n in nodes))
    raise ActionError(f"node: no Swarm node {name!r}; the nodes are: {known}")


def _service(client: docker.DockerClient, name: str) -> Any:
    try:
        return client.services.get(name)
    except docker.errors.NotFound:
        names = sorted(s.name for s in client.services.list())
        shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
        raise ActionError(f"service: no service {name!r}; services: {shown or 'none'}"
                          ) from None


def _running_on(client: docker.DockerClient, node_id: str) -> list[tuple[str, str]]:
    """(service name, task id) of the replicated tasks running on a node."""
    names = {s.id: s.name for s in client.services.list()}
    global_ids = {s.id for s in client.services.list() if "Global" in s.attrs["Spec"]["Mode"]}
    out = []
    for task in client.api.tasks(filters={"node": node_id, "desired-state": "running"}):
        if task["Status"]["State"] == "running" and task["ServiceID"] not in global_ids:
            out.append((names.get(task["ServiceID"], task["ServiceID"][:12]), task["ID"][:12]))
    return sorted(out)


def _converged(client: docker.DockerClient, service: Any) -> tuple[int, int]:
    service.reload()
    desired = service.attrs["Spec"]["Mode"].get("Replicated", {}).get("Replicas", 0)
    running = sum(1 for t in client.api.tasks(filters={"service": service.id,
                                                       "desired-state": "running"})
                  if t["Status"]["State"] == "running")
    return running, desired


class NodeAvailability:
    """Drain (tasks move elsewhere) or activate a node."""

    def __init__(self, farm: Farm, node: str, *, drain: bool):
        if not node.strip():
            raise ActionError("node: give the Swarm node's name (its hostname)")
        self.client = _client(farm)
        self.node = _node(self.client, node.strip())
        self.hostname = self.node.attrs["Description"]["Hostname"]
        self.drain = drain
        self.name = "node-drain" if drain else "node-activate"
        self.destructive = drain  # moves every workload off the node

    def describe(self) -> Mapping[str, Any]:
        return {"node": self.hostname, "availability": "drain" if self.drain else "active"}

    def plan(self) -> list[Step]:
        if not self.drain:
            return [Step(f"activate {self.hostname}", "it takes new tasks again")]
        moving = _running_on(self.client, self.node.id)
        steps = [Step(f"drain {self.hostname}", f"{len(moving)} task(s) move elsewhere", True)]
        steps += [Step(f"  move {service}", f"task {task}") for service, task in moving]
        active = [n for n in self.client.nodes.list()
                  if n.attrs["Spec"]["Availability"] == "active" and n.id != self.node.id]
        if not active:
            steps.append(Step("WARNING", "no other active node: the tasks will have nowhere "
                                         "to run"))
        return steps

    def run(self) -> Iterator[StepEvent]:
        step = f"{'drain' if self.drain else 'activate'} {self.hostname}"
        yield StepEvent("started", step)
        self.node.reload()
        spec = dict(self.node.attrs["Spec"])
        wanted = "drain" if self.drain else "active"
        if spec.get("Availability") == wanted:
            yield StepEvent("skipped", step, f"already {wanted}")
        else:
            spec["Availability"] = wanted
            self.node.update(spec)
            yield StepEvent("done", step, f"availability {wanted}")
        if not self.drain:
            return
        before = set(_running_on(self.client, self.node.id))
        deadline = time.monotonic() + WAIT_S
        left = before
        while left and time.monotonic() < deadline:
            time.sleep(POLL_S)
            now = set(_running_on(self.client, self.node.id))
            for service, task in sorted(left - now):
                yield StepEvent("output", f"move {service}", f"task {task} left the node")
            left = now
        if left:
            yield StepEvent("failed", "tasks moved", f"{len(left)} task(s) still running "
                            f"after {WAIT_S:.0f} s: {', '.join(s for s, _ in sorted(left))}")
        else:
            yield StepEvent("done", "tasks moved", f"{len(before)} task(s) off {self.hostname}")

    def verify(self) -> Verdict:
        self.node.reload()
        availability = self.node.attrs["Spec"]["Availability"]
        left = _running_on(self.client, self.node.id) if self.drain else []
        ok = availability == ("drain" if self.drain else "active") and not left
        return Verdict(ok, f"{self.hostname}: {availability}, {len(left)} replicated task(s) "
                           "still running there" if self.drain else
                           f"{self.hostname}: {availability}")


class _ServiceAction:
    name = "service"
    destructive = True

    def __init__(self, farm: Farm, service: str):
        if not service.strip():
            raise ActionError("service: give the service's name (e.g. wp_site-example-com)")
        self.client = _client(farm)
        self.service = _service(self.client, service.strip())

    def describe(self) -> Mapping[str, Any]:
        return {"service": self.service.name}

    def _wait(self, what: str, done: Any) -> Iterator[StepEvent]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if done():
                yield StepEvent("done", what)
                return
            time.sleep(POLL_S)
        running, desired = _converged(self.client, self.service)
        yield StepEvent("failed", what, f"not converged after {WAIT_S:.0f} s: {running}/"
                                        f"{desired} running; see `wpfarm service logs "
                                        f"{self.service.name}`")

    def verify(self) -> Verdict:
        running, desired = _converged(self.client, self.service)
        return Verdict(running == desired, f"{self.service.name}: {running}/{desired} running")


class ScaleService(_ServiceAction):
    name = "service-scale"
    destructive = False

    def __init__(self, farm: Farm, service: str, replicas: str | int):
        super().__init__(farm, service)
        try:
            self.replicas = int(replicas)
        except (TypeError, ValueError):
            raise ActionError(f"replicas: {replicas!r} is not a number. Fix: 0-100") from None
        if not 0 <= self.replicas <= 100:
            raise ActionError(f"replicas: {self.replicas} is out of range. Fix: 0-100")
        if "Replicated" not in self.service.attrs["Spec"]["Mode"]:
            raise ActionError(f"service: {self.service.name} is global (one task per node); "
                              "it cannot be scaled")

    def describe(self) -> Mapping[str, Any]:
        return {"service": self.service.name, "replicas": self.replicas}

    def plan(self) -> list[Step]:
        running, desired = _converged(self.client, self.service)
        return [Step(f"scale {self.service.name}", f"{desired} -> {self.replicas} replicas "
                                                   f"({running} running now)")]

    def run(self) -> Iterator[StepEvent]:
        step = f"scale {self.service.name}"
        yield StepEvent("started", step)
        self.service.scale(self.replicas)
        yield from self._wait(f"{self.replicas} running",
                              lambda: _converged(self.client, self.service) ==
                              (self.replicas, self.replicas))


def _update_state(service: Any) -> str | None:
    service.reload()
    return (service.attrs.get("UpdateStatus") or {}).get("State")


class RestartService(_ServiceAction):
    """A rolling restart: every task replaced, in the service's update order."""

    name = "service-restart"

    def plan(self) -> list[Step]:
        cfg = self.service.attrs["Spec"].get("UpdateConfig") or {}
        return [Step(f"restart {self.service.name}",
                     f"rolling, {cfg.get('Parallelism', 1)} at a time, order "
                     f"{cfg.get('Order', 'stop-first')}", True)]

    def run(self) -> Iterator[StepEvent]:
        yield StepEvent("started", f"restart {self.service.name}")
        self.service.force_update()
        # "completed" only: right after the call the status may not exist yet.
        yield from self._wait("rolled", lambda: _update_state(self.service) == "completed")


class RollbackService(_ServiceAction):
    """Back to the spec the service had before its last update (Swarm keeps one)."""

    name = "service-rollback"

    def __init__(self, farm: Farm, service: str):
        super().__init__(farm, service)
        if not self.service.attrs.get("PreviousSpec"):
            raise ActionError(f"service: {self.service.name} has no previous spec to roll "
                              "back to (it was never updated)")

    def plan(self) -> list[Step]:
        image = (self.service.attrs["PreviousSpec"]["TaskTemplate"]["ContainerSpec"]
                 .get("Image", "").split("@")[0])
        return [Step(f"roll back {self.service.name}", f"to its previous spec ({image})", True)]

    def run(self) -> Iterator[StepEvent]:
        yield StepEvent("started", f"roll back {self.service.name}")
        self.service.reload()
        api = self.client.api
        # docker-py has no rollback call: the Engine API's update with rollback=previous.
        url = api._url("/services/{0}/update", self.service.id)
        response = api._post_json(url, data=self.service.attrs["Spec"], params={
            "version": self.service.version, "rollback": "previous"})
        api._raise_for_status(response)
        yield from self._wait("rolled back",
                              lambda: _update_state(self.service) == "rollback_completed")


def service_logs(farm: Farm, service: str, tail: int = 100, follow: bool = False
                 ) -> Iterator[str]:
    """A service's log lines (all its tasks), optionally following."""
    client = _client(farm)
    svc = _service(client, service)
    for chunk in svc.logs(stdout=True, stderr=True, tail=tail, follow=follow, timestamps=True):
        yield chunk.decode(errors="replace").rstrip("\n")
