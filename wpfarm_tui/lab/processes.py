"""The process supervisor both labs share: daemons started detached, their pid in a file,
and a pid counted as ours only while /proc/PID/cmdline still names our marker (a path of
this lab's own: guards against pid reuse), one lab operation at a time (flock), and the
bind test of a port before anything starts.

Plain functions of (pid file, marker): the loopback lab (lab.py, reloads.py) and the
Swarm lab (swarmlab/lab.py) each say where their pid files are and what marks them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from wpfarm_tui.files import write_atomic


def alive(pid: int) -> bool:
    """True while pid runs (a fully exited zombie counts as gone; our own children get reaped)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name.
    if stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X"):
        return True
    # A killed multi-threaded daemon shows a zombie leader while its other threads still
    # exit and hold its sockets: gone only when no other thread is left.
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False


def pid_of(pidfile: Path, marker: str) -> int | None:
    """The pid recorded in pidfile while it is alive and its cmdline names marker, else None."""
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if not alive(pid):
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        cmdline = raw.replace(b"\0", b" ").decode()
    except (OSError, UnicodeDecodeError):
        return None
    if not raw:
        # The pid we recorded, alive, with no command line yet: our child between fork and
        # the end of its execve (the kernel shows an empty cmdline then). Read as "not
        # ours", it made `lab up` start redis-master twice and call dockerd "exited".
        return pid
    return pid if marker in cmdline else None


def spawn(argv: list[str], log: Path, pidfile: Path, banner: str) -> int:
    """Start argv detached (own session, stdin /dev/null, output appended to log, cwd the
    log's directory), record its pid in pidfile and return it.

    A throwaway sh starts the daemon in the background and exits, so the daemon is
    re-parented to init: no zombies in the caller, whoever the caller is.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as fh:
        fh.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {banner}: {' '.join(argv)}\n")
    env = dict(os.environ, WPFARM_LAB_LOG=str(log))
    out = subprocess.run(
        ["/bin/sh", "-c", '"$@" </dev/null >>"$WPFARM_LAB_LOG" 2>&1 & echo $!', "sh", *argv],
        cwd=log.parent,
        env=env,
        start_new_session=True,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    pid = int(out.stdout.strip())
    write_atomic(pidfile, f"{pid}\n")
    return pid


def send(pidfile: Path, marker: str, sig: int) -> int | None:
    """Signal the process of pidfile when it is ours; a stale pid file is removed. The pid
    signalled, or None when nothing of ours ran."""
    pid = pid_of(pidfile, marker)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    return pid


def wait_exit(pid: int, timeout: float, on_kill: Callable[[], None] = lambda: None) -> bool:
    """Wait until pid has exited; after timeout, on_kill() and SIGKILL, then up to 10 s more.
    False when it still runs even after SIGKILL."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            on_kill()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            break
        time.sleep(0.05)
    return not alive(pid)


def stop(pidfile: Path, marker: str, timeout: float, sig: int = signal.SIGTERM,
         on_kill: Callable[[], None] = lambda: None) -> int | None:
    """Signal the process of pidfile (when ours) and wait until it has exited (SIGKILL after
    timeout); its pid file is removed once it is gone. The pid stopped, or None when none
    of ours ran. Raises StillRunning when it survived SIGKILL."""
    pid = send(pidfile, marker, sig)
    if pid is None:
        return None
    if not wait_exit(pid, timeout, on_kill):
        raise StillRunning(pid)
    pidfile.unlink(missing_ok=True)
    return pid


class StillRunning(Exception):
    """A process did not exit even after SIGKILL; each lab words its own error."""

    def __init__(self, pid: int) -> None:
        super().__init__(f"pid {pid} did not exit even after SIGKILL")
        self.pid = pid


@contextlib.contextmanager
def locked(lockfile: Path) -> Iterator[None]:
    """One lab operation at a time across processes (a second `up` waits for the first)."""
    lockfile.parent.mkdir(parents=True, exist_ok=True)
    with open(lockfile, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Bind test: fails when anyone listens on the port (on host or a wildcard)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT leftovers
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
