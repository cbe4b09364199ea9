"""The process supervisor both labs share (wpfarm_tui/lab/processes.py) and the one
atomic-write helper (wpfarm_tui/files.py), on real processes and files: a pid counts as
ours only while its cmdline names our marker, stop waits until the process is gone (and
kills one that ignores SIGTERM), the lock orders two holders, a write is never half-seen."""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from wpfarm_tui.files import write_atomic
from wpfarm_tui.lab import processes

SLEEPER = ("import pathlib, signal, sys, time\n"
           "if sys.argv[2] == 'stubborn': signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
           "pathlib.Path(sys.argv[1] + '.ready').touch()\n"
           "time.sleep(300)\n")


def _spawn(tmp_path: Path, how: str = "plain") -> tuple[int, Path, str]:
    marker = str(tmp_path / "marker")
    pidfile = tmp_path / "run" / "sleeper.pid"
    pid = processes.spawn([sys.executable, "-c", SLEEPER, marker, how], tmp_path / "log" / "s.log",
                          pidfile, "test starts")
    deadline = time.monotonic() + 10
    while not Path(marker + ".ready").exists():  # it runs (and, stubborn, ignores SIGTERM)
        assert time.monotonic() < deadline, "the sleeper never started"
        time.sleep(0.02)
    return pid, pidfile, marker


def test_spawn_records_a_detached_pid_that_counts_as_ours_only_with_our_marker(tmp_path):
    pid, pidfile, marker = _spawn(tmp_path)
    try:
        assert pidfile.read_text() == f"{pid}\n"
        assert processes.pid_of(pidfile, marker) == pid
        assert processes.pid_of(pidfile, str(tmp_path / "another-lab")) is None
        assert os.getsid(pid) != os.getsid(0)  # its own session
        assert "test starts: " in (tmp_path / "log" / "s.log").read_text()
    finally:
        os.kill(pid, signal.SIGKILL)


def test_stop_waits_until_gone_and_removes_the_pid_file(tmp_path):
    pid, pidfile, marker = _spawn(tmp_path)
    assert processes.stop(pidfile, marker, timeout=10) == pid
    assert not processes.alive(pid)
    assert not pidfile.exists()
    assert processes.stop(pidfile, marker, timeout=10) is None  # nothing of ours runs


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path):
    pid, pidfile, marker = _spawn(tmp_path, "stubborn")
    killed: list[bool] = []
    started = time.monotonic()
    assert processes.stop(pidfile, marker, timeout=0.5, on_kill=lambda: killed.append(True)) == pid
    assert killed == [True]
    assert not processes.alive(pid)
    assert time.monotonic() - started < 10


def test_a_pid_file_naming_someone_else_is_removed_and_nobody_signalled(tmp_path):
    pidfile = tmp_path / "stale.pid"
    pidfile.write_text(f"{os.getpid()}\n")  # alive, but its cmdline lacks the marker
    assert processes.send(pidfile, str(tmp_path / "marker"), signal.SIGTERM) is None
    assert not pidfile.exists()


def test_the_lock_makes_a_second_holder_wait(tmp_path):
    lock = tmp_path / "run" / "lab.lock"
    held = threading.Event()

    def hold() -> None:
        with processes.locked(lock):
            held.set()
            time.sleep(0.5)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    started = time.monotonic()
    with processes.locked(lock):
        waited = time.monotonic() - started
    thread.join()
    assert waited >= 0.3


def test_port_free_sees_a_listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not processes.port_free(port)
    assert processes.port_free(port)


def test_write_atomic_sets_the_mode_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "new" / "secret"
    assert write_atomic(path, "s3cret\n", mode=0o600)
    assert path.read_text() == "s3cret\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert os.listdir(path.parent) == ["secret"]


def test_write_atomic_if_changed_leaves_an_identical_file_alone(tmp_path):
    path = tmp_path / "farm.yaml"
    write_atomic(path, b"same\n")
    inode = path.stat().st_ino
    path.chmod(0o600)
    assert not write_atomic(path, "same\n", if_changed=True)
    assert path.stat().st_ino == inode  # not replaced: a watcher sees no change
    assert path.stat().st_mode & 0o777 == 0o644
    assert write_atomic(path, "other\n", if_changed=True, fsync=True)
    assert path.stat().st_ino != inode


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "conf"
    write_atomic(path, "old\n")

    def boom(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, "new\n")
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["conf"]
