"""The Alerts pane (key 7): incidents, each a cause with its alerts folded under it, worst
and newest first; Enter opens the cause's procedure, or says there is none."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import TabbedContent

from tests.ui.action_fixtures import action_app
from tests.ui.fixtures import feed_all, make_app
from wpfarm_tui.screens.action import ActionScreen
from wpfarm_tui.status.alerts import alerts_from
from wpfarm_tui.status.incidents import incidents_from
from wpfarm_tui.status.model import SiteRow
from wpfarm_tui.status.thresholds import Level

SIZE = (120, 40)


async def test_key_7_lists_incidents_and_enter_opens_the_procedure(tmp_path):
    app = action_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        feed_all(app)
        await pilot.press("7")
        await pilot.pause()
        assert app.query_one("#tabs", TabbedContent).active == "alerts"
        pane = app.console_screen.alerts_pane
        expected = incidents_from(app.snapshots, alerts_from(app.snapshots), frozenset())
        assert [i.key for i in pane.incidents] == [i.key for i in expected]
        folded = sum(min(len(i.symptoms), 5) for i in expected if len(i.symptoms) > 1)
        assert pane.table.row_count == len(expected) + folded > 0
        levels = [i.level for i in pane.incidents]
        assert levels == sorted(levels, reverse=True)  # worst first
        # galera-3 is down in the fixtures: its procedure is a rejoin of galera-3.
        galera = next(i for i in pane.incidents if i.kind == "galera-node-down")
        assert galera.procedure == "galera-rejoin" and galera.values == {"node": "galera-3"}
        assert pane.table.row_keys[0] == galera.key  # the only critical one
        pane.table.move_cursor(row=pane.table.get_row_index(galera.key))
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ActionScreen)
        assert screen.entry.name == "galera-rejoin" and screen.values["node"] == "galera-3"


def _varnish_down(app, n_sites: int) -> None:
    """The fixtures with Varnish down and every site answering 503 (no flag set)."""
    feed_all(app)
    caches = app.snapshots["caches"]
    app.console_screen.apply_snapshot("caches", replace(caches, varnish=(replace(
        caches.varnish[0], reachable=False, error="varnishstat: exit 1",
        level=Level.CRITICAL),)))
    sites = app.snapshots["sites"]
    app.console_screen.apply_snapshot("sites", replace(sites, sites=tuple(
        SiteRow(f"site{i:03d}.lab.test", "active", 503, 3.0, None, None, None, Level.CRITICAL)
        for i in range(n_sites))))


async def test_many_site_alerts_under_varnish_down_are_one_incident(tmp_path):
    app = action_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        _varnish_down(app, 40)
        await pilot.press("7")
        await pilot.pause()
        pane = app.console_screen.alerts_pane
        varnish = [i for i in pane.incidents if i.kind == "varnish-down"]
        assert len(varnish) == 1
        assert varnish[0].cause == "Varnish down, 40 sites affected"
        # No incident proposes "maintenance off": no flag is set.
        assert not [i for i in pane.incidents if i.procedure == "maintenance-off"]
        assert not [i for i in pane.incidents if any(a.pane == "sites" for a in i.symptoms)
                    and i is not varnish[0]]
        # 40 site alerts, folded: the incident, 5 symptom rows and "… and 36 more".
        keys = [k for k in pane.table.row_keys if k.startswith(varnish[0].key)]
        assert len(keys) == 1 + 5 + 1
        assert pane.table.row_keys[:7] == keys  # the worst first, its symptoms under it
        # Enter on a folded symptom row selects its incident.
        pane.table.move_cursor(row=pane.table.get_row_index(keys[2]))
        assert pane.selected() is varnish[0]
        # The journal (beside the tests' audit log) has it open.
        from wpfarm_tui.actions.journal import IncidentJournal

        open_now = {r.key for r in IncidentJournal().records() if r.cleared is None}
        assert varnish[0].key in open_now
        # Enter on it: there is no Varnish procedure in the lab, and the pane says so.
        pane.table.move_cursor(row=pane.table.get_row_index(varnish[0].key))
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, ActionScreen)
        assert any("No procedure fits Varnish down" in str(n.message)
                   for n in app._notifications)


def test_alerts_pane_dark(snap_compare):
    async def run_before(pilot) -> None:
        await pilot.pause()  # the console screen composes its panes
        feed_all(pilot.app)
        await pilot.press("7")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)
