"""The Alerts pane (key 7): rows past a threshold and sources down, newest first, and
Enter opens the fitting procedure's action screen."""

from __future__ import annotations

from textual.widgets import TabbedContent

from tests.ui.action_fixtures import action_app
from tests.ui.fixtures import feed_all, make_app
from wpfarm_tui.actions.catalog import alerts_from
from wpfarm_tui.screens.action import ActionScreen

SIZE = (120, 40)


async def test_key_7_lists_alerts_and_enter_opens_the_procedure(tmp_path):
    app = action_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        feed_all(app)
        await pilot.press("7")
        await pilot.pause()
        assert app.query_one("#tabs", TabbedContent).active == "alerts"
        pane = app.alerts_pane
        expected = alerts_from(app.snapshots)
        assert [a.key for a in pane.alerts] == [a.key for a in expected]
        assert pane.table.row_count == len(expected) > 0
        ats = [a.at for a in pane.alerts]
        assert ats == sorted(ats, reverse=True)  # newest first
        # galera-3 is down in the fixtures: its procedure is a rejoin of galera-3.
        galera = next(a for a in pane.alerts if a.subject == "galera-3")
        assert galera.procedure == "galera-rejoin" and galera.values == {"node": "galera-3"}
        pane.table.move_cursor(row=pane.table.get_row_index(galera.key))
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ActionScreen)
        assert screen.entry.name == "galera-rejoin" and screen.values["node"] == "galera-3"


def test_alerts_pane_dark(snap_compare):
    async def run_before(pilot) -> None:
        feed_all(pilot.app)
        await pilot.press("7")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)
