"""Following logs and opening a shell in a task, against the lab's real Docker engine
(single-node Swarm, service lab-web) and its real nginx.

The shell tests drive a real terminal: tmux runs the CLI or the whole console, the test
types into the shell that `docker exec -it` opened, and reads the screen back."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.needs import unavailable
from wpfarm_tui.actions import ActionError
from wpfarm_tui.actions.swarm import service_log_stream, task_shell
from wpfarm_tui.app import WpfarmApp
from wpfarm_tui.farm import docker as farm_docker
from wpfarm_tui.screens.logs import LogsScreen
from wpfarm_tui.sites.runtime import site_log_stream
from wpfarm_tui.status.collectors import build_collectors

pytestmark = pytest.mark.lab
SERVICE = "lab-web"  # the lab's Swarm service (busybox httpd)
WPFARM = str(Path(sys.executable).with_name("wpfarm"))


def _say_in_task(farm, text: str) -> None:
    """Write a line to the service's log: into PID 1's stdout of one of its tasks."""
    client = farm_docker.client(farm.endpoints.docker)
    svc = client.services.get(SERVICE)
    task = next(t for t in client.api.tasks(filters={"service": svc.id,
                                                     "desired-state": "running"})
                if t["Status"]["State"] == "running")
    container = client.containers.get(task["Status"]["ContainerStatus"]["ContainerID"])
    container.exec_run(["sh", "-c", f"echo {text} > /proc/1/fd/1"])


def test_service_log_follow_sees_new_lines_and_closes_at_once(lab_farm):
    marker = f"wpfarm-log-{uuid.uuid4().hex[:8]}"
    stream = service_log_stream(lab_farm, SERVICE, tail=5, follow=True)
    got: list[str] = []

    def read() -> None:
        for line in stream.lines():
            got.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(1.0)
    _say_in_task(lab_farm, marker)
    deadline = time.monotonic() + 10
    while not any(marker in line for line in got) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any(marker in line for line in got), got[-5:]
    # The service is quiet now: close() must still end the blocked reader.
    closed_at = time.monotonic()
    stream.close()
    reader.join(5)
    assert not reader.is_alive()
    print(f"follow closed in {time.monotonic() - closed_at:.2f} s")


def test_unknown_service_and_missing_slot_are_named(lab_farm):
    with pytest.raises(ActionError, match="no service 'lab-wbe'.*lab-web"):
        service_log_stream(lab_farm, "lab-wbe")
    with pytest.raises(ActionError, match="no running task in slot 99"):
        task_shell(lab_farm, SERVICE, slot=99)


def test_site_log_follows_the_sites_nginx_log(lab_farm):
    marker = uuid.uuid4().hex[:12]
    stream = site_log_stream(lab_farm, "site1.test", tail=0, follow=True)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.extend(stream.lines()), daemon=True)
    reader.start()
    time.sleep(0.5)
    # Straight to nginx: through Varnish a cached page would not reach it.
    httpx.get(f"http://127.0.0.1:16200/?probe={marker}", headers={"Host": "site1.test"})
    deadline = time.monotonic() + 10
    while not any(marker in line for line in got) and time.monotonic() < deadline:
        time.sleep(0.1)
    stream.close()
    reader.join(5)
    assert any(marker in line and "site1.test.access.log" in line for line in got), got
    with pytest.raises(ActionError, match="characters a domain cannot have"):
        site_log_stream(lab_farm, "site1.test;rm")


# ---------------------------------------------------------------- a real terminal
def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def _screen(session: str) -> str:
    return _tmux("capture-pane", "-p", "-t", session)


def _wait_screen(session: str, text: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = _screen(session)
        if text in screen:
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not on screen within {timeout} s:\n{screen}")
        time.sleep(0.2)


@pytest.fixture
def terminal(tmp_path):
    if shutil.which("tmux") is None:
        unavailable("tmux not installed (scripts/install-deps.sh)")
    session = f"wpfarm-test-{uuid.uuid4().hex[:6]}"

    def start(command: str) -> str:
        env = f"WPFARM_AUDIT_LOG={tmp_path / 'audit.log'} TERM=xterm-256color"
        _tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "32",
              f"env {env} {command}; echo EXITED=$?; sleep 60")
        return session

    yield start
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def _audit(tmp_path: Path) -> list[dict]:
    path = tmp_path / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_cli_shell_in_a_task_runs_commands_and_returns_its_exit_code(lab, terminal, tmp_path):
    session = terminal(f"{WPFARM} --farm {lab.farm_file} service shell {SERVICE}")
    _wait_screen(session, f"of {SERVICE} on")
    _tmux("send-keys", "-t", session, "echo in-task-$((6*7)); hostname", "Enter")
    _wait_screen(session, "in-task-42")
    _tmux("send-keys", "-t", session, "exit 3", "Enter")
    _wait_screen(session, "EXITED=3")
    results = [e["result"] for e in _audit(tmp_path) if e["action"] == "service-shell"]
    assert results == ["opened", "exit 3"]


def test_console_suspends_for_the_shell_and_comes_back(lab, terminal, tmp_path):
    session = terminal(f"{WPFARM} --farm {lab.farm_file}")
    _wait_screen(session, SERVICE)  # the Nodes pane's services table
    _tmux("send-keys", "-t", session, "x")
    _wait_screen(session, "built-in shell")  # busybox's banner: the console handed over
    _tmux("send-keys", "-t", session, "echo from-the-console-$((2*21))", "Enter")
    _wait_screen(session, "from-the-console-42")
    _tmux("send-keys", "-t", session, "exit", "Enter")
    screen = _wait_screen(session, "ended: exit 0")
    assert "Services" in screen  # the console is back, panes and all
    # And it still answers keys.
    _tmux("send-keys", "-t", session, "2")
    _wait_screen(session, "site1.test")
    _tmux("send-keys", "-t", session, "q")
    _wait_screen(session, "EXITED=0")
    assert [e["result"] for e in _audit(tmp_path)
            if e["action"] == "service-shell"] == ["opened", "exit 0"]


async def test_console_follows_a_service_log_and_refuses_a_read_only_shell(lab_farm, tmp_path):
    marker = f"pane-log-{uuid.uuid4().hex[:8]}"
    app = WpfarmApp(lab_farm, build_collectors(lab_farm), read_only=True)
    async with app.run_test(size=(120, 32)) as pilot:
        deadline = time.monotonic() + 20
        while "nodes" not in app.snapshots and time.monotonic() < deadline:
            await pilot.pause(0.1)
        await pilot.press("1", "x")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, LogsScreen)
        assert any("read-only" in str(n.message) for n in app._notifications)
        await pilot.press("l")
        await pilot.pause(0.5)
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        assert screen.title_text == f"service {SERVICE}"
        await pilot.pause(1.0)
        _say_in_task(lab_farm, marker)
        deadline = time.monotonic() + 10
        while screen.received == 0 or marker not in "\n".join(
                str(line.text) for line in screen.query_one("#logs-lines").lines):
            assert time.monotonic() < deadline, "the log line never reached the screen"
            await pilot.pause(0.2)
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, LogsScreen)
        assert screen.stream is not None


def test_cli_shell_is_refused_read_only_and_names_a_wrong_service(lab):
    refused = subprocess.run([WPFARM, "--farm", str(lab.farm_file), "--read-only", "service",
                              "shell", SERVICE], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1 and "read-only" in refused.stderr
    wrong = subprocess.run([WPFARM, "--farm", str(lab.farm_file), "service", "shell",
                            "lab-wbe"], capture_output=True, text=True, timeout=30)
    assert wrong.returncode == 1 and "no service 'lab-wbe'" in wrong.stderr
