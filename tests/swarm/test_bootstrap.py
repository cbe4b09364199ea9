"""`wpfarm bootstrap` against three bare nodes: sshd + dockerd in network namespaces,
no swarm yet. Runs before the deploy e2e (file order), on the same lab, torn down after."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import keygen
from tests.needs import unavailable
from wpfarm_tui.actions import AuditLog, StepEvent, Verdict, execute
from wpfarm_tui.actions.bootstrap import GENERATED_SECRETS, BootstrapAction, ssh_runner
from wpfarm_tui.inventory import SshSettings, load_farm
from wpfarm_tui.stacks.render import NETWORKS

pytestmark = pytest.mark.swarm


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    from wpfarm_tui.swarmlab import SwarmLab, SwarmLabError
    from wpfarm_tui.swarmlab.lab import NODES

    lab = SwarmLab()
    try:
        lab.down(purge=True, progress=lambda _m: None)  # from scratch: no swarm anywhere
        lab.up(progress=lambda _m: None, swarm=False, sshd=True)
    except (SwarmLabError, OSError) as exc:
        unavailable(f"bare-node lab not available: {exc}")
    tmp = tmp_path_factory.mktemp("bootstrap")
    known = tmp / "known_hosts"
    known.write_text("".join(
        f"{n.address} {' '.join(lab.host_key(n).with_suffix('.pub').read_text().split()[:2])}\n"
        for n in NODES))
    yield lab, load_farm(lab.farm_file), known, tmp
    lab.down(purge=True, progress=lambda _m: None)


def run(action, tmp: Path) -> tuple[list[StepEvent], Verdict]:
    items = list(execute(action, audit=AuditLog(tmp / "audit.log")))
    return [i for i in items if isinstance(i, StepEvent)], items[-1]


def swarm_nodes(lab) -> list[dict]:
    with closing(lab.client()) as client:
        return client.api.nodes()


def with_node(farm, name: str, **changes):
    nodes = tuple(dataclasses.replace(n, **changes) if n.name == name else n
                  for n in farm.nodes)
    return dataclasses.replace(farm, nodes=nodes)


def test_dry_run_plans_and_changes_nothing(bare):
    lab, farm, known, tmp = bare
    action = BootstrapAction(farm, ssh_runner(30, known), secrets_dir=tmp / "secrets")
    items = list(execute(action, audit=AuditLog(tmp / "audit.log"), dry_run=True))
    names = [i.name for i in items]
    assert "node1: swarm init" in names and "node2: join as manager" in names
    with closing(lab.client()) as client:
        assert client.info()["Swarm"]["LocalNodeState"] == "inactive"


def test_unreachable_node_fails_clearly_and_others_bootstrap(bare):
    lab, farm, known, tmp = bare
    broken = with_node(farm, "node3", address="10.99.0.99")  # nothing answers there
    events, verdict = run(BootstrapAction(broken, ssh_runner(5, known),
                                          secrets_dir=tmp / "secrets"), tmp)
    failed = [e for e in events if e.kind == "failed"]
    assert any(e.step == "node3: join" and "10.99.0.99" in e.message for e in failed), failed
    assert not verdict.ok
    assert len(swarm_nodes(lab)) == 2  # node1 and node2 are in, node3 was not touched


def test_full_bootstrap_then_nothing_to_change(bare):
    lab, farm, known, tmp = bare
    action = BootstrapAction(farm, ssh_runner(30, known), secrets_dir=tmp / "secrets")
    events, verdict = run(action, tmp)
    assert verdict.ok, [e for e in events if e.kind == "failed"]
    nodes = swarm_nodes(lab)
    assert len(nodes) == 3 and all(n["Status"]["State"] == "ready" for n in nodes)
    assert all(n["Spec"]["Role"] == "manager" for n in nodes)
    labels = {n["Description"]["Hostname"]: n["Spec"].get("Labels", {}) for n in nodes}
    assert labels["node1"]["wpfarm.role.db"] == "true" and labels["node2"]["wpfarm.galera"]
    with closing(lab.client()) as client:
        networks = {n.name for n in client.networks.list()}
        secrets = {s.name for s in client.secrets.list()}
        tokens = client.swarm.attrs["JoinTokens"]
    assert set(NETWORKS) <= networks and set(GENERATED_SECRETS) <= secrets
    # The registry service exists with its port; no image can be pulled on this machine, so
    # its task stays pending here (in a farm with internet it starts).
    with closing(lab.client()) as client:
        registry = client.services.get("wpfarm-registry").attrs["Spec"]
    assert registry["EndpointSpec"]["Ports"][0]["PublishedPort"] == 5000
    assert "node.role==manager" in registry["TaskTemplate"]["Placement"]["Constraints"]
    # Join tokens and secret values never appear in events or the audit log.
    text = json.dumps([e.__dict__ for e in events]) + (tmp / "audit.log").read_text()
    assert tokens["Manager"] not in text and tokens["Worker"] not in text
    copy = tmp / "secrets" / "redis_password"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600 and copy.read_text() not in text

    # A second run changes nothing: every step is skipped.
    events, verdict = run(action, tmp)
    assert verdict.ok
    assert [e.step for e in events if e.kind == "done"] == [], events


def test_wrong_key_and_changed_host_key_are_refused(bare):
    lab, farm, known, tmp = bare
    keygen(tmp / "stranger")
    wrong = with_node(farm, "node2", ssh=SshSettings("root", 22, tmp / "stranger"))
    events, verdict = run(BootstrapAction(wrong, ssh_runner(10, known), only=("node2",),
                                          secrets_dir=tmp / "secrets"), tmp)
    assert any("key was refused" in e.message for e in events if e.kind == "failed"), events

    forged = tmp / "forged_known_hosts"
    keygen(tmp / "other_host")
    other = " ".join((tmp / "other_host.pub").read_text().split()[:2])
    forged.write_text(known.read_text().replace(
        known.read_text().splitlines()[2].split(" ", 1)[1], other))
    events, verdict = run(BootstrapAction(farm, ssh_runner(10, forged), only=("node3",),
                                          secrets_dir=tmp / "secrets"), tmp)
    assert any("CHANGED" in e.message for e in events if e.kind == "failed"), events
    # The swarm is as it was.
    assert len(swarm_nodes(lab)) == 3


def test_cli_json_has_no_tokens(bare):
    lab, farm, known, tmp = bare
    done = subprocess.run(
        [sys.executable, "-m", "wpfarm_tui", "--farm", str(lab.farm_file), "bootstrap",
         "--known-hosts", str(known), "--secrets-dir", str(tmp / "secrets"), "--json"],
        capture_output=True, text=True, timeout=300, env={**os.environ,
                                                         "WPFARM_AUDIT_LOG": str(tmp / "a.log")})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with closing(lab.client()) as client:
        tokens = client.swarm.attrs["JoinTokens"]
    assert tokens["Manager"] not in done.stdout and tokens["Worker"] not in done.stdout
    assert json.loads(done.stdout.splitlines()[-1])["type"] == "verdict"
