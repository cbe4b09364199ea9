"""Swarm procedures through the Docker Engine API: drain / activate a node, scale a
service, rolling restart, roll back to the previous spec; and a service's logs.

Each action looks the node or service up when it is built, so a typo is an
error naming the field and what exists, before anything is planned.
"""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from wpfarm_tui import programs
from wpfarm_tui.actions.base import ActionError, Step, StepEvent, Verdict
from wpfarm_tui.farm.docker import manager_client
from wpfarm_tui.farm.logs import ServiceLogStream
from wpfarm_tui.farm.ssh import default_known_hosts
from wpfarm_tui.inventory import Farm

WAIT_S = 90.0
POLL_S = 0.5


def _local_program(name: str, purpose: str) -> str:
    try:
        return programs.path(name, purpose)
    except programs.MissingPrograms as exc:
        raise ActionError(str(exc)) from None


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
        self.client = manager_client(farm)
        try:
            self.node = _node(self.client, node.strip())
        except BaseException:
            self.client.close()
            raise
        self.hostname = self.node.attrs["Description"]["Hostname"]
        self.drain = drain
        self.name = "node-drain" if drain else "node-activate"
        self.destructive = drain  # moves every workload off the node

    def close(self) -> None:
        """`execute` calls it when the run is over (an ssh:// client holds an SSH session)."""
        self.client.close()

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
        self.client = manager_client(farm)
        try:
            self.service = _service(self.client, service.strip())
        except BaseException:
            self.client.close()
            raise

    def close(self) -> None:
        """`execute` calls it when the run is over (an ssh:// client holds an SSH session)."""
        self.client.close()

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


def service_log_stream(farm: Farm, service: str, tail: int = 100, follow: bool = False
                       ) -> ServiceLogStream:
    """A service's log lines (all its tasks), optionally following; close() stops it."""
    client = manager_client(farm)
    try:
        svc = _service(client, service.strip())
    except BaseException:
        client.close()
        raise
    return ServiceLogStream(client.api, svc.id, svc.name, tail=tail, follow=follow,
                            owner=client)


# In the task: bash where the image has it, else sh (busybox and slim images).
IN_TASK_SHELL = "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi"


@dataclass(frozen=True)
class TaskShell:
    """How to open an interactive shell in one running task of a service."""

    service: str
    task: str
    node: str
    argv: tuple[str, ...]

    def describe(self) -> dict[str, str]:
        return {"service": self.service, "task": self.task, "node": self.node}


def task_shell(farm: Farm, service: str, slot: int | None = None,
               known_hosts: Path | None = None) -> TaskShell:
    """Find a running task of `service` (slot `slot`, else the first) and the command that
    opens a shell in its container: `docker exec -it` against the manager when the task
    runs there, else over `ssh -t` to the task's node (host key checked against
    known_hosts, never accepted blindly). The terminal work is the docker CLI's and
    ssh's: both are kept up to date by the distribution, unlike a hand-made TTY bridge."""
    with contextlib.closing(manager_client(farm)) as client:
        return _task_shell(farm, client, service, slot, known_hosts)


def _task_shell(farm: Farm, client: docker.DockerClient, service: str, slot: int | None,
                known_hosts: Path | None) -> TaskShell:
    svc = _service(client, service.strip())
    tasks = [t for t in client.api.tasks(filters={"service": svc.id, "desired-state": "running"})
             if t["Status"]["State"] == "running"]
    if slot is not None:
        tasks = [t for t in tasks if t.get("Slot") == slot]
    if not tasks:
        which = f" in slot {slot}" if slot is not None else ""
        raise ActionError(f"service: {svc.name} has no running task{which}; see "
                          f"`wpfarm service logs {svc.name}`")
    task = sorted(tasks, key=lambda t: t.get("Slot") or 0)[0]
    container = (task["Status"].get("ContainerStatus") or {}).get("ContainerID")
    if not container:
        raise ActionError(f"service: task {task['ID'][:12]} of {svc.name} has no container yet")
    node = client.nodes.get(task["NodeID"])
    hostname = node.attrs["Description"]["Hostname"]
    exec_argv = ["docker", "exec", "-it", container[:12], "sh", "-c", IN_TASK_SHELL]
    assert farm.endpoints.docker is not None  # _client checked it
    if task["NodeID"] == client.info()["Swarm"]["NodeID"]:
        argv = [_local_program("docker", "a shell in a task (`docker exec -it`)"), "--host",
                farm.endpoints.docker.host, *exec_argv[1:]]
    else:
        target = next((n for n in farm.nodes if hostname in (n.name, n.address)), None)
        if target is None:
            raise ActionError(f"node: the task runs on {hostname}, which is not among "
                              "farm.yaml's nodes: add it (name, address, ssh) to open a shell "
                              "there")
        hosts_file = known_hosts or target.ssh.known_hosts or default_known_hosts()
        argv = [_local_program("ssh", "a shell on the task's node"), "-t", "-o",
                "StrictHostKeyChecking=yes", "-o",
                f"UserKnownHostsFile={hosts_file}", "-p", str(target.ssh.port)]
        if target.ssh.key is not None:
            argv += ["-i", str(target.ssh.key), "-o", "IdentitiesOnly=yes"]
        # ssh joins its arguments into one remote command line: quote each.
        argv += [f"{target.ssh.user}@{target.address}", shlex.join(exec_argv)]
    return TaskShell(svc.name, task["ID"][:12], hostname, tuple(argv))
