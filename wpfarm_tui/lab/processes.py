"""Two helpers the lab's modules share (lab.py and reloads.py both need them; here, they
import them in one direction)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def _alive(pid: int) -> bool:
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


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    """Atomic: a temp file of its own (threads may write the same path) renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(name, mode)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
