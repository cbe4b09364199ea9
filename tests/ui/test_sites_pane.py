"""The Sites pane: sorting (at 600 rows), the last-backup-age column joined from a
Backups snapshot, and the n / d keys that open the create and delete screens.

The snapshots are built here: this is display logic. The real create and delete
from these keys run against the lab in tests/sites/test_sites_pane_lab.py.
"""

from __future__ import annotations

import time
from dataclasses import replace

from textual.app import App, ComposeResult
from textual.widgets import Input

from tests.ui.action_fixtures import action_app, settled
from tests.ui.fixtures import CHECKED_AT, feed_all, make_app, ok
from wpfarm_tui.app import WpfarmApp
from wpfarm_tui.screens.action import ActionScreen
from wpfarm_tui.status.backups import BackupsSnapshot, SiteBackups
from wpfarm_tui.status.model import SiteRow, SitesSnapshot, SourceHealth
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.status.traffic_model import SiteTraffic, TrafficFigures
from wpfarm_tui.themes import load_themes
from wpfarm_tui.widgets import cells
from wpfarm_tui.widgets.keyed_table import KeyedTable
from wpfarm_tui.widgets.sites_pane import SitesPane

SIZE = (120, 40)
MANY = 600


def many_sites(n: int = MANY) -> SitesSnapshot:
    """n sites; every 7th has no TTFB yet (not probed), sizes spread over KiB..GiB."""
    rows = []
    for i in range(n):
        ttfb = None if i % 7 == 0 else float((i * 37) % 1000)
        rows.append(SiteRow(f"s{i:04d}.test", "active", 200 if ttfb else None, ttfb, "HIT",
                            90.0, None, Level.OK, db_size=(i * 7919) % 5000 * 1024 ** (i % 3)))
    return SitesSnapshot((ok("edge"),), tuple(rows))


def sort_values(table: KeyedTable, column: str) -> list:
    return [cells.sort_value(table.get_cell(key, column)) for key in table.row_keys]


def cursor_key(table: KeyedTable) -> str:
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value


async def sites_table(app: WpfarmApp, pilot, snapshot: SitesSnapshot | None) -> KeyedTable:
    """Show `snapshot` (or every fixture snapshot) and go to the Sites pane."""
    if snapshot is None:
        feed_all(app)
    else:
        app.console_screen.apply_snapshot("sites", snapshot)
    await pilot.press("2")
    return app.query_one("#sites-table", KeyedTable)


# ---------------------------------------------------------------- sorting
async def test_o_cycles_columns_and_numbers_sort_by_value_with_missing_last():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await sites_table(app, pilot, many_sites())
        assert table.row_count == MANY and table.sort_column is None
        for column in ("level", "domain", "state", "rps", "hit", "pass", "s5", "p95", "http",
                       "ttfb"):
            await pilot.press("o")
            assert table.sort_column == column
        values = sort_values(table, "ttfb")
        present = [v for v in values if v is not None]
        assert present == sorted(present) and len(present) < MANY
        assert values[len(present):] == [None] * (MANY - len(present))  # "—" last
        assert "by Probe ms ↑" in str(table.border_title)

        await pilot.press("O")  # reversed: biggest first, "—" still last
        values = sort_values(table, "ttfb")
        assert values[: len(present)] == sorted(present, reverse=True)
        assert values[len(present):] == [None] * (MANY - len(present))
        assert table.sort_descending and "by Probe ms ↓" in str(table.border_title)

        # Sizes by bytes, not by their text ("1.5 MiB" after "900.0 KiB").
        await pilot.press("o")
        assert table.sort_column == "db_size"
        sizes = sort_values(table, "db_size")
        assert sizes == sorted(sizes)
        shown = [table.get_cell(k, "db_size").plain for k in table.row_keys]
        assert shown != sorted(shown)

        for _ in range(3):  # db_size -> backup -> error -> back to the synced order
            await pilot.press("o")
        assert table.sort_column is None
        assert table.row_keys == [f"s{i:04d}.test" for i in range(MANY)]


async def test_header_click_sorts_and_a_second_click_reverses():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await sites_table(app, pilot, None)
        before = list(table.columns)[: list(table.columns).index("hit")]
        header = (table.content_region.x - table.region.x + 1
                  + sum(table.columns[c].get_render_width(table) for c in before),
                  table.content_region.y - table.region.y)  # the "Hit %" header
        await pilot.click(table, offset=header)
        assert (table.sort_column, table.sort_descending) == ("hit", False)
        assert table.row_keys == ["site2.lab.wpfarm.test", "site1.lab.wpfarm.test"]
        await pilot.click(table, offset=header)
        assert (table.sort_column, table.sort_descending) == ("hit", True)
        assert table.row_keys == ["site1.lab.wpfarm.test", "site2.lab.wpfarm.test"]


async def test_sorted_table_follows_syncs_by_row_key():
    """A refresh moves a row whose sort value changed, adds new rows in place, keeps the
    cursor on its site, and never clears or rebuilds the table."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        snapshot = many_sites()
        table = await sites_table(app, pilot, snapshot)
        table.sort_by("ttfb", descending=True)
        table.move_cursor(row=10)
        selected = cursor_key(table)

        calls: list[str] = []
        for name in ("clear", "add_row", "remove_row"):
            original = getattr(table, name)
            setattr(table, name, lambda *a, _n=name, _o=original, **k: (calls.append(_n),
                                                                       _o(*a, **k))[1])
        rows = list(snapshot.sites)
        slow = rows[5] = replace(rows[5], ttfb_ms=5000.0)  # slowest now
        rows.append(SiteRow("zz-new.test", "active", 200, 4000.0, "MISS", None, None))
        del rows[1]
        app.console_screen.apply_snapshot("sites", SitesSnapshot(snapshot.sources, tuple(rows)))
        await pilot.pause()

        assert sorted(calls) == ["add_row", "remove_row"]  # the new row, the vanished one
        assert table.row_keys[:2] == [slow.domain, "zz-new.test"]
        values = sort_values(table, "ttfb")
        present = [v for v in values if v is not None]
        assert values[: len(present)] == sorted(present, reverse=True)
        assert cursor_key(table) == selected

        # An unchanged refresh does not even re-sort.
        sorts: list[int] = []
        table.sort = lambda *a, **k: sorts.append(1)  # type: ignore[method-assign]
        app.console_screen.apply_snapshot("sites", SitesSnapshot(snapshot.sources, tuple(rows)))
        assert sorts == []


async def test_filter_and_sort_together():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await sites_table(app, pilot, many_sites())
        table.sort_by("ttfb", descending=True)
        await pilot.press("slash", *"s01", "enter")  # s0100 .. s0199
        await pilot.pause()
        assert table.row_count == 100
        values = sort_values(table, "ttfb")
        present = [v for v in values if v is not None]
        assert values == sorted(present, reverse=True) + [None] * (100 - len(present))
        await pilot.press("escape")  # filter gone, still sorted
        await pilot.pause()
        assert table.row_count == MANY and table.sort_column == "ttfb"
        assert sort_values(table, "ttfb")[0] == 999.0


def trafficked_sites(n: int = MANY) -> SitesSnapshot:
    """n sites with visitors' figures; s0433 is the broken one (30 % 5xx)."""
    rows = []
    for i in range(n):
        s5 = 30.0 if i == 433 else float(i % 5) / 10
        m1 = TrafficFigures(600, 10.0 + i % 17, 90.0, 8.0, 2.0, 1.0, s5, 12.0,
                            float(40 + i % 150), 300.0, 5e5,
                            Level.CRITICAL if i == 433 else Level.OK)
        rows.append(SiteRow(f"s{i:04d}.test", "active", 200, 50.0, "HIT", 90.0, None,
                            m1.level, traffic=SiteTraffic(f"s{i:04d}.test", m1, m1)))
    return SitesSnapshot((ok("edge"), ok("traffic")), tuple(rows))


async def test_sort_by_5xx_finds_the_broken_site_and_filter_keeps_it():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await sites_table(app, pilot, trafficked_sites())
        table.sort_by("s5", descending=True)
        await pilot.pause()
        assert table.row_keys[0] == "s0433.test"
        assert table.get_cell("s0433.test", "s5").plain.startswith("30")
        p95 = sort_values(table, "p95")
        assert all(isinstance(v, float) for v in p95)  # sorted by value, not text
        await pilot.press("slash", *"s04", "enter")  # s0400 .. s0499, still by 5xx
        await pilot.pause()
        assert table.row_count == 100 and table.row_keys[0] == "s0433.test"


# ---------------------------------------------------------------- backup age
NOW = CHECKED_AT


class PaneHost(App[None]):
    """The Sites pane alone, with a clock the test moves."""

    def __init__(self) -> None:
        super().__init__()
        for theme in load_themes().values():
            self.register_theme(theme)
        self.theme = "wpfarm-dark"
        self.now = NOW

    def compose(self) -> ComposeResult:
        yield SitesPane(id="sites-pane", clock=lambda: self.now)


def five_sites() -> SitesSnapshot:
    def site(domain: str, state: str = "active") -> SiteRow:
        return SiteRow(domain, state, 200, 50.0, "HIT", 99.0, None, Level.OK, 1_000_000)

    return SitesSnapshot((ok("edge"),), (
        site("fresh.test"), site("late.test"), site("never.test"),
        site("paused.test", "suspended"), site("new.test")))


def backups(*sources: SourceHealth, rows: bool = True) -> BackupsSnapshot:
    sites = (SiteBackups("fresh.test", db_time=NOW - 20 * 60),
             SiteBackups("late.test", db_time=NOW - 3 * 3600 - 240, files_time=NOW - 60),
             SiteBackups("never.test", note="never backed up"),
             SiteBackups("paused.test", note="never backed up"),
             SiteBackups("deleted.test", db_time=NOW - 60))  # not a site any more
    return BackupsSnapshot(sources or (ok("repository"),), sites if rows else ())


def backup_cells(pane: SitesPane) -> dict[str, tuple[str, str]]:
    table = pane.table
    return {key: (table.get_cell(key, "backup").plain, str(table.get_cell(key, "backup").style))
            for key in table.row_keys}


async def test_backup_age_joined_by_domain_and_coloured_by_the_rpo():
    app = PaneHost()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(SitesPane)
        pane.show(five_sites())
        await pilot.pause()
        assert {v[0] for v in backup_cells(pane).values()} == {"—"}  # nothing known yet

        pane.set_backups(backups())
        await pilot.pause()
        colour = pane.palette.of
        assert backup_cells(pane) == {
            "fresh.test": ("20m 00s", colour(Level.OK)),
            "late.test": ("3h 04m", colour(Level.WARNING)),  # the DB backup, not the files
            "never.test": ("never", colour(Level.CRITICAL)),  # active: no backup at all
            "paused.test": ("never", colour(Level.UNKNOWN)),  # suspended: no alarm
            "new.test": ("—", ""),  # the Backups collector has not seen it yet
        }
        assert pane.table.row_keys == [s.domain for s in five_sites().sites]

        # The ages grow with the clock, on the next Sites refresh (no restic call).
        app.now += 41 * 60
        pane.show(five_sites())
        await pilot.pause()
        assert backup_cells(pane)["fresh.test"] == ("1h 01m", colour(Level.WARNING))

        # Sorted by age: newest backup first, "never" after the oldest, unknown last.
        pane.table.sort_by("backup")
        assert pane.table.row_keys == ["fresh.test", "late.test", "never.test",
                                       "paused.test", "new.test"]

        # A repository that does not answer keeps the known times; it does not say "never".
        pane.set_backups(backups(SourceHealth("repository", "down", "connection refused"),
                                 rows=False))
        await pilot.pause()
        assert backup_cells(pane)["late.test"][0] == "3h 45m"


async def test_app_hands_each_backups_snapshot_to_the_sites_pane():
    class BackupsStandIn:  # never polled here (poll=False): only its pane is built
        pane, title = "backups", "Backups"

        def collect(self) -> BackupsSnapshot:  # pragma: no cover
            raise AssertionError("not polled")

    app = make_app(collectors=[*make_app().console_screen.collectors.values(), BackupsStandIn()])
    async with app.run_test(size=SIZE) as pilot:
        feed_all(app)
        now = time.time()
        app.console_screen.apply_snapshot("backups", BackupsSnapshot((ok("repository"),), (
            SiteBackups("site1.lab.wpfarm.test", db_time=now - 2 * 86400 - 3 * 3600),
            SiteBackups("site2.lab.wpfarm.test", db_time=now - 5))))
        await pilot.pause()
        table = app.query_one("#sites-table", KeyedTable)
        assert table.get_cell("site1.lab.wpfarm.test", "backup").plain == "2d 03h"
        assert table.get_cell("site2.lab.wpfarm.test", "backup").plain.endswith("s")


# ---------------------------------------------------------------- n and d
async def _pane_key(app: WpfarmApp, pilot, key: str) -> ActionScreen:
    feed_all(app)
    await pilot.press("2", "down", key)  # the second row: site2
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ActionScreen)
    return screen


async def test_n_opens_the_create_form(tmp_path, monkeypatch):
    monkeypatch.setenv("WPFARM_AUDIT_LOG", str(tmp_path / "audit.log"))
    app = action_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _pane_key(app, pilot, "n")
        assert screen.entry.name == "site-create" and screen.values == {}
        assert screen.state == "input"  # waits for the domain
        domain = screen.query_one("#field-domain", Input)
        assert app.focused is domain and domain.value == ""
        await pilot.press(*"new.lab.test", "enter")
        await settled(pilot, screen)
        assert screen.state == "planned" and screen.query_one("#action-buttons").display


async def test_d_opens_the_delete_of_the_selected_site(tmp_path, monkeypatch):
    monkeypatch.setenv("WPFARM_AUDIT_LOG", str(tmp_path / "audit.log"))
    app = action_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _pane_key(app, pilot, "d")
        assert screen.entry.name == "site-delete"
        assert screen.values == {"domain": "site2.lab.wpfarm.test"}
        assert screen.query_one("#field-domain", Input).value == "site2.lab.wpfarm.test"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ActionScreen)
        await pilot.press("d")  # the keys work from the pane only, not over a screen
        await pilot.pause()
        assert isinstance(app.screen, ActionScreen)
        await pilot.press("n")  # typed into the form, no second screen
        await pilot.pause()
        assert len(app.screen_stack) == 2


async def test_read_only_console_refuses_n_and_d(tmp_path, monkeypatch):
    monkeypatch.setenv("WPFARM_AUDIT_LOG", str(tmp_path / "audit.log"))
    app = action_app(tmp_path, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        for key in ("n", "d"):
            screen = await _pane_key(app, pilot, key)
            assert screen.state == "refused"
            assert not screen.query_one("#action-buttons").display
            await pilot.press("escape")
            await pilot.pause()


# ---------------------------------------------------------------- Enter: the site screen
async def test_enter_opens_the_site_screen_whose_keys_ban_and_purge(tmp_path, monkeypatch):
    from textual.widgets import Static

    from wpfarm_tui.screens.site import SiteScreen

    monkeypatch.setenv("WPFARM_AUDIT_LOG", str(tmp_path / "audit.log"))
    app = action_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        feed_all(app)
        await pilot.press("2", "down", "enter")
        await pilot.pause()
        site = app.screen
        assert isinstance(site, SiteScreen) and site.domain == "site2.lab.wpfarm.test"
        assert "3.20/s" in str(site.query_one("#site-m1", Static).render())
        assert site.selected_client() == "203.0.113.66"
        await pilot.press("down", "b")  # the second client
        await pilot.pause()
        ban = app.screen
        assert isinstance(ban, ActionScreen) and ban.entry.name == "ban"
        assert ban.values["ip"] == "198.51.100.7"
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is site
        await pilot.press("p")
        await pilot.pause()
        purge = app.screen
        assert isinstance(purge, ActionScreen) and purge.entry.name == "cache-purge"
        assert purge.values == {"domain": "site2.lab.wpfarm.test"}
