"""SwarmGaleraControl's pure parts: the service specs it sends, the job scripts (run here by
/bin/sh on a scratch datadir), the output markers and the node -> service mapping.

The specs start from what the deploy sends for the swarm lab's rendered db stack, so they
have the shape a real `docker service inspect` returns."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from wpfarm_tui.actions.catalog import Context
from wpfarm_tui.farm.galera_control import GaleraControlError, GraState, LabGaleraControl
from wpfarm_tui.farm.galera_swarm import (
    BOOTSTRAP_ENV,
    DATADIR,
    GRASTATE_SCRIPT,
    JOB_LABEL,
    RECOVERY_SHA,
    SAFE_SCRIPT,
    SAVED_LABEL,
    SPEC_LABEL,
    SwarmGaleraControl,
    datadir_mount,
    env_dict,
    job_name,
    job_spec,
    match_services,
    parse_job_output,
    scaled_spec,
    settled_spec,
    start_spec,
    wrap_script,
)
from wpfarm_tui.inventory import Farm, HostPort
from wpfarm_tui.stacks.deploy import Refs, load_stack, service_spec
from wpfarm_tui.swarmlab.farm import LabFarm
from wpfarm_tui.swarmlab.lab import SwarmLab

UUID = "e70c36d6-e9a4-11f1-bfaa-5ecfb23f02f2"


@pytest.fixture(scope="module")
def lab_farm(tmp_path_factory) -> LabFarm:
    """The swarm lab's farm rendered in a scratch directory (files only, no dockerd)."""
    root = tmp_path_factory.mktemp("swarmlab")
    lab = SwarmLab(root)
    lab._write_farm_file()
    lf = LabFarm(lab)
    lf.render()
    return lf


@pytest.fixture(scope="module")
def specs(lab_farm) -> dict[str, dict]:
    compose = lab_farm.render_dir / "docker" / "compose"
    stack = load_stack("db", compose / "mariadb.yml", lab_farm.override_dirs,
                       {"WPFARM_GALERA_BOOTSTRAP": ""})
    refs = Refs(networks={"wpfarm_db": "net1"}, secrets={}, configs={})
    return {short: service_spec(stack, short, svc, refs)
            for short, svc in stack.services.items()}


def _env(spec: dict) -> dict[str, str]:
    return env_dict(spec["TaskTemplate"]["ContainerSpec"]["Env"])


def test_the_lab_farm_file_names_the_galera_services(lab_farm, specs):
    farm = lab_farm.farm
    names = [n.name for n in farm.endpoints.galera.nodes]
    assert names == ["mariadb-1", "mariadb-2", "mariadb-3"]
    services = [{"Spec": s} for s in specs.values()]
    assert match_services(farm, services) == {n: f"db_{n}" for n in names}
    assert not farm.is_loopback_lab
    control = Context.for_farm(farm).galera_control
    assert isinstance(control, SwarmGaleraControl)  # built without touching the Swarm


def _renamed(farm: Farm, names: list[str]) -> Farm:
    galera = farm.endpoints.galera
    nodes = tuple(HostPort(name, n.host, n.port) for name, n in zip(names, galera.nodes,
                                                                     strict=True))
    return replace(farm, endpoints=replace(farm.endpoints, galera=replace(galera, nodes=nodes)))


def test_nodes_matched_by_db_node_name_or_address(lab_farm, specs):
    services = [{"Spec": s} for s in specs.values()]
    farm = _renamed(lab_farm.farm, ["node1", "node2", "node3"])  # WPFARM_GALERA_NODE
    assert match_services(farm, services) == {"node1": "db_mariadb-1", "node2": "db_mariadb-2",
                                              "node3": "db_mariadb-3"}
    farm = _renamed(lab_farm.farm, ["sql-a", "sql-b", "sql-c"])  # by the db node's address
    assert match_services(farm, services) == {"sql-a": "db_mariadb-1", "sql-b": "db_mariadb-2",
                                              "sql-c": "db_mariadb-3"}


def test_bootstrap_start_and_settle(specs):
    spec = specs["mariadb-2"]
    assert _env(spec)[BOOTSTRAP_ENV] == ""
    assert datadir_mount(spec)["Source"] == "db_mariadb-2-data"  # the lab's named volume
    pos = f"--wsrep-start-position={UUID}:678"
    started = start_spec(scaled_spec(spec, 0), ["--wsrep-new-cluster", pos])
    cs = started["TaskTemplate"]["ContainerSpec"]
    # The wrapper adds --wsrep-new-cluster itself, after its safe_to_bootstrap check.
    assert _env(started)[BOOTSTRAP_ENV] == "node2" == _env(started)["WPFARM_GALERA_NODE"]
    assert cs["Args"] == [pos]
    assert started["TaskTemplate"]["RestartPolicy"]["Condition"] == "none"
    assert started["Mode"] == {"Replicated": {"Replicas": 1}}
    assert started["Labels"][SPEC_LABEL] == RECOVERY_SHA  # a deploy would put it back
    assert json.loads(started["Labels"][SAVED_LABEL])["sha"] == spec["Labels"][SPEC_LABEL]

    # A second start (a re-run) starts from the saved spec: no arguments pile up.
    again = start_spec(started, [f"--wsrep-start-position={UUID}:700"])
    assert again["TaskTemplate"]["ContainerSpec"]["Args"] == [
        f"--wsrep-start-position={UUID}:700"]
    assert _env(again)[BOOTSTRAP_ENV] == ""
    assert again["Labels"][SAVED_LABEL] == started["Labels"][SAVED_LABEL]

    settled = settled_spec(again)
    assert settled["TaskTemplate"] == spec["TaskTemplate"]
    assert settled["Labels"] == spec["Labels"]
    assert settled["Mode"] == {"Replicated": {"Replicas": 1}}
    assert settled_spec(settled) is None  # nothing left to undo

    # A plain start after an unsettled recovery start is the stack's spec.
    plain = start_spec(scaled_spec(started, 0), [])
    assert plain["TaskTemplate"] == spec["TaskTemplate"] and SAVED_LABEL not in plain["Labels"]


def test_plain_start_changes_only_replicas(specs):
    spec = specs["mariadb-3"]
    started = start_spec(scaled_spec(spec, 0), [])
    assert started == {**spec, "Mode": {"Replicated": {"Replicas": 1}}}
    forced = start_spec(spec, [], force=True)  # replicas 1 already, its task failed
    assert forced["TaskTemplate"]["ForceUpdate"] == 1
    assert forced["Labels"] == spec["Labels"]


def test_bootstrap_needs_a_galera_service(specs):
    spec = json.loads(json.dumps(specs["mariadb-1"]))
    spec["TaskTemplate"]["ContainerSpec"]["Env"] = ["A=1"]
    with pytest.raises(GaleraControlError, match="WPFARM_GALERA_NODE"):
        start_spec(spec, ["--wsrep-new-cluster"])


def test_job_spec_runs_on_the_nodes_datadir(specs):
    spec = specs["mariadb-1"]
    name = job_name(spec["Name"], "recover")
    assert name.startswith("db_mariadb-1-recover-") and len(name) <= 63
    job = job_spec(spec, name, wrap_script("true"))
    task, cs = job["TaskTemplate"], job["TaskTemplate"]["ContainerSpec"]
    src = spec["TaskTemplate"]
    assert job["Mode"] == {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}
    assert task["RestartPolicy"]["Condition"] == "none"
    assert task["Placement"] == src["Placement"]
    assert "node.labels.wpfarm.galera == node1" in task["Placement"]["Constraints"]
    assert cs["Image"] == src["ContainerSpec"]["Image"]
    assert cs["Mounts"] == src["ContainerSpec"]["Mounts"]
    assert cs["Configs"] == src["ContainerSpec"]["Configs"]  # galera.cnf for --wsrep-recover
    assert cs["Command"][:2] == ["/bin/sh", "-c"] and cs["Healthcheck"] == {"Test": ["NONE"]}
    assert job["Labels"] == {JOB_LABEL: "db_mariadb-1"}
    assert "Networks" not in task and "EndpointSpec" not in job


def _run_job_script(body: str, datadir: Path) -> tuple[int, str]:
    script = wrap_script(body.replace(DATADIR, str(datadir)))
    out = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    parsed = parse_job_output("some log line before\n" + out)
    assert parsed is not None, out
    return parsed


def test_job_scripts_on_a_datadir(tmp_path):
    assert _run_job_script(GRASTATE_SCRIPT, tmp_path)[0] == 3  # never started
    assert _run_job_script(SAFE_SCRIPT, tmp_path)[0] == 3
    state = tmp_path / "grastate.dat"
    state.write_text(f"# GALERA saved state\nversion: 2.1\nuuid:    {UUID}\nseqno:   -1\n"
                     "safe_to_bootstrap: 0\n")
    rc, out = _run_job_script(GRASTATE_SCRIPT, tmp_path)
    assert rc == 0 and GraState.parse(out) == GraState(UUID, -1, False)
    rc, out = _run_job_script(SAFE_SCRIPT, tmp_path)
    assert rc == 0 and GraState.parse(out).safe_to_bootstrap
    assert GraState.parse(state.read_text()) == GraState(UUID, -1, True)
    state.write_text(f"uuid: {UUID}\nseqno: 5\n")  # an old file without the line
    _run_job_script(SAFE_SCRIPT, tmp_path)
    assert GraState.parse(state.read_text()) == GraState(UUID, 5, True)


def test_job_output_markers():
    assert parse_job_output("") is None
    assert parse_job_output(wrap_script("x").replace("echo ", "")) is None
    text = "__wpfarm_galera_begin__\nline 1\nline 2\n__wpfarm_galera_end__ 0\n"
    assert parse_job_output(text) == (0, "line 1\nline 2\n")
    assert parse_job_output(text.replace("end__ 0", "end__ 1").replace(
        "\n__wpfarm_galera_end__ 1", "")) is None  # cut off: not whole yet


def test_loopback_lab_keeps_its_control(tmp_path):
    from tests.ui.action_fixtures import action_farm

    farm = action_farm()
    assert farm.is_loopback_lab
    assert isinstance(Context.for_farm(farm).galera_control, LabGaleraControl)


def test_farm_without_docker_is_refused(lab_farm):
    farm = lab_farm.farm
    farm = replace(farm, endpoints=replace(farm.endpoints, docker=None))
    assert Context.for_farm(farm).galera_control is None
    with pytest.raises(GaleraControlError, match="endpoints.docker"):
        SwarmGaleraControl(farm)

