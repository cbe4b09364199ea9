"""The Storage pane against the lab's real glusterd: a killed brick with files written
meanwhile (critical brick, pending heals), glusterd stopped (its source down within one
refresh), and the same gluster CLI over a real SSH server."""

from __future__ import annotations

import dataclasses
import time

import pytest

from tests.glusterlab import ScratchVolume, lab_glusterd
from wpfarm_tui.farm.gluster import GlusterClient, ssh_runner
from wpfarm_tui.inventory import Node, SshSettings
from wpfarm_tui.status.storage import StorageCollector
from wpfarm_tui.status.thresholds import Level

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    """Shared by the tests that leave it as they found it (a volume costs ~5 s)."""
    vol = ScratchVolume(lab_glusterd(), tmp_path_factory.mktemp("gluster")).create()
    yield vol
    vol.remove()


@pytest.fixture
def own_volume(tmp_path):
    vol = ScratchVolume(lab_glusterd(), tmp_path).create()
    yield vol
    vol.remove()


def test_a_healthy_volume_reads_ok_with_every_brick_and_the_mount(volume):
    snap = StorageCollector(volume.farm()).collect()
    assert snap.level == Level.OK, (snap.sources, snap.drift, snap.mounts)
    assert [b.brick for b in snap.bricks] == volume.bricks
    assert all(b.online and b.pid and b.port and b.free_bytes for b in snap.bricks)
    assert [b.pending for b in snap.bricks] == [0, 0, 0]
    assert snap.replica == 3 and snap.volume_status == "Started"
    assert [m.ok for m in snap.mounts] == [True]
    assert snap.alerts(time.time()) == []


def test_a_killed_brick_is_critical_and_files_written_meanwhile_are_pending(own_volume):
    volume = own_volume
    volume.kill(3)
    for i in range(10):
        (volume.mount / f"f{i}.txt").write_text(f"written while brick 3 was down {i}\n")
    snap = StorageCollector(volume.farm()).collect()
    by = {b.brick: b for b in snap.bricks}
    dead = by[volume.bricks[2]]
    assert dead.online is False and dead.pid is None and dead.level == Level.CRITICAL
    assert dead.pending is None  # gluster cannot ask a dead brick: "-", not 0
    for live in volume.bricks[:2]:
        assert by[live].pending and by[live].pending >= 10, by[live]
    assert snap.level == Level.CRITICAL
    procedures = {a.procedure for a in snap.alerts(time.time())}
    assert {"gluster-brick-start", "gluster-heal"} <= procedures


def test_an_option_changed_behind_the_farms_back_is_a_warning(volume):
    volume.client.command("volume", "set", volume.name, "network.ping-timeout", "42")
    farm = volume.farm()
    ep = dataclasses.replace(farm.endpoints.gluster, options={"network.ping-timeout": "10"})
    farm = dataclasses.replace(farm, endpoints=dataclasses.replace(farm.endpoints, gluster=ep))
    try:
        snap = StorageCollector(farm).collect()
    finally:
        volume.client.command("volume", "reset", volume.name, "network.ping-timeout")
    assert [(d.name, d.wanted, d.actual) for d in snap.drift] == [
        ("network.ping-timeout", "10", "42")]
    assert snap.level == Level.WARNING


def test_glusterd_stopped_is_shown_down_within_one_refresh(volume):
    lab = volume.lab
    farm = volume.farm()
    collector = StorageCollector(farm)
    lab.stop("glusterd")
    try:
        started = time.monotonic()
        snap = collector.collect()
        took = time.monotonic() - started
        assert snap.sources[0].name == "glusterd" and snap.sources[0].state == "down", \
            snap.sources
        assert snap.level == Level.CRITICAL
        assert took < farm.refresh.interval, took
    finally:
        lab.start("glusterd", progress=lambda _m: None)
    assert collector.collect().sources[0].ok


def test_the_gluster_cli_over_ssh_reads_the_same_volume(volume, sshd):
    node = Node("lab1", "127.0.0.1", SshSettings("root", 16222, sshd / "client_key",
                                                 sshd / "known_hosts"), frozenset({"storage"}))
    client = GlusterClient(ssh_runner(node), 10.0, "lab1")
    assert volume.name in [v.name for v in client.volumes()]
    assert [b.brick for b in client.status(volume.name)] == volume.bricks
