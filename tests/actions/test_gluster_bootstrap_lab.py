"""The GlusterFS bootstrap against the lab's real glusterd: run twice, the second run
changes nothing. Its SSH transport is not what is tested here: the runner runs each
command on this machine, which stands in for three storage nodes and one app node (the
same glusterd; bricks named per node). The commands are the ones sent over SSH."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import uuid

import pytest

from tests.glusterlab import lab_glusterd
from wpfarm_tui import programs
from wpfarm_tui.actions.base import AuditLog, execute
from wpfarm_tui.actions.bootstrap import GlusterBootstrap
from wpfarm_tui.inventory import GlusterEndpoint, Node, SshSettings, load_farm
from wpfarm_tui.lab.gluster import brick_host
from wpfarm_tui.status.storage import StorageCollector
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.steps import Verdict

pytestmark = pytest.mark.lab


def here(node: Node, command: str, stdin: str | None) -> tuple[int, str, str]:
    done = subprocess.run(["sh", "-c", command], input=stdin, capture_output=True, text=True,
                          timeout=120)
    return done.returncode, done.stdout, done.stderr


def test_bootstrap_twice_the_second_run_changes_nothing(tmp_path):
    lab = lab_glusterd()
    host = brick_host()
    volume = f"b{uuid.uuid4().hex[:8]}"
    nodes = (*(Node(f"data{i}", host, SshSettings(), frozenset({"storage"})) for i in (1, 2, 3)),
             Node("app1", host, SshSettings(), frozenset({"worker"})))
    farm = load_farm(lab.farm_file)
    ep = GlusterEndpoint(volume, mount=str(tmp_path / "mnt"), mount_nodes=("app1",),
                         options={"network.ping-timeout": "10", "cluster.quorum-type": "auto"},
                         timeout=10.0)
    farm = dataclasses.replace(farm, nodes=nodes,
                               endpoints=dataclasses.replace(farm.endpoints, gluster=ep))
    fstab = tmp_path / "fstab"
    fstab.write_text("# a test's own fstab\n")
    bricks = lab.gluster_dir / "bootstrap-bricks"

    def bootstrap() -> tuple[GlusterBootstrap, Verdict]:
        action = GlusterBootstrap(farm, here, fstab=str(fstab), force_bricks=True,
                                  brick_root=str(bricks))
        verdict = list(execute(action, audit=AuditLog()))[-1]
        assert isinstance(verdict, Verdict)
        return action, verdict

    try:
        first, verdict = bootstrap()
        assert verdict.ok, verdict
        assert any("created" in c for c in first.changes), first.changes
        assert any("mounted" in c for c in first.changes), first.changes
        assert fstab.read_text().count(f"{host}:/{volume} ") == 1
        second, verdict = bootstrap()
        assert verdict.ok, verdict
        assert second.changes == [], second.changes
        assert fstab.read_text().count(f"{host}:/{volume} ") == 1
        # The pane checks app1's mount over SSH, which this machine has not: read it here.
        local = dataclasses.replace(farm, endpoints=dataclasses.replace(
            farm.endpoints, gluster=dataclasses.replace(ep, mount_nodes=())))
        snap = StorageCollector(local).collect()
        assert snap.level == Level.OK, (snap.sources, snap.drift, snap.mounts)
        assert len(snap.bricks) == 3 and snap.replica == 3
    finally:
        subprocess.run([programs.path("umount"), "-l", str(tmp_path / "mnt")],
                       capture_output=True)
        for args in (("volume", "stop", volume, "force"), ("volume", "delete", volume)):
            subprocess.run([programs.path("gluster"), "--mode=script", *args],
                           capture_output=True, timeout=60)
        shutil.rmtree(bricks / volume, ignore_errors=True)
