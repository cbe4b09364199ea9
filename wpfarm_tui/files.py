"""Writing a file so that no reader ever sees it half-written: the one way every layer
(lab/, swarmlab/, stacks/, setup/) writes the files it owns.

A leaf module (it imports nothing of wpfarm), so every layer may import it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: str | bytes, mode: int = 0o644, *,
                 if_changed: bool = False, fsync: bool = False) -> bool:
    """Write data to path through a temp file of its own in the same directory, renamed into
    place (threads and processes may write the same path at once); the file gets `mode`.

    if_changed: leave an identical file alone (only its mode is set), so watchers of the
    file see no change; fsync: on disk before the rename (rendered files that outlive a
    crash). True when the file was written."""
    raw = data.encode() if isinstance(data, str) else data
    if if_changed and path.exists() and path.read_bytes() == raw:
        if (path.stat().st_mode & 0o777) != mode:
            path.chmod(mode)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(name, mode)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return True
