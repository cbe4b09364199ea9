"""Helpers of the site tests against the lab."""

from __future__ import annotations

import os
from pathlib import Path

from wpfarm_tui.actions import AuditLog, StepEvent, Verdict, execute


def run(action, tmp_path: Path, confirmed: bool = False) -> tuple[list, Verdict]:
    """Execute `action`: its step events and its verdict."""
    items = list(execute(action, audit=AuditLog(tmp_path / "audit.log"), confirmed=confirmed))
    return [i for i in items if isinstance(i, StepEvent)], items[-1]


def tcp_connections_to(pid: int, ports: set[int]) -> int:
    """Established TCP connections the process `pid` holds to any of `ports` on any host:
    its socket inodes (/proc/PID/fd) matched against the kernel's table (/proc/PID/net/tcp*),
    so only this process's connections count, not the server's other clients."""
    return len(tcp_connection_inodes(pid, ports))


def tcp_connection_inodes(pid: int, ports: set[int]) -> set[str]:
    """The socket inodes of those connections: which ones, not only how many."""
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        for fd in fd_dir.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue  # closed while we looked
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()  # the process is gone
    found: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if fields[3] == "01" and remote_port in ports and fields[9] in inodes:
                found.add(fields[9])
    return found
