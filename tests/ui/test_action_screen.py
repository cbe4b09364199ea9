"""The action screen: plan, confirmation (Cancel focused when destructive), live events,
verdict, read-only refusal; and a snapshot of every catalog procedure's plan screen."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, RichLog, Static

from tests.ui.action_fixtures import action_app, action_farm, settled
from wpfarm_tui.actions import AuditLog
from wpfarm_tui.actions.catalog import CATALOG, Context
from wpfarm_tui.app import WpfarmApp
from wpfarm_tui.screens.action import ActionScreen
from wpfarm_tui.status.collectors import build_collectors

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def _audit_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("WPFARM_AUDIT_LOG", str(tmp_path / "audit.log"))


async def _open(app, pilot, name, values=None) -> ActionScreen:
    app.open_action(name, values)
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ActionScreen)
    await settled(pilot, screen)
    return screen


async def test_destructive_plan_focuses_cancel(tmp_path):
    app = action_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, "cache-purge-all")
        assert screen.state == "planned"
        assert screen.query_one("#plan", DataTable).row_count == 3
        assert app.focused is screen.query_one("#cancel", Button)
        assert "DESTRUCTIVE" in str(screen.query_one("#action-note", Static).render())
        await pilot.press("enter")  # Enter on the focused Cancel: nothing runs
        await pilot.pause()
        assert not isinstance(app.screen, ActionScreen)
        assert AuditLog().entries() == []


async def test_harmless_plan_focuses_run(tmp_path):
    app = action_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, "galera-desync", {"node": "galera-2"})
        assert app.focused is screen.query_one("#run", Button)


async def test_bad_input_is_shown_and_can_be_fixed(tmp_path):
    app = action_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, "ban")
        assert screen.state == "input"
        await pilot.press(*"203.0.113.7/24", "enter")
        await settled(pilot, screen)
        note = str(screen.query_one("#action-note", Static).render())
        assert "host bits set" in note and screen.state == "input"
        field = screen.query_one("#field-ip")
        field.value = "203.0.113.0/24"
        screen.query_one("#field-reason").value = "xmlrpc flood"
        await pilot.click("#show-plan")
        await settled(pilot, screen)
        assert screen.state == "planned"
        assert screen.query_one("#plan", DataTable).row_count == 3


@pytest.mark.parametrize("how", ["flag", "farm"])
async def test_read_only_console_refuses_every_catalog_action(tmp_path, how):
    # "flag": `wpfarm --read-only` on a farm whose farm.yaml does not say read_only.
    app = action_app(tmp_path, read_only=True, farm=action_farm(read_only=how == "farm"))
    async with app.run_test(size=SIZE) as pilot:
        for entry in CATALOG:
            screen = await _open(app, pilot, entry.name, dict(entry.example))
            assert screen.state == "refused", entry.name
            assert "read-only" in str(screen.query_one("#action-note", Static).render())
            assert not screen.query_one("#action-buttons").display
            await pilot.press("escape")
            await pilot.pause()
    refused = [e for e in AuditLog().entries() if e["result"] == "refused: read-only"]
    assert {e["action"] for e in refused} == {e.name for e in CATALOG}


@pytest.mark.lab
async def test_events_and_verdict_from_a_real_run(lab, lab_farm):
    app = WpfarmApp(lab_farm, build_collectors(lab_farm), poll=False,
                    action_context=Context.for_farm(lab_farm))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, "cache-purge", {"domain": "site1.test"})
        assert app.focused is screen.query_one("#run", Button)
        await pilot.press("enter")
        deadline = time.monotonic() + 20
        while screen.verdict is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            await pilot.pause()
        assert screen.verdict is not None and screen.verdict.ok, screen.verdict
        kinds = [e.kind for e in screen.events]
        assert kinds.count("done") >= 2
        assert len(screen.query_one("#action-log", RichLog).lines) == len(screen.events)
        assert "OK" in str(screen.query_one("#verdict", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ActionScreen)


# ---------------------------------------------------------------- looks
# Their plans ask the farm (the registry, SSH to each node): what they show depends on the
# machine, so a snapshot of them could not be stable. Their screens are the same widget.
PLANS_FROM_THE_FARM = {"backup", "bootstrap", "site-delete"}


@pytest.mark.parametrize("name", [e.name for e in CATALOG if e.name not in PLANS_FROM_THE_FARM])
def test_procedure_screen(snap_compare, tmp_path: Path, name):
    entry = next(e for e in CATALOG if e.name == name)

    async def run_before(pilot) -> None:
        pilot.app.open_action(name, dict(entry.example))
        await settled(pilot)

    assert snap_compare(action_app(tmp_path), terminal_size=SIZE, run_before=run_before)


def test_read_only_refusal_screen(snap_compare, tmp_path: Path):
    async def run_before(pilot) -> None:
        pilot.app.open_action("galera-recover")
        await pilot.pause()

    assert snap_compare(action_app(tmp_path, read_only=True), terminal_size=SIZE,
                        run_before=run_before)


async def test_a_hanging_database_never_freezes_the_screen(tmp_path):
    """The plan of site-delete reads the registry on Galera. A server that accepts and
    then says nothing (a real socket: a hung mariadbd looks like this) holds the plan
    for its timeout; the console keeps answering meanwhile."""
    import dataclasses
    import socket

    from wpfarm_tui.inventory import GaleraEndpoint, HostPort

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)
    port = hung.getsockname()[1]
    try:
        farm = action_app(tmp_path).farm
        galera = GaleraEndpoint("wpfarm", None, (HostPort("galera-1", "127.0.0.1", port),),
                                timeout=2.0)
        farm = dataclasses.replace(farm, endpoints=dataclasses.replace(farm.endpoints,
                                                                       galera=galera))
        app = action_app(tmp_path, farm=farm)
        async with app.run_test(size=SIZE) as pilot:
            started = time.monotonic()
            app.open_action("site-delete", {"domain": "site1.test"})
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ActionScreen) and screen.state == "planning"
            assert "Planning" in str(screen.query_one("#action-note", Static).render())
            # The UI answers while the plan waits on the hung server.
            for _ in range(5):
                t0 = time.monotonic()
                await pilot.pause()
                assert time.monotonic() - t0 < 0.5
            await settled(pilot, screen, timeout=15)
            assert time.monotonic() - started >= 1.5  # it did wait on the server
            assert screen.state == "input" and screen.action is None
            assert not screen.query_one("#action-buttons").display
    finally:
        hung.close()
