"""The lab's GlusterFS: one glusterd (its state and run directories under the lab's root,
not /var/lib/glusterd: its own volfile sets `working-directory` and `run-directory`), a
replica-3 volume of three bricks under the lab's root on this one host, and its FUSE mount.

glusterd starts the bricks (glusterfsd) itself and they outlive it: stopping the
`glusterd` component leaves the volume served, as a stopped glusterd on a farm node does.
The brick host is this machine's hostname: gluster refuses 127.0.0.1 and localhost in a
brick's name, and the hostname resolves to loopback here. There is one glusterd per host
(the CLI finds it by /var/run/glusterd.socket), so `lab up` refuses to start beside a
glusterd that is not the lab's (the port check on 24007 does).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from wpfarm_tui.farm.gluster import parse_volume_status
from wpfarm_tui.files import write_atomic
from wpfarm_tui.inventory import GLUSTER_OPTIONS
from wpfarm_tui.lab.base import LOOPBACK, PORTS, LabBase, LabError, Progress

GLUSTER_VOLUME = "wpfarm"
GLUSTERD_PORT = PORTS["glusterd"][0]
BRICKS = ("b1", "b2", "b3")


def brick_host() -> str:
    """The name bricks are created under: this host's name, which must resolve here."""
    name = socket.gethostname()
    try:
        addresses = {a[4][0] for a in socket.getaddrinfo(name, None, socket.AF_INET)}
    except OSError:
        addresses = set()
    if not addresses:
        raise LabError(f"the lab's GlusterFS names its bricks {name}:/... but {name!r} does not "
                       f"resolve; add `127.0.1.1 {name}` to /etc/hosts")
    return name


class GlusterMixin(LabBase):
    @property
    def gluster_dir(self) -> Path:
        return self._dir("glusterd")

    @property
    def gluster_mount(self) -> Path:
        """Where the lab's volume is mounted (FUSE), as /mnt/gluster on an app node."""
        return self.gluster_dir / "mnt"

    def gluster_brick(self, name: str) -> Path:
        return self.gluster_dir / "bricks" / name

    @property
    def _glusterd_vol(self) -> Path:
        return self.gluster_dir / "glusterd.vol"

    def _prepare_gluster(self) -> None:
        d = self.gluster_dir
        for sub in ("state", "run", "mnt", *(f"bricks/{b}" for b in BRICKS)):
            (d / sub).mkdir(parents=True, exist_ok=True)
        # `volume set V group ...` reads the package's option groups from the state dir.
        groups = Path("/var/lib/glusterd/groups")
        if groups.is_dir() and not (d / "state" / "groups").exists():
            shutil.copytree(groups, d / "state" / "groups")
        write_atomic(self._glusterd_vol, (
            "# The loopback lab glusterd, by wpfarm lab up (no backticks: volfiles run them)\n"
            "volume management\n"
            "    type mgmt/glusterd\n"
            f"    option working-directory {d / 'state'}\n"
            f"    option run-directory {d / 'run'}\n"
            "    option transport-type socket\n"
            f"    option transport.socket.listen-port {GLUSTERD_PORT}\n"
            f"    option transport.socket.bind-address {LOOPBACK}\n"
            "    option ping-timeout 0\n"
            "    option event-threads 1\n"
            "end-volume\n"))

    def _glusterd_argv(self) -> list[str]:
        # -N: in the foreground, so the pid the supervisor records is glusterd's own.
        return [self._bin("glusterd"), "-N", "-f", str(self._glusterd_vol),
                "-p", str(self.gluster_dir / "run" / "glusterd.pid"),
                f"--log-file={self.gluster_dir / 'glusterd.log'}"]

    def _gluster(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        argv = [self._bin("gluster"), "--mode=script", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def _glusterd_ready(self) -> bool:
        return self._gluster("pool", "list", timeout=5).returncode == 0

    def _gluster_setup(self, say: Progress) -> None:
        """The volume (created once, started, the farm's options set) and its mount: each
        step only when it is not so already."""
        v = GLUSTER_VOLUME
        info = self._gluster("volume", "info", v)
        if info.returncode != 0:
            host = brick_host()
            bricks = [f"{host}:{self.gluster_brick(b)}" for b in BRICKS]
            # force: the bricks are on the root filesystem, which gluster warns against.
            self._check(self._gluster("volume", "create", v, "replica", "3", *bricks, "force"),
                        "create the volume")
            say(f"glusterd: volume {v} created (replica 3: {', '.join(BRICKS)})")
            info = self._gluster("volume", "info", v)
        for key, value in GLUSTER_OPTIONS.items():
            if f"{key}: {value}" not in info.stdout:
                self._check(self._gluster("volume", "set", v, key, value), f"set {key}")
        if "Status: Started" not in info.stdout:
            self._check(self._gluster("volume", "start", v), "start the volume")
            say(f"glusterd: volume {v} started")
        else:  # `lab up` starts what is not running: a brick that died too
            status = self._gluster("volume", "status", v, "--xml")
            if status.returncode == 0 and any(
                    not b.online for b in parse_volume_status(status.stdout)):
                self._check(self._gluster("volume", "start", v, "force"), "start its bricks")
                say(f"glusterd: volume {v}: offline bricks started")
        if not self._gluster_mounted():
            src = f"{brick_host()}:/{v}"
            done = subprocess.run([self._bin("mount.glusterfs"), src, str(self.gluster_mount)],
                                  capture_output=True, text=True, timeout=30)
            if done.returncode != 0:
                raise LabError(f"glusterd: mounting {src} on {self.gluster_mount} failed: "
                               f"{(done.stderr or done.stdout).strip()[:300]}; see "
                               f"{self.gluster_dir / 'glusterd.log'}")
            say(f"glusterd: {v} mounted on {self.gluster_mount}")

    @staticmethod
    def _check(done: subprocess.CompletedProcess[str], step: str) -> None:
        if done.returncode != 0:
            raise LabError(f"glusterd: {step} failed: "
                           f"{(done.stderr or done.stdout).strip()[:300]}")

    def _gluster_mounted(self) -> bool:
        target = str(self.gluster_mount)
        with open("/proc/mounts") as f:
            return any(line.split()[1] == target and "glusterfs" in line.split()[2]
                       for line in f if len(line.split()) > 2)

    def _gluster_down(self, say: Progress) -> None:
        """After glusterd: the mount and the bricks it started (they outlive it)."""
        if self._gluster_mounted():
            subprocess.run([self._bin("umount"), "-l", str(self.gluster_mount)],
                           capture_output=True, timeout=30)
        marker = str(self.gluster_dir / "bricks")
        for pidfile in (self.gluster_dir / "run").rglob("*.pid"):
            with contextlib.suppress(ValueError, OSError):
                pid = int(pidfile.read_text().strip())
                if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes() or str(
                        self.gluster_dir).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGTERM)
        say("glusterd: bricks and mount stopped")
