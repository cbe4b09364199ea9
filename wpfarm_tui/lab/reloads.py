"""Changing the configuration of the lab's shared web servers without taking them down.

Every site of the lab is served by one php-fpm, one nginx and one Traefik (file
provider): a change for one site is a change to all of them. So a change is
made in one way only (`Reloads.apply`):

- serialised: one change at a time across threads and processes (a thread lock
  plus an flock on `run/reload.lock`), held from the first file written or
  removed until the server has finished re-reading its configuration — an
  undo can never remove a pool file while php-fpm is reading the includes;
- checked: `php-fpm8.2 -t` / `nginx -t` on the lab's configuration before the
  signal; a configuration that fails its check is put back as it was and the
  running server is not signalled (php-fpm exits on a bad config at SIGUSR2);
- waited for: php-fpm's log says `ready to handle connections` (or why not),
  nginx has started new workers; a server that did not come back is an error
  naming its log, and the files are put back.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from wpfarm_tui import programs
from wpfarm_tui.files import write_atomic
from wpfarm_tui.lab.processes import alive

if TYPE_CHECKING:
    from wpfarm_tui.lab.lab import Lab

_THREADS = threading.Lock()  # flock orders processes; this orders this process's threads
_SIGNALS = {"php-fpm": signal.SIGUSR2, "nginx": signal.SIGHUP}
_PHP_FPM_FAILED = "FPM initialization failed"


class ReloadError(RuntimeError):
    """A change to a shared server's configuration was refused or did not take."""


class Reloads:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One change to php-fpm / nginx / Traefik's files at a time, whoever makes it."""
        run = self.lab.root / "run"
        run.mkdir(parents=True, exist_ok=True)
        with _THREADS, open(run / "reload.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield  # closing the file releases the flock

    def apply(self, component: str, files: Mapping[Path, str | None],
              wait_for: Path | None = None) -> bool:
        """Write (text) or remove (None) `files`, check, reload `component`; False when
        nothing changed. On any failure the files are put back as they were."""

        with self.lock():
            before = {p: p.read_text() if p.exists() else None for p in files}
            changed = {p: t for p, t in files.items() if (t is None) != (before[p] is None)}
            if not changed:
                return False
            adds = any(t is not None for t in changed.values())
            try:
                for path, text in changed.items():
                    if text is None:
                        path.unlink()
                    else:
                        write_atomic(path, text)
                self.check(component)
                self.reload(component, wait_for, must_run=adds)
            except BaseException:
                for path in changed:  # back to what the running server has
                    if before[path] is None:
                        path.unlink(missing_ok=True)
                    else:
                        write_atomic(path, before[path])  # type: ignore[arg-type]
                raise
            return True

    def check(self, component: str) -> None:
        """The server's own test of the configuration on disk; ReloadError with its words."""
        d = self.lab.root / component
        if component == "php-fpm":
            argv = [programs.path("php-fpm8.2"), "-t", "-y", str(d / "php-fpm.conf")]
        elif component == "nginx":
            argv = [programs.path("nginx"), "-t", "-q", "-c", str(d / "nginx.conf"),
                    "-p", f"{d}/", "-e", str(d / "error.log")]
        else:
            return
        # Its own process group: a terminal's Ctrl-C to a bulk run must not fail the check.
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, process_group=0)
        if out.returncode != 0:
            words = " ".join((out.stderr or out.stdout).split())[-400:]
            raise ReloadError(f"{component}: the new configuration fails its check "
                              f"({words}); it was not loaded and the running {component} is "
                              "unchanged")

    def reload(self, component: str, wait_for: Path | None = None, must_run: bool = True
               ) -> None:
        """Signal the server and wait until it re-read its files. Hold `lock()` around the
        change and this, and `check` first."""
        sig = _SIGNALS.get(component)
        if sig is None:
            return  # Traefik watches its directory: the file is the reload
        pid = self.lab._pid_of(component)
        if pid is None:
            if must_run:
                raise ReloadError(f"{component} is not running: `wpfarm lab up` first")
            return  # a stopped server reads the files as they are when it starts
        log = self.lab.root / component / "error.log"
        offset = log.stat().st_size if log.exists() else 0
        children = _children(pid)
        os.kill(pid, sig)
        deadline = time.monotonic() + 30
        while True:
            # The pid, not _pid_of: php-fpm re-executes itself under the same pid, and its
            # command line (which _pid_of reads) is briefly not yet its own while it does.
            if not alive(pid):
                raise ReloadError(f"{component} exited on reload; see {log}")
            if component == "php-fpm":
                done = _php_fpm_reloaded(log, offset)
            else:  # nginx: new workers mean the new configuration is read
                done = bool(_children(pid) - children)
            if done and (wait_for is None or wait_for.exists()):
                return
            if time.monotonic() > deadline:
                raise ReloadError(f"{component} did not finish reloading in 30 s; see {log}")
            time.sleep(0.05)


def _children(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(p) for p in text.split()}


def _php_fpm_reloaded(log: Path, offset: int) -> bool:
    """True once php-fpm logged that it is ready again after `offset`; ReloadError when it
    logged a failure instead."""
    try:
        with log.open() as fh:
            fh.seek(offset)
            new = fh.read()
    except OSError:
        return False
    for line in new.splitlines():
        if _PHP_FPM_FAILED in line:
            raise ReloadError(f"php-fpm refused the reload: {line.strip()[-300:]}")
        if "ready to handle connections" in line:
            return True
    return False
