"""Swarm procedures on the real three-node Swarm: drain moves tasks off a node,
scale, rolling restart, rollback, logs; bad names get clear errors."""

from __future__ import annotations

import time
from contextlib import closing

import docker
import pytest

from wpfarm_tui.actions import ActionError, AuditLog, StepEvent, execute
from wpfarm_tui.actions.swarm import (
    NodeAvailability,
    RestartService,
    RollbackService,
    ScaleService,
    service_log_stream,
)
from wpfarm_tui.inventory import load_farm

pytestmark = pytest.mark.swarm
SERVICE = "drill-web"


@pytest.fixture(scope="module")
def drill(swarmlab, tmp_path_factory):
    """A plain 3-replica service from the lab's base image, pushed to the lab registry
    so every node can run it."""
    from wpfarm_tui.swarmlab.lab import BASE_IMAGE, REGISTRY

    image = f"{REGISTRY}/wpfarm/drill:1"
    with closing(swarmlab.client()) as client:
        client.images.get(BASE_IMAGE).tag(image)
        client.images.push(image)
        with pytest.raises(docker.errors.NotFound):
            client.services.get(SERVICE)
        client.services.create(
            image, ["sh", "-c", "echo hello-from-drill; exec sleep 100000"], name=SERVICE,
            mode=docker.types.ServiceMode("replicated", replicas=3),
            update_config=docker.types.UpdateConfig(parallelism=1, order="start-first"),
            endpoint_spec=docker.types.EndpointSpec(mode="dnsrr"),
            stop_grace_period=1_000_000_000)
        wait_running(client, 3)
    yield load_farm(swarmlab.farm_file), tmp_path_factory.mktemp("swarm-actions")
    with closing(swarmlab.client()) as client:
        client.services.get(SERVICE).remove()


def running_tasks(client) -> list[dict]:
    service = client.services.get(SERVICE)
    return [t for t in service.tasks(filters={"desired-state": "running"})
            if t["Status"]["State"] == "running"]


def wait_running(client, n: int, timeout: float = 90) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        tasks = running_tasks(client)
        if len(tasks) == n:
            return tasks
        assert time.monotonic() < deadline, f"{len(tasks)} of {n} running"
        time.sleep(0.5)


def run(action, tmp):
    items = list(execute(action, audit=AuditLog(tmp / "audit.log"), confirmed=True))
    return [i for i in items if isinstance(i, StepEvent)], items[-1]


def test_drain_moves_tasks_then_activate(swarmlab, drill):
    farm, tmp = drill
    with closing(swarmlab.client()) as client:
        node3 = next(n for n in client.nodes.list()
                     if n.attrs["Description"]["Hostname"] == "node3")
        action = NodeAvailability(farm, "node3", drain=True)
        assert action.destructive
        plan = action.plan()
        assert plan[0].name == "drain node3" and plan[0].destructive
        events, verdict = run(action, tmp)
        assert verdict.ok, events
        tasks = wait_running(client, 3)
        assert all(t["NodeID"] != node3.id for t in tasks)
        _, verdict = run(NodeAvailability(farm, "node3", drain=False), tmp)
        assert verdict.ok
        node3.reload()
        assert node3.attrs["Spec"]["Availability"] == "active"


def test_scale_then_rollback(swarmlab, drill):
    farm, tmp = drill
    _, verdict = run(ScaleService(farm, SERVICE, "4"), tmp)
    assert verdict.ok and verdict.summary.endswith("4/4 running")
    # The scale was an update: the previous spec (3 replicas) is what a rollback restores.
    _, verdict = run(RollbackService(farm, SERVICE), tmp)
    assert verdict.ok, verdict
    with closing(swarmlab.client()) as client:
        wait_running(client, 3)


def test_rolling_restart_replaces_every_task(swarmlab, drill):
    farm, tmp = drill
    with closing(swarmlab.client()) as client:
        before = {t["ID"] for t in wait_running(client, 3)}
        _, verdict = run(RestartService(farm, SERVICE), tmp)
        assert verdict.ok, verdict
        after = {t["ID"] for t in wait_running(client, 3)}
    assert not before & after


def test_logs_of_every_task(drill):
    farm, _ = drill
    lines = list(service_log_stream(farm, SERVICE, tail=20).lines())
    assert sum("hello-from-drill" in line for line in lines) >= 3


def test_bad_inputs_name_what_exists(drill):
    farm, _ = drill
    with pytest.raises(ActionError, match=r"no Swarm node 'node9'; the nodes are: node1"):
        NodeAvailability(farm, "node9", drain=True)
    with pytest.raises(ActionError, match=r"no service 'nope'; services: .*drill-web"):
        ScaleService(farm, "nope", 2)
    with pytest.raises(ActionError, match=r"replicas: 'many' is not a number"):
        ScaleService(farm, SERVICE, "many")
    with pytest.raises(ActionError, match=r"replicas: 500 is out of range"):
        ScaleService(farm, SERVICE, 500)
