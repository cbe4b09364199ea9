"""GlusterFS: the `gluster` CLI with `--xml`, run locally (the loopback lab) or over SSH on a
storage node (host keys checked by farm/ssh.py), and its answers parsed into plain values.

One call is one run of the CLI with a short timeout and no retry: a glusterd that does not
answer is an error the caller shows (the CLI itself fails at once, "Connection failed",
when glusterd is stopped). Nothing here decides levels: status/storage.py does.
"""

from __future__ import annotations

import shlex
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from wpfarm_tui import programs
from wpfarm_tui.inventory import Node

# argv, timeout -> (exit code, stdout, stderr)
Runner = Callable[[list[str], float], tuple[int, str, str]]


class GlusterError(Exception):
    """The CLI failed or said no; the message is gluster's own words (and where)."""


def local_runner(argv: list[str], timeout: float) -> tuple[int, str, str]:
    """Run on this machine (the lab's glusterd listens on this host)."""
    full = [programs.path(argv[0], "GlusterFS"), *argv[1:]]
    try:
        done = subprocess.run(full, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"{argv[0]} timed out after {timeout:g} s") from None
    return done.returncode, done.stdout, done.stderr


def ssh_runner(node: Node, known_hosts: Path | None = None) -> Runner:
    """Run on a farm node over SSH (its host key must be known)."""
    from wpfarm_tui.farm import ssh

    def run(argv: list[str], timeout: float) -> tuple[int, str, str]:
        try:
            return ssh.run(node, shlex.join(argv), timeout, known_hosts)
        except ssh.SshError as exc:
            raise GlusterError(str(exc)) from None

    return run


# ---------------------------------------------------------------- values
@dataclass(frozen=True)
class Peer:
    uuid: str
    hostname: str
    connected: bool


@dataclass(frozen=True)
class VolumeInfo:
    name: str
    status: str  # Started | Stopped | Created
    type: str  # Replicate, Distributed-Replicate, ...
    replica: int
    bricks: tuple[str, ...]  # "host:/path", in replica order
    options: Mapping[str, str]  # the reconfigured ones (volume info)


@dataclass(frozen=True)
class BrickStatus:
    brick: str  # "host:/path"
    online: bool
    pid: int | None
    port: int | None
    free_bytes: int | None = None
    total_bytes: int | None = None


@dataclass(frozen=True)
class HealBrick:
    brick: str
    connected: bool
    status: str  # "Connected", "Transport endpoint is not connected", ...
    entries: int | None  # None when the brick cannot say ("-": it is down)
    files: tuple[str, ...] = ()  # paths (or <gfid:...>) as gluster names them


# ---------------------------------------------------------------- parsing
def _root(text: str, what: str) -> ET.Element:
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        first = text.strip().splitlines()[0] if text.strip() else "no output"
        raise GlusterError(f"{what}: {first}") from None
    if root.findtext("opRet", "0") not in ("0", ""):
        err = root.findtext("opErrstr") or root.findtext("output") or "failed"
        raise GlusterError(f"{what}: {err}")
    return root


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "", "N/A") else None
    except ValueError:
        return None


def parse_pool(text: str) -> tuple[Peer, ...]:
    root = _root(text, "pool list")
    return tuple(Peer(p.findtext("uuid", ""), p.findtext("hostname", ""),
                      p.findtext("connected") == "1") for p in root.iter("peer"))


def parse_volume_info(text: str) -> tuple[VolumeInfo, ...]:
    root = _root(text, "volume info")
    out = []
    for v in root.iter("volume"):
        bricks = tuple((b.findtext("name") or (b.text or "")).strip() for b in v.iter("brick"))
        options = {o.findtext("name", ""): o.findtext("value", "") for o in v.iter("option")}
        out.append(VolumeInfo(v.findtext("name", ""), v.findtext("statusStr", ""),
                              v.findtext("typeStr", ""), _int(v.findtext("replicaCount")) or 1,
                              bricks, options))
    return tuple(out)


def parse_volume_status(text: str) -> tuple[BrickStatus, ...]:
    """Bricks only (the self-heal daemons are nodes too, with path 'localhost')."""
    root = _root(text, "volume status")
    out = []
    for n in root.iter("node"):
        path = n.findtext("path", "")
        if not path.startswith("/"):
            continue
        pid = _int(n.findtext("pid"))
        port = _int(n.findtext("port"))
        out.append(BrickStatus(f"{n.findtext('hostname', '')}:{path}",
                               n.findtext("status") == "1",
                               pid if pid and pid > 0 else None,
                               port if port and port > 0 else None,
                               _int(n.findtext("sizeFree")), _int(n.findtext("sizeTotal"))))
    return tuple(out)


def parse_heal_info(text: str) -> tuple[HealBrick, ...]:
    root = _root(text, "heal info")
    out = []
    for b in root.iter("brick"):
        status = b.findtext("status", "")
        files = tuple(f.text or "" for f in b.iter("file"))
        out.append(HealBrick(b.findtext("name", ""), status == "Connected", status,
                             _int(b.findtext("numberOfEntries")), files))
    return tuple(out)


def parse_volume_get(text: str) -> dict[str, str]:
    """Every option's effective value ("on (DEFAULT)" read as "on")."""
    root = _root(text, "volume get")
    return {o.findtext("Option", ""): o.findtext("Value", "").removesuffix(" (DEFAULT)").strip()
            for o in root.iter("Opt")}


_TRUE = {"on", "yes", "true", "enable", "1"}
_FALSE = {"off", "no", "false", "disable", "0"}


def same_value(a: str, b: str) -> bool:
    """gluster's spellings of one value: on/enable/yes/true, 256MB/256 MB (case aside)."""
    x, y = a.strip().lower().replace(" ", ""), b.strip().lower().replace(" ", "")
    if x == y:
        return True
    return (x in _TRUE and y in _TRUE) or (x in _FALSE and y in _FALSE)


# ---------------------------------------------------------------- the client
class GlusterClient:
    """`gluster --mode=script ... --xml` through a runner (local or one node over SSH)."""

    def __init__(self, runner: Runner = local_runner, timeout: float = 5.0,
                 where: str = "local") -> None:
        self.runner, self.timeout, self.where = runner, timeout, where

    def _run(self, *args: str, xml: bool = True, timeout: float | None = None) -> str:
        argv = ["gluster", "--mode=script", *args, *(["--xml"] if xml else [])]
        rc, out, err = self.runner(argv, timeout or self.timeout)
        if xml and out.lstrip().startswith("<"):
            return out  # the XML says success or failure itself (opRet)
        if rc != 0:
            # The reason is often on the second line ("...unsuccessful:" then why).
            words = " ".join((err.strip() or out.strip() or f"exit {rc}").split())[:400]
            raise GlusterError(f"gluster {' '.join(args)} ({self.where}): {words}")
        return out

    def pool(self) -> tuple[Peer, ...]:
        return parse_pool(self._run("pool", "list"))

    def volumes(self, name: str | None = None) -> tuple[VolumeInfo, ...]:
        return parse_volume_info(self._run("volume", "info", *([name] if name else [])))

    def volume(self, name: str) -> VolumeInfo | None:
        """None when the volume does not exist (any other failure raises)."""
        try:
            found = self.volumes(name)
        except GlusterError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        return found[0] if found else None

    def status(self, volume: str) -> tuple[BrickStatus, ...]:
        return parse_volume_status(self._run("volume", "status", volume, "detail"))

    def heal_info(self, volume: str) -> tuple[HealBrick, ...]:
        return parse_heal_info(self._run("volume", "heal", volume, "info"))

    def split_brain(self, volume: str) -> tuple[HealBrick, ...]:
        return parse_heal_info(self._run("volume", "heal", volume, "info", "split-brain"))

    def options(self, volume: str) -> dict[str, str]:
        return parse_volume_get(self._run("volume", "get", volume, "all"))

    # ------------------------------------------------------------ changes (procedures)
    def command(self, *args: str, timeout: float | None = None) -> str:
        """A change (heal, start force, set, peer probe...): its plain-text answer."""
        return self._run(*args, xml=False, timeout=timeout).strip()

    def heal(self, volume: str) -> str:
        return self.command("volume", "heal", volume)

    def start(self, volume: str, force: bool = False) -> str:
        return self.command("volume", "start", volume, *(["force"] if force else []),
                            timeout=max(self.timeout, 30.0))

    def resolve_split_brain(self, volume: str, path: str, policy: str,
                            source_brick: str | None = None) -> str:
        """policy: bigger-file | latest-mtime | source-brick (with source_brick)."""
        if policy == "source-brick":
            if not source_brick:
                raise GlusterError("source-brick needs the brick to copy from")
            return self.command("volume", "heal", volume, "split-brain", "source-brick",
                                source_brick, path)
        if policy not in ("bigger-file", "latest-mtime"):
            raise GlusterError(f"unknown split-brain policy {policy!r}")
        return self.command("volume", "heal", volume, "split-brain", policy, path)


# ---------------------------------------------------------------- the mount on a node
@dataclass(frozen=True)
class MountHealth:
    node: str  # "local" for this machine
    path: str
    ok: bool
    error: str | None = None  # "not mounted", "Transport endpoint is not connected", ...


def mount_argv(path: str) -> list[str]:
    """Mounted as GlusterFS, and answering: a FUSE mount whose bricks are all gone fails
    stat with "Transport endpoint is not connected"; `timeout` bounds a hung one."""
    q = shlex.quote(path)
    line = shlex.quote(f" {path} fuse.glusterfs ")
    return ["sh", "-c",
            f"grep -qF -- {line} /proc/mounts "
            f"|| {{ echo 'not mounted (no glusterfs at this path in /proc/mounts)' >&2; "
            f"exit 3; }}; exec timeout 3 stat -f -c %T {q}"]


def check_mount(runner: Runner, node: str, path: str, timeout: float) -> MountHealth:
    try:
        rc, _out, err = runner(mount_argv(path), timeout)
    except (GlusterError, TimeoutError, OSError) as exc:
        return MountHealth(node, path, False, str(exc))
    if rc != 0:
        words = err.strip().splitlines()[-1] if err.strip() else f"exit {rc}"
        if rc == 124:
            words = "stat did not answer within 3 s (hung mount)"
        return MountHealth(node, path, False, words.removeprefix("stat: "))
    return MountHealth(node, path, True)
