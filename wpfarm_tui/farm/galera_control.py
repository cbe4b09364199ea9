"""Node operations Galera recovery needs beyond SQL: grastate.dat, `--wsrep-recover`,
starting a node with extra arguments, stopping it, and whether it runs.

Production Galera runs as Swarm services on the db nodes; the loopback lab runs mariadbd
as local processes. The recovery actions speak only to `GaleraControl`, so the procedure
is the same on both. `LabGaleraControl` drives the lab; `galera_swarm.SwarmGaleraControl`
drives a Swarm farm through the manager's Docker API.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

_POSITION_RE = re.compile(r"Recovered position:\s+([0-9a-fA-F-]{36}):(-?\d+)")


class GaleraControlError(Exception):
    """A node operation failed; the message says which node and where to look."""


@dataclass(frozen=True)
class Position:
    uuid: str
    seqno: int

    def __str__(self) -> str:
        return f"{self.uuid}:{self.seqno}"

    @classmethod
    def parse(cls, text: str) -> Position:
        uuid, _, seqno = text.strip().rpartition(":")
        return cls(uuid, int(seqno))


@dataclass(frozen=True)
class GraState:
    """grastate.dat of one node: what Galera saved at its last shutdown (seqno -1 = crash)."""

    uuid: str | None
    seqno: int | None
    safe_to_bootstrap: bool

    @classmethod
    def parse(cls, text: str) -> GraState:
        values = {}
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
        seqno = values.get("seqno")
        try:
            number = int(seqno) if seqno is not None else None
        except ValueError:
            number = None
        return cls(values.get("uuid") or None, number, values.get("safe_to_bootstrap") == "1")


def parse_recovered(log_text: str) -> Position | None:
    """The last `Recovered position: uuid:seqno` of a `mariadbd --wsrep-recover` log."""
    found = _POSITION_RE.findall(log_text)
    if not found:
        return None
    uuid, seqno = found[-1]
    return Position(uuid, int(seqno))


def set_safe_to_bootstrap_text(text: str) -> str:
    if re.search(r"(?m)^safe_to_bootstrap:", text):
        return re.sub(r"(?m)^safe_to_bootstrap:.*$", "safe_to_bootstrap: 1", text)
    return text.rstrip("\n") + "\nsafe_to_bootstrap: 1\n"


class GaleraControl(Protocol):
    """Node-level operations on the Galera nodes named in endpoints.galera."""

    def grastate(self, node: str) -> GraState | None:
        """None when the node has no grastate.dat (never started)."""
        ...

    def recover_position(self, node: str) -> Position | None:
        """Run `mariadbd --wsrep-recover` on a STOPPED node; its last committed position."""
        ...

    def set_safe_to_bootstrap(self, node: str) -> None: ...

    def start(self, node: str, extra_args: list[str]) -> None:
        """Start the node's mariadbd with extra arguments; does not wait for it."""
        ...

    def stop(self, node: str, hard: bool = False) -> None:
        """Stop the node and wait until it has exited."""
        ...

    def is_running(self, node: str) -> bool: ...

    def settle(self, node: str) -> bool:
        """Once the cluster is whole: undo what `start` changed for the recovery (bootstrap
        flag, start position) so a later restart of the node joins, never bootstraps.
        True when that restarted the node (wait until it is Synced again)."""
        ...

    def log_hint(self, node: str) -> str:
        """Where an operator reads why the node failed."""
        ...


class LabGaleraControl:
    """The loopback lab's Galera nodes (`galera-1`..`galera-3`, local mariadbd processes)."""

    def __init__(self, lab: object | None = None, recover_timeout: float = 120.0):
        from wpfarm_tui.lab import Lab

        self.lab = lab if lab is not None else Lab()
        self.recover_timeout = recover_timeout

    def _n(self, node: str) -> int:
        match = re.fullmatch(r"galera-(\d+)", node)
        if not match:
            raise GaleraControlError(f"{node}: not a lab Galera node (galera-1..galera-3)")
        return int(match.group(1))

    def _info(self, node: str) -> dict:
        return self.lab.galera_node(self._n(node))  # type: ignore[attr-defined]

    def grastate(self, node: str) -> GraState | None:
        try:
            return GraState.parse(Path(self._info(node)["grastate"]).read_text())
        except OSError:
            return None

    def recover_position(self, node: str) -> Position | None:
        if self.is_running(node):
            raise GaleraControlError(f"{node} is running: --wsrep-recover needs it stopped")
        info = self._info(node)
        log = Path(info["dir"]) / "recover.log"
        log.unlink(missing_ok=True)
        try:
            subprocess.run([*info["argv"], "--wsrep-recover", f"--log-error={log}"],
                           capture_output=True, timeout=self.recover_timeout, check=False)
        except subprocess.TimeoutExpired:
            raise GaleraControlError(f"{node}: --wsrep-recover still running after "
                                     f"{self.recover_timeout:.0f} s; see {log}") from None
        with contextlib.suppress(OSError):
            return parse_recovered(log.read_text())
        return None

    def set_safe_to_bootstrap(self, node: str) -> None:
        path = Path(self._info(node)["grastate"])
        path.write_text(set_safe_to_bootstrap_text(path.read_text()))

    def start(self, node: str, extra_args: list[str]) -> None:
        from wpfarm_tui.lab import LabError

        try:
            self.lab.galera_spawn(self._n(node), extra_args)  # type: ignore[attr-defined]
        except LabError as exc:
            raise GaleraControlError(f"{node}: {exc}") from None

    def stop(self, node: str, hard: bool = False) -> None:
        self.lab.stop(f"galera-{self._n(node)}", hard=hard)  # type: ignore[attr-defined]

    def is_running(self, node: str) -> bool:
        return self.lab.galera_pid(self._n(node)) is not None  # type: ignore[attr-defined]

    def settle(self, node: str) -> bool:
        # The flags live only in the running process's argv; the lab restarts a node with
        # its own config, never with them.
        return False

    def log_hint(self, node: str) -> str:
        return str(self._info(node)["error_log"])


def recover_all(control: GaleraControl, nodes: list[str]) -> dict[str, Position | None]:
    """--wsrep-recover on several stopped nodes at once (each reads only its own datadir)."""
    with ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:
        return dict(zip(nodes, pool.map(control.recover_position, nodes), strict=True))
