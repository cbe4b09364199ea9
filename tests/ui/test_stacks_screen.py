"""The deploy screen: the operator's first Enter deploys (the focused plan table used to
take it), nothing runs before the plan is shown, and a console opened with --read-only
(farm.read_only false) refuses the deploy and audits it.

`Rollout` is a plain action written for these tests (the screen takes any action); the real
deploy against a Swarm is tests/swarm/test_deploy_e2e.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from textual.app import App
from textual.widgets import DataTable, Static

from tests.ui.action_fixtures import action_app, action_farm
from wpfarm_tui.actions import AuditLog, Step, StepEvent, Verdict
from wpfarm_tui.screens.stacks import DeployScreen, StacksScreen

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def _audit_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("WPFARM_AUDIT_LOG", str(tmp_path / "audit.log"))


class Rollout:
    name = "deploy"
    destructive = False

    def __init__(self) -> None:
        self.runs = 0
        self.plan_ready = threading.Event()
        self.plan_ready.set()

    def describe(self) -> Mapping[str, Any]:
        return {"layers": ["app"]}

    def plan(self) -> list[Step]:
        self.plan_ready.wait(10)
        return [Step("create app_wordpress", "3 replicas"), Step("converge app", "wait")]

    def run(self) -> Iterator[StepEvent]:
        self.runs += 1
        yield StepEvent("done", "app_wordpress", "3/3")

    def verify(self) -> Verdict:
        return Verdict(True, "deployed")


class Host(App[None]):
    def __init__(self, screen: DeployScreen) -> None:
        super().__init__()
        self.deploy = screen

    def on_mount(self) -> None:
        self.push_screen(self.deploy)


async def _until(pilot, check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


async def test_first_enter_deploys():
    action = Rollout()
    screen = DeployScreen(action, read_only=False)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: screen.state == "planned")
        plan = screen.query_one("#deploy-plan", DataTable)
        assert plan.row_count == 2 and app.focused is plan  # where Enter used to stop
        await pilot.press("enter")
        await _until(pilot, lambda: screen.state == "finished")
        assert action.runs == 1
        await pilot.press("enter")  # done: a second Enter deploys nothing more
        await pilot.pause()
        assert action.runs == 1
    results = [e["result"] for e in AuditLog().entries()]
    assert results == ["dry-run", "ok"], results


async def test_enter_before_the_plan_is_shown_runs_nothing():
    action = Rollout()
    action.plan_ready.clear()  # the plan is still being read (a slow Docker API)
    screen = DeployScreen(action, read_only=False)
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        action.plan_ready.set()
        await _until(pilot, lambda: screen.state == "planned")
        await pilot.pause(0.2)
        assert action.runs == 0


async def test_read_only_console_refuses_deploy_on_the_stacks_screen(tmp_path):
    """`wpfarm --read-only` on a farm whose farm.yaml does not say read_only: the deploy
    screen used to check farm.read_only only, and deployed."""
    farm = action_farm(read_only=False)
    app = action_app(tmp_path, read_only=True, farm=farm)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await _until(pilot, lambda: isinstance(app.screen, StacksScreen))
        await pilot.press("d")
        await _until(pilot, lambda: isinstance(app.screen, DeployScreen))
        screen = app.screen
        await _until(pilot, lambda: screen.state != "planning")
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert screen.state == "failed"
        status = str(screen.query_one("#deploy-status", Static).render())
        assert "read-only mode" in status, status
        assert screen.query_one("#deploy-plan", DataTable).row_count == 0
    entries = [(e["action"], e["result"]) for e in AuditLog().entries()]
    assert entries == [("deploy", "refused: read-only")], entries
