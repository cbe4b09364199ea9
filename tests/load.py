"""A bounded CPU burner, for tests and benchmarks that need a busy machine.

Each burner is a separate Python process that spins until its own deadline: it stops by
itself even when the test that started it is killed, so a crashed run never leaves the
machine loaded."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

_SPIN = ("import time\n"
         "end = time.monotonic() + {seconds}\n"
         "while time.monotonic() < end:\n"
         "    sum(range(10000))\n")


@contextlib.contextmanager
def cpu_burner(processes: int | None = None, seconds: float = 600.0) -> Iterator[list[int]]:
    """`processes` spinning processes (default: one per core) for at most `seconds`;
    stopped when the block ends. Yields their pids."""
    count = processes if processes is not None else (os.cpu_count() or 1)
    procs = [subprocess.Popen([sys.executable, "-c", _SPIN.format(seconds=float(seconds))],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
             for _ in range(count)]
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
