"""The Sites pane: the last-backup-age column joined from a Backups snapshot.

The snapshots are built here: this is display logic.
"""

from __future__ import annotations

import time

from textual.app import App, ComposeResult

from tests.ui.fixtures import CHECKED_AT, feed_all, make_app, ok
from wpfarm_tui.status.backups import BackupsSnapshot, SiteBackups
from wpfarm_tui.status.model import SiteRow, SitesSnapshot, SourceHealth
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.themes import load_themes
from wpfarm_tui.widgets.keyed_table import KeyedTable
from wpfarm_tui.widgets.sites_pane import SitesPane

SIZE = (120, 40)


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

    app = make_app(collectors=[*make_app().collectors.values(), BackupsStandIn()])
    async with app.run_test(size=SIZE) as pilot:
        feed_all(app)
        now = time.time()
        app.apply_snapshot("backups", BackupsSnapshot((ok("repository"),), (
            SiteBackups("site1.lab.wpfarm.test", db_time=now - 2 * 86400 - 3 * 3600),
            SiteBackups("site2.lab.wpfarm.test", db_time=now - 5))))
        await pilot.pause()
        table = app.query_one("#sites-table", KeyedTable)
        assert table.get_cell("site1.lab.wpfarm.test", "backup").plain == "2d 03h"
        assert table.get_cell("site2.lab.wpfarm.test", "backup").plain.endswith("s")
