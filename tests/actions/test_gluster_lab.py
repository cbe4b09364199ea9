"""GlusterFS procedures against the lab's real glusterd, each on a scratch volume of its
own: heal brings pending entries to 0, brick-start brings a killed brick back and heals
it, and a split-brain made on purpose is resolved by each policy."""

from __future__ import annotations

import os
import time

import pytest

from tests.glusterlab import ScratchVolume, lab_glusterd, wait_for
from wpfarm_tui.actions.base import ActionError, AuditLog, execute
from wpfarm_tui.actions.gluster import GlusterBrickStart, GlusterHeal, GlusterSplitBrain
from wpfarm_tui.status.storage import StorageCollector
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.steps import Verdict

pytestmark = pytest.mark.lab

# What makes a split-brain possible at all: no client quorum (a lone brick takes writes)
# and no healing behind the test's back (self-heal daemon, client-side heals).
NO_GUARDS = {"cluster.quorum-type": "none", "cluster.self-heal-daemon": "off",
             "cluster.data-self-heal": "off", "cluster.metadata-self-heal": "off",
             "cluster.entry-self-heal": "off"}


def _run(action, confirmed: bool = False) -> Verdict:
    out = list(execute(action, audit=AuditLog(), confirmed=confirmed))
    verdict = out[-1]
    assert isinstance(verdict, Verdict), out
    return verdict


@pytest.fixture
def volume(tmp_path):
    vol = ScratchVolume(lab_glusterd(), tmp_path).create()
    yield vol
    vol.remove()


def test_heal_brings_the_entries_written_while_a_brick_was_down_to_zero(volume):
    volume.kill(2)
    for i in range(10):
        (volume.mount / f"h{i}.txt").write_text(f"heal me {i}\n")
    assert sum(b.entries or 0 for b in volume.client.heal_info(volume.name)) >= 10
    volume.start_force()
    verdict = _run(GlusterHeal(volume.farm()))
    assert verdict.ok, verdict
    assert all((volume.brick_dir(2) / f"h{i}.txt").read_text() == f"heal me {i}\n"
               for i in range(10))
    assert StorageCollector(volume.farm()).collect().level == Level.OK


def test_brick_start_brings_a_killed_brick_back_and_heals_it(volume):
    volume.kill(3)
    (volume.mount / "while-down.txt").write_text("one\n")
    action = GlusterBrickStart(volume.farm())
    assert [s.name for s in action.plan()][:3] == ["find offline bricks", "start them",
                                                    "wait online"]
    verdict = _run(action)
    assert verdict.ok, verdict
    assert volume.online() == {1: True, 2: True, 3: True}
    assert (volume.brick_dir(3) / "while-down.txt").read_text() == "one\n"


def test_a_split_brain_is_shown_and_each_policy_resolves_its_file(tmp_path):
    vol = ScratchVolume(lab_glusterd(), tmp_path, options=NO_GUARDS).create()
    try:
        files = ("/big.txt", "/late.txt", "/src.txt")
        for path in files:
            (vol.mount / path.lstrip("/")).write_text("base\n")
        # Brick 1 down: bricks 2 and 3 get the short text and blame brick 1.
        vol.kill(1)
        for path in files:
            (vol.mount / path.lstrip("/")).write_text("pair\n")
        vol.start_force()
        vol.wait_client_on(1)
        # Bricks 2 and 3 down: brick 1 alone gets a longer text, later, and blames them.
        vol.kill(2, 3)
        later = time.time() + 3600
        for path in files:
            target = vol.mount / path.lstrip("/")
            target.write_text("the lone brick's longer copy\n")
            os.utime(target, (later, later))
        vol.start_force()
        snap = StorageCollector(vol.farm()).collect()
        assert set(files) <= set(snap.split_brain_files), snap.bricks
        assert snap.level == Level.CRITICAL
        assert any(a.procedure == "gluster-split-brain" for a in snap.alerts(time.time()))

        with pytest.raises(ActionError, match="brick: source-brick needs"):
            GlusterSplitBrain(vol.farm(), "/src.txt", "source-brick")
        lone, pair = "the lone brick's longer copy\n", "pair\n"

        def copies(path: str) -> set[str]:
            return {(vol.brick_dir(i) / path.lstrip("/")).read_text() for i in (1, 2, 3)}

        def resolve(path: str, policy: str, brick: str = "") -> Verdict:
            action = GlusterSplitBrain(vol.farm(), path, policy, brick)
            step = action.plan()[1]
            assert policy in step.detail and step.destructive
            with pytest.raises(ActionError, match="destructive"):
                _run(action)  # not confirmed: nothing runs
            return _run(action, confirmed=True)

        assert resolve("/big.txt", "bigger-file").ok
        assert copies("/big.txt") == {lone}
        assert resolve("/src.txt", "source-brick", vol.bricks[1]).ok
        assert copies("/src.txt") == {pair}
        # latest-mtime: gluster 10.3 here answers "No difference in mtime" even with the
        # lone copy an hour later in its brick's mtime and mdata xattr (seen, not
        # explained). Either it works, or the procedure says gluster's reason and changes
        # nothing, and source-brick resolves the file as the operator would.
        verdict = resolve("/late.txt", "latest-mtime")
        if verdict.ok:
            assert copies("/late.txt") == {lone}
        else:
            assert "No difference in mtime" in verdict.summary, verdict
            assert copies("/late.txt") == {lone, pair}
            assert resolve("/late.txt", "source-brick", vol.bricks[0]).ok
            assert copies("/late.txt") == {lone}
        wait_for(lambda: not StorageCollector(vol.farm()).collect().split_brain_files, 10,
                 "out of split-brain")
    finally:
        vol.remove()
