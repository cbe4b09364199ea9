"""The console against the lab's real servers, driven with Textual's Pilot.

No stand-ins: the app polls the real collectors; CrowdSec is stopped while it
runs and the console must say so within a refresh and keep responding."""

from __future__ import annotations

import asyncio
import time

import pytest
from textual.widgets import TabbedContent

from wpfarm_tui.app import WpfarmApp
from wpfarm_tui.status.collectors import build_collectors
from wpfarm_tui.status.panes import BY_KEY as PANES
from wpfarm_tui.status.thresholds import Level

pytestmark = pytest.mark.lab
SIZE = (120, 40)


async def wait_until(pilot, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s")
        await pilot.pause(0.1)


async def test_every_pane_fills_from_the_lab(lab_farm):
    app = WpfarmApp(lab_farm, build_collectors(lab_farm))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: set(app.snapshots) == set(PANES), 20)
        # Backups may be critical on a long-lived lab (its last backup older than the RPO):
        # that is the pane working, not the console failing.
        await wait_until(pilot, lambda: all(
            s.level is not Level.CRITICAL for p, s in app.snapshots.items() if p != "backups"),
            20)
        sites = app.console_screen.pane_widget("sites")
        assert sites.tables[0].all_row_count == 2
        galera = app.console_screen.pane_widget("galera")
        assert galera.tables[0].all_row_count == 3
        assert app.console_screen.status_bar.problem_text == ""
        # Filter the live sites table.
        await pilot.press("2", "slash")
        await pilot.press(*"site2")
        await pilot.press("enter")
        await pilot.pause()
        assert sites.tables[0].row_count == 1


async def test_killed_source_turns_red_and_console_keeps_responding(lab, lab_farm):
    app = WpfarmApp(lab_farm, build_collectors(lab_farm))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "bans" in app.snapshots
                         and app.snapshots["bans"].sources[0].ok, 20)
        await asyncio.to_thread(lab.stop, "crowdsec")
        try:
            stopped = time.monotonic()
            # Within one refresh (1 s in the lab's farm.yaml) plus the poll itself.
            bar = app.console_screen.status_bar
            await wait_until(pilot, lambda: "crowdsec" in bar.problem_text, 5)
            noticed = time.monotonic() - stopped
            assert app.console_screen.pane_widget("bans").level is Level.CRITICAL
            assert "CRIT" in app.console_screen.pane_title("bans") or "CRIT" in str(
                app.query_one("#tabs", TabbedContent).get_tab("bans").label)
            # The console still answers keys and the other panes still refresh.
            galera_before = app.snapshots["galera"]
            await pilot.press("3")
            await pilot.pause()
            assert app.query_one("#tabs", TabbedContent).active == "galera"
            await pilot.press("question_mark")
            await pilot.pause()
            assert app.screen.__class__.__name__ == "HelpScreen"
            await pilot.press("escape")
            # A new Galera snapshot arrives while CrowdSec is down.
            await wait_until(pilot, lambda: app.snapshots["galera"] is not galera_before, 5)
            print(f"crowdsec down noticed after {noticed:.2f} s")
        finally:
            await asyncio.to_thread(lab.start, "crowdsec", lambda _m: None)
        bar = app.console_screen.status_bar
        await wait_until(pilot, lambda: "crowdsec" not in bar.problem_text, 30)
