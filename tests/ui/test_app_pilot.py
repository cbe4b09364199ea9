"""Behaviour of the console, driven with Textual's Pilot.

Snapshots are fed with `app.console_screen.apply_snapshot(pane, snapshot)` (poll=False),
except in the polling tests, which use the plain-Python stand-in collectors
of `fixtures.py` (NOT the real collectors: the lead's real-lab pilot tests
run the console against the lab's real servers).
"""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.widgets import TabbedContent

from tests.ui.fixtures import (
    FixedCollector,
    RaisingCollector,
    feed_all,
    fixed_collectors,
    make_app,
    sites_down_snapshot,
    sites_snapshot,
)
from wpfarm_tui.screens.help import HelpScreen
from wpfarm_tui.status.model import SiteRow, SitesSnapshot
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.widgets.filter_bar import FilterBar
from wpfarm_tui.widgets.keyed_table import KeyedTable

SIZE = (120, 40)


def active(app) -> str:
    return app.query_one("#tabs", TabbedContent).active


# ---------------------------------------------------------------- navigation
async def test_keys_1_to_6_jump_to_panes():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        feed_all(app)
        for key, pane in zip("123456", ["nodes", "sites", "galera", "caches", "bans", "edge"],
                             strict=True):
            await pilot.press(key)
            await pilot.pause()
            assert active(app) == pane
            tables = app.console_screen.pane_widget(pane).tables
            assert app.focused is not None and app.focused in tables


async def test_absent_pane_key_does_nothing():
    app = make_app(collectors=[FixedCollector("sites"), FixedCollector("galera")])
    async with app.run_test(size=SIZE) as pilot:
        assert app.pane_ids == ["sites", "galera"]
        await pilot.press("3")
        assert active(app) == "galera"
        await pilot.press("1")  # no nodes pane: stays put
        await pilot.pause()
        assert active(app) == "galera"


async def test_command_palette_goes_to_pane_and_sets_theme():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        feed_all(app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Go to Galera")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert active(app) == "galera"

        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Theme: light")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "wpfarm-light"


async def test_tab_titles_carry_the_level():
    app = make_app()
    async with app.run_test(size=SIZE):
        feed_all(app)
        tabs = app.query_one("#tabs", TabbedContent)
        assert tabs.get_tab("galera").label.plain == "✖ Galera CRIT"
        assert tabs.get_tab("sites").label.plain == "▲ Sites WARN"
        assert tabs.get_tab("edge").label.plain == "● Edge"


# ---------------------------------------------------------------- filter
async def test_filter_narrows_sites_and_escape_restores():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        feed_all(app)
        await pilot.press("2")
        table = app.query_one("#sites-table", KeyedTable)
        assert table.row_count == 2
        await pilot.press("slash")
        await pilot.pause()
        bar = app.console_screen.pane_widget("sites").filter_bar
        assert bar.display and app.focused is bar
        await pilot.press(*"SITE2")  # case-insensitive
        await pilot.pause()
        assert table.row_keys == ["site2.lab.wpfarm.test"]

        await pilot.press("enter")  # keep the filter, back to the table
        await pilot.pause()
        assert app.focused is table and table.row_count == 1
        # the filter survives a sync with changed data
        app.console_screen.apply_snapshot("sites", sites_snapshot())
        assert table.row_keys == ["site2.lab.wpfarm.test"]

        await pilot.press("slash")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert table.row_count == 2 and table.filter_text == ""
        assert not app.query_one(FilterBar).display


async def test_escape_on_table_clears_a_kept_filter():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        feed_all(app)
        await pilot.press("2", "slash", *"site1", "enter")
        await pilot.pause()
        table = app.query_one("#sites-table", KeyedTable)
        assert table.row_count == 1
        await pilot.press("escape")
        await pilot.pause()
        assert table.row_count == 2


# ---------------------------------------------------------------- help and theme
async def test_help_opens_and_escape_closes():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_ctrl_t_toggles_theme_and_recolours_cells():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        feed_all(app)
        table = app.query_one("#sites-table", KeyedTable)
        dark_colour = str(table.get_cell("site2.lab.wpfarm.test", "ttfb").style)
        assert app.theme == "wpfarm-dark"
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == "wpfarm-light"
        light_colour = str(table.get_cell("site2.lab.wpfarm.test", "ttfb").style)
        assert dark_colour != light_colour
        assert light_colour == app.current_theme.variables["level-warning"]
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.theme == "wpfarm-dark"


# ---------------------------------------------------------------- a source goes down
async def test_source_going_down_is_named_and_rows_are_kept():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.console_screen.apply_snapshot("sites", sites_snapshot())
        table = app.query_one("#sites-table", KeyedTable)
        keys = table.row_keys
        assert app.console_screen.status_bar.problem_text == ""

        app.console_screen.apply_snapshot("sites", sites_down_snapshot())
        await pilot.pause()
        status = app.console_screen.status_bar.problem_text
        assert "edge-probe down: connection refused (127.0.0.1:18443)" in status
        assert "registry timeout" in status
        assert table.row_keys == keys and table.row_count == 2
        assert table.stale
        pane = app.console_screen.pane_widget("sites")
        assert pane.error_line.display
        assert "edge-probe" in str(pane.error_line.render())
        tabs = app.query_one("#tabs", TabbedContent)
        assert tabs.get_tab("sites").label.plain.endswith("CRIT")

        app.console_screen.apply_snapshot("sites", sites_snapshot())  # back up
        await pilot.pause()
        assert app.console_screen.status_bar.problem_text == ""
        assert not table.stale and not pane.error_line.display


async def test_odd_data_never_crashes():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        odd = SitesSnapshot(
            sources=(),
            sites=(SiteRow("x.test", "weird", None, None, None, None,
                           "line one\nline two " + "z" * 500, Level.CRITICAL),),
        )
        app.console_screen.apply_snapshot("sites", odd)
        await pilot.pause()
        table = app.query_one("#sites-table", KeyedTable)
        assert table.get_cell("x.test", "http").plain == "—"
        error = table.get_cell("x.test", "error")
        assert len(error.plain) <= 48 and error.plain.endswith("…")
        assert error.full.startswith("line one line two")


# ---------------------------------------------------------------- KeyedTable.sync
class TableApp(App):
    def compose(self) -> ComposeResult:
        yield KeyedTable([("name", "Name"), ("value", "Value")], title="t", id="t")


async def test_keyed_table_sync_diffs_by_key():
    app = TableApp()
    async with app.run_test(size=SIZE):
        table = app.query_one(KeyedTable)
        table.sync([("a", ("a", "1")), ("b", ("b", "2")), ("c", ("c", "3"))])
        assert table.row_keys == ["a", "b", "c"] and table.row_count == 3

        updates: list[tuple[str, str]] = []
        original = table.update_cell

        def spy(row_key, column_key, value, **kw):
            updates.append((str(row_key), str(column_key)))
            return original(row_key, column_key, value, **kw)

        table.update_cell = spy  # type: ignore[method-assign]
        removed: list[str] = []
        original_remove = table.remove_row
        table.remove_row = lambda key: (removed.append(str(key)), original_remove(key))[1]

        table.sync([("a", ("a", "1")), ("b", ("b", "22")), ("c", ("c", "3"))])
        assert updates == [("b", "value")]
        assert removed == []
        assert table.row_keys == ["a", "b", "c"] and table.row_count == 3
        assert table.get_cell("b", "value") == "22"

        table.sync([("a", ("a", "1")), ("c", ("c", "3")), ("d", ("d", "4"))])
        assert removed == ["b"]
        assert table.row_keys == ["a", "c", "d"] and table.row_count == 3
        assert table.get_cell("d", "value") == "4"


async def test_keyed_table_filter_across_syncs():
    app = TableApp()
    async with app.run_test(size=SIZE):
        table = app.query_one(KeyedTable)
        table.sync([("alpha", ("Alpha", "1")), ("beta", ("Beta", "2"))])
        table.set_filter("ALP")
        assert table.row_keys == ["alpha"] and table.all_row_count == 2
        # a new matching row appears, a non-matching one stays hidden
        table.sync([("alpha", ("Alpha", "1")), ("beta", ("Beta", "2")),
                    ("alpine", ("Alpine", "3")), ("gamma", ("Gamma", "4"))])
        assert table.row_keys == ["alpha", "alpine"]
        # a row that stops matching is hidden; one that starts matching shows
        table.sync([("alpha", ("Omega", "1")), ("beta", ("Beta alps", "2")),
                    ("alpine", ("Alpine", "3"))])
        assert sorted(table.row_keys) == ["alpha", "alpine", "beta"]  # key "alpha" matches
        table.set_filter("alps")
        assert table.row_keys == ["beta"]
        table.set_filter("")
        assert table.row_keys == ["alpha", "beta", "alpine"]


# ---------------------------------------------------------------- polling
async def _wait_for(predicate, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


async def test_polling_fills_every_pane_and_survives_a_raising_collector():
    collectors = fixed_collectors(delay=0.05)
    collectors[4] = RaisingCollector("bans", delay=0.0)  # answers before mount
    app = make_app(poll=True, collectors=collectors)
    async with app.run_test(size=SIZE) as pilot:
        await _wait_for(lambda: set(app.snapshots) == set(app.pane_ids))
        await pilot.pause()
        assert app.is_running
        assert app.query_one("#sites-table", KeyedTable).row_count == 2
        assert app.query_one("#galera-table", KeyedTable).row_count == 3
        bans = app.snapshots["bans"]
        assert bans.sources[0].state == "error"
        assert "boom: collector bug" in bans.sources[0].error
        assert "CrowdSec error" in app.console_screen.status_bar.problem_text
        tabs = app.query_one("#tabs", TabbedContent)
        assert tabs.get_tab("bans").label.plain.endswith("CRIT")
        # re-armed with backoff: the failing pane keeps being polled, never crashes
        await _wait_for(lambda: collectors[4].calls >= 2)
        assert app.is_running


async def test_polls_never_pile_up():
    slow = FixedCollector("sites", delay=1.5)
    app = make_app(poll=True, collectors=[slow])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.05)
        for _ in range(5):  # `r` while a poll runs must not start a second one
            await pilot.press("r")
        assert "sites" not in app.snapshots  # still the first poll
        assert slow.calls == 1
        await _wait_for(lambda: "sites" in app.snapshots)
        assert slow.max_running == 1
        assert app.console_screen.last_delay["sites"] == app.farm.refresh.interval


async def test_a_poll_landing_while_the_console_closes_is_dropped():
    """Closing removes widgets one by one; a snapshot that arrives between the status
    bar's removal and the pane's must not crash the console (a CI run saw exactly that)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.console_screen.status_bar.remove()
        await pilot.pause()
        app.console_screen.apply_snapshot("sites", sites_snapshot())
        assert app.snapshots["sites"] is not None
