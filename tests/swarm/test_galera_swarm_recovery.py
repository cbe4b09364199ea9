"""Galera recovery on the three-node swarm lab: GaleraRecover / GaleraRejoin through
SwarmGaleraControl, the same procedures as on the loopback lab, against Swarm services.

A crash is made the hard way: `kill -9` of the mariadbd containers through each node's own
Docker (what a power cut does to the processes), then the services scaled to 0 inside
Swarm's 10 s restart delay, so Swarm does not restart them into a broken state by itself;
what is left is what a full crash leaves: every grastate.dat at seqno -1 and no node
answering."""

from __future__ import annotations

import time

import pytest

from tests.swarm.deploying import deploy_layers
from tests.swarm.galera_faults import crash_galera
from wpfarm_tui.actions import AuditLog, Step, StepEvent, Verdict, execute
from wpfarm_tui.actions.galera import GaleraRecover, GaleraRejoin, all_status
from wpfarm_tui.farm.galera import connect
from wpfarm_tui.farm.galera_control import GaleraControlError
from wpfarm_tui.farm.galera_swarm import (
    BOOTSTRAP_ENV,
    JOB_LABEL,
    SAVED_LABEL,
    SwarmGaleraControl,
    env_dict,
)

pytestmark = pytest.mark.swarm

NODES = ["mariadb-1", "mariadb-2", "mariadb-3"]


def _sql(farm, node: str, sql: str, args=None):
    endpoint = farm.endpoints.galera
    conn = connect(endpoint, next(n for n in endpoint.nodes if n.name == node))
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def _status(farm, node: str, var: str) -> str:
    return _sql(farm, node, "SHOW GLOBAL STATUS LIKE %s", (var,))[0][1]


def _run(action, tmp_path):
    """execute() with the time of each event, printed as the test's record."""
    t0 = time.monotonic()
    events, verdict = [], None
    for item in execute(action, audit=AuditLog(tmp_path / "audit.log"), confirmed=True):
        if isinstance(item, StepEvent):
            events.append(item)
            print(f"  {time.monotonic() - t0:6.1f} s [{item.kind}] {item.step} {item.message}")
        elif isinstance(item, Verdict):
            verdict = item
    return events, verdict, time.monotonic() - t0


def _specs(api) -> dict[str, dict]:
    return {n: api.inspect_service(f"db_{n}")["Spec"] for n in NODES}


def _assert_as_the_stack_defines(api, before: dict[str, dict], swarm_farm, tmp_path) -> None:
    after = _specs(api)
    for n in NODES:
        spec = after[n]
        env = env_dict(spec["TaskTemplate"]["ContainerSpec"].get("Env"))
        assert env[BOOTSTRAP_ENV] == "", (n, env)  # a restart joins, never bootstraps
        assert not spec["TaskTemplate"]["ContainerSpec"].get("Args"), n
        assert SAVED_LABEL not in spec["Labels"], n
        assert spec["TaskTemplate"] == before[n]["TaskTemplate"], n
        assert spec["Labels"] == before[n]["Labels"], n
        assert spec["Mode"] == {"Replicated": {"Replicas": 1}}, n
    assert not api.services(filters={"label": JOB_LABEL}), "a job was left behind"
    # ... and the deploy sees the stack's own spec on every Galera service.
    _a, items = deploy_layers(swarm_farm, tmp_path, "db", dry_run=True)
    ops = {i.name.split()[-1]: i.name.split()[0] for i in items
           if isinstance(i, Step) and "db_mariadb-" in i.name}
    assert ops and set(ops.values()) == {"unchanged"}, ops


@pytest.fixture
def galera(deployed, swarm_farm, swarmlab):
    """The farm, its Swarm control and the manager's API, with all three nodes Synced."""
    print(f"\ndeployed fixture: {', '.join(f'{k} {v:.0f} s' for k, v in deployed.items())}")
    farm = swarm_farm.farm
    cli = swarmlab.client()
    deadline = time.monotonic() + 120
    while True:  # Synced, and healthy for Swarm too (a task is "starting" until then)
        states = all_status(farm.endpoints.galera)
        healthy = [n for n in NODES if any(
            t["Status"]["State"] == "running" and t["DesiredState"] == "running"
            for t in cli.api.tasks(filters={"service": f"db_{n}"}))]
        if all(s and s.get("wsrep_local_state_comment") == "Synced" for s in states.values()) \
                and healthy == NODES:
            break
        assert time.monotonic() < deadline, ({n: s and s.get("wsrep_local_state_comment")
                                              for n, s in states.items()}, healthy)
        time.sleep(1)
    control = SwarmGaleraControl(farm)
    try:
        yield farm, control, cli.api
    finally:
        control.close()
        cli.close()


def _write_rows(farm, tag: str, per_node: int = 20) -> int:
    _sql(farm, "mariadb-1", "CREATE DATABASE IF NOT EXISTS wpfarm_scratch")
    _sql(farm, "mariadb-1", "CREATE TABLE IF NOT EXISTS wpfarm_scratch.rows "
                            "(id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(40))")
    writers = [n for n in NODES if all_status(farm.endpoints.galera)[n]]
    for n in writers:  # committed through every node that runs
        for _ in range(per_node):
            _sql(farm, n, "INSERT INTO wpfarm_scratch.rows (tag) VALUES (%s)", (tag,))
    return per_node * len(writers)


def _count(farm, node: str, tag: str) -> int:
    return _sql(farm, node, "SELECT COUNT(*) FROM wpfarm_scratch.rows WHERE tag=%s",
                (tag,))[0][0]


def test_rejoin_of_one_crashed_node(galera, swarm_farm, tmp_path):
    farm, control, api = galera
    before = _specs(api)
    with pytest.raises(GaleraControlError, match="is running"):
        control.recover_position("mariadb-1")  # never on a live datadir

    tag = f"rejoin-{time.time_ns()}"
    rows = _write_rows(farm, tag)
    crash_galera(swarm_farm, api, ["mariadb-3"])
    assert not control.is_running("mariadb-3")
    assert control.grastate("mariadb-3").seqno == -1
    # Writes wait until the others have evicted it (evs.suspect_timeout, 5 s by default).
    deadline = time.monotonic() + 60
    while _status(farm, "mariadb-1", "wsrep_cluster_size") != "2":
        assert time.monotonic() < deadline, "mariadb-3 still counted in the cluster"
        time.sleep(0.5)
    rows += _write_rows(farm, tag)  # while it is down: it must catch up

    # Not a full crash: the recovery refuses, and touches nothing.
    events, verdict, _t = _run(GaleraRecover(farm, control, journal=tmp_path / "j.json"),
                               tmp_path)
    assert not verdict.ok
    assert "wpfarm galera rejoin mariadb-3" in [e for e in events if e.kind == "failed"][0].message
    assert not control.is_running("mariadb-3")

    print("\nrejoin of mariadb-3 after kill -9:")
    events, verdict, took = _run(GaleraRejoin(farm, control, "mariadb-3"), tmp_path)
    print(f"rejoin took {took:.1f} s")
    assert verdict.ok, (verdict, [e for e in events if e.kind == "failed"])
    assert [e for e in events if e.step == "recover position mariadb-3" and e.kind == "done"]
    assert [e for e in events if e.step == "settle mariadb-3" and e.kind == "done"]
    assert _count(farm, "mariadb-3", tag) == rows
    _assert_as_the_stack_defines(api, before, swarm_farm, tmp_path)


def test_full_crash_recovery_keeps_rows_and_uuid(galera, swarm_farm, tmp_path):
    farm, control, api = galera
    before = _specs(api)
    tag = f"crash-{time.time_ns()}"
    rows = _write_rows(farm, tag)
    uuid = _status(farm, "mariadb-1", "wsrep_cluster_state_uuid")

    crash_galera(swarm_farm, api, NODES)
    assert not any(s.answered for s in all_status(farm.endpoints.galera).values())
    states = {n: control.grastate(n) for n in NODES}
    assert all(s and s.seqno == -1 and not s.safe_to_bootstrap for s in states.values()), states

    print("\nfull-crash recovery on the swarm lab:")
    events, verdict, took = _run(GaleraRecover(farm, control, journal=tmp_path / "j.json"),
                                 tmp_path)
    print(f"full-crash recovery on the swarm lab took {took:.1f} s")
    assert verdict.ok, (verdict, [e for e in events if e.kind == "failed"])
    assert not (tmp_path / "j.json").exists()
    for n in NODES:
        assert _status(farm, n, "wsrep_local_state_comment") == "Synced"
        assert _status(farm, n, "wsrep_cluster_size") == "3"
        assert _status(farm, n, "wsrep_cluster_state_uuid") == uuid
        assert _count(farm, n, tag) == rows
    # Every joiner started at its own recovered position (IST), none with nothing (SST).
    starts = [e for e in events if e.step.startswith("start ") and e.kind == "started"]
    assert len(starts) == 2 and all("--wsrep-start-position=" in e.message for e in starts)
    _assert_as_the_stack_defines(api, before, swarm_farm, tmp_path)
