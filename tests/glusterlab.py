"""A GlusterFS volume of its own for a test, on the loopback lab's glusterd: three bricks
under the lab's root, a FUSE mount in the test's tmp dir, and the lab's farm with
endpoints.gluster naming it. The lab's own volume (wpfarm) is never touched, so killing a
brick or making a split-brain here disturbs nobody else's tests.

Only the lab's `glusterd` component is started when it is not running (never `lab up`,
which would rewrite the shared lab's farm.yaml and configs)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.needs import unavailable
from wpfarm_tui import programs
from wpfarm_tui.farm.gluster import GlusterClient, local_runner
from wpfarm_tui.inventory import Farm, GlusterEndpoint, load_farm


def lab_glusterd():
    """The lab with its glusterd running (started alone if needed)."""
    from wpfarm_tui.lab import Lab, LabError

    if os.geteuid() != 0:
        unavailable("root: the lab's glusterd and FUSE mounts need it")
    try:
        programs.require(["glusterd", "gluster", "mount.glusterfs"], "the GlusterFS tests")
    except programs.MissingPrograms as exc:
        unavailable(str(exc))
    lab = Lab()
    if not lab.farm_file.exists():
        unavailable(f"the loopback lab is not up ({lab.farm_file} missing): wpfarm lab up")
    if lab.status().get("glusterd") != "running":
        try:
            lab.start("glusterd", progress=lambda _m: None)
        except (LabError, OSError) as exc:
            unavailable(f"the lab's glusterd did not start: {exc}")
    return lab


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {timeout:.0f} s")
        time.sleep(0.1)


class ScratchVolume:
    """A replica-3 volume made for one test, removed after it."""

    def __init__(self, lab, tmp_path: Path, options: dict[str, str] | None = None) -> None:
        from wpfarm_tui.lab.gluster import brick_host

        self.lab = lab
        self.name = f"t{uuid.uuid4().hex[:8]}"
        self.root = lab.gluster_dir / "test-bricks" / self.name
        self.host = brick_host()
        self.bricks = [f"{self.host}:{self.root / b}" for b in ("b1", "b2", "b3")]
        self.mount = tmp_path / "mnt"
        self.client = GlusterClient(local_runner, 10.0)
        self.options = options or {}

    def brick_dir(self, i: int) -> Path:
        return self.root / f"b{i}"

    def create(self) -> ScratchVolume:
        for i in (1, 2, 3):
            self.brick_dir(i).mkdir(parents=True)
        self.mount.mkdir(parents=True)
        c = self.client
        c.command("volume", "create", self.name, "replica", "3", *self.bricks, "force")
        for key, value in self.options.items():
            c.command("volume", "set", self.name, key, value)
        c.start(self.name)
        subprocess.run([programs.path("mount.glusterfs"), f"{self.host}:/{self.name}",
                        str(self.mount)], check=True, capture_output=True, timeout=30)
        return self

    def remove(self) -> None:
        subprocess.run([programs.path("umount"), "-l", str(self.mount)], capture_output=True)
        for args in (("volume", "stop", self.name, "force"), ("volume", "delete", self.name)):
            subprocess.run([programs.path("gluster"), "--mode=script", *args],
                           capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    def farm(self) -> Farm:
        farm = load_farm(self.lab.farm_file)
        ep = GlusterEndpoint(self.name, mount=str(self.mount), timeout=10.0,
                             options={**self.options})
        return dataclasses.replace(farm, endpoints=dataclasses.replace(farm.endpoints,
                                                                        gluster=ep))

    # ------------------------------------------------------------ bricks
    def pid(self, i: int) -> int | None:
        return next(b.pid for b in self.client.status(self.name) if b.brick == self.bricks[i - 1])

    def online(self) -> dict[int, bool]:
        by = {b.brick: b.online for b in self.client.status(self.name)}
        return {i: by.get(self.bricks[i - 1], False) for i in (1, 2, 3)}

    def kill(self, *which: int) -> None:
        """SIGKILL bricks, as a crashed node; wait until glusterd has seen them go (a start
        force sent before it has is taken for a brick still running)."""
        for i in which:
            pid = self.pid(i)
            assert pid, f"brick {i} has no pid"
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not any(self.online()[i] for i in which), 10, "offline")
        time.sleep(1.5)

    def start_force(self) -> None:
        """`volume start force` until every brick is online: a start that came before
        glusterd saw the brick die starts nothing (seen on a loaded CI machine), so it is
        asked again every 5 s, as the brick-start procedure does."""
        deadline = time.monotonic() + 60
        while True:
            self.client.start(self.name, force=True)
            try:
                wait_for(lambda: all(self.online().values()), 5, "every brick online")
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def wait_client_on(self, i: int) -> None:
        """The mount has reconnected to brick i: a file written now reaches its directory."""
        def reached() -> bool:
            probe = f".probe-{uuid.uuid4().hex[:6]}"
            try:
                (self.mount / probe).write_text("x")
            except OSError:
                return False
            there = (self.brick_dir(i) / probe).exists()
            (self.mount / probe).unlink(missing_ok=True)
            return there

        wait_for(reached, 20, f"the mount reconnected to brick {i}")
