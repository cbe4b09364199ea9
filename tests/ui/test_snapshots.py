"""Looks: an SVG snapshot of every pane (dark theme), the light theme, and help.

Fed with the fixed lab-shaped snapshots of `fixtures.py` and a frozen clock,
so nothing depends on the wall clock. Update with
`pytest tests/ui --snapshot-update` after an intended change.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.ui.fixtures import (
    CHECKED_AT,
    failed,
    feed_all,
    make_app,
    nodes_snapshot,
    ok,
    sites_down_snapshot,
)
from wpfarm_tui.status.backups import BackupsSnapshot, SiteBackups

SIZE = (120, 40)


def _show(key: str, *, extra=None):
    async def run_before(pilot) -> None:
        await pilot.pause()  # the console screen composes its panes
        feed_all(pilot.app)
        if extra is not None:
            extra(pilot.app)
        await pilot.press(key)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize(
    ("key", "pane"),
    [("1", "nodes"), ("2", "sites"), ("3", "galera"), ("4", "caches"), ("5", "bans"),
     ("6", "edge")],
)
def test_pane_dark(snap_compare, key, pane):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_show(key))


def test_storage_pane_dark(snap_compare):
    """A farm with endpoints.gluster has a Storage tab (9): a brick down, pending heals,
    a split-brain file, a drifting option, a dead mount on an app node."""
    from tests.ui.fixtures import FixedCollector, fixed_collectors, storage_snapshot

    def storage(app) -> None:
        app.console_screen.apply_snapshot("storage", storage_snapshot())

    app = make_app(collectors=[*fixed_collectors(),
                               FixedCollector("storage", storage_snapshot())])
    assert snap_compare(app, terminal_size=SIZE, run_before=_show("9", extra=storage))


def test_sites_source_down_dark(snap_compare):
    def down(app) -> None:
        app.console_screen.apply_snapshot("sites", sites_down_snapshot())

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_show("2", extra=down))


def test_site_screen_dark(snap_compare):
    """Enter on site2: its minute and 5 minutes, sparklines, top URLs, statuses, clients."""
    async def run_before(pilot) -> None:
        await _show("2")(pilot)
        await pilot.press("down", "enter")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_nodes_metrics_down_dark(snap_compare):
    """The metrics source down: its own red line, "metrics down" in the figures' columns,
    the Swarm's nodes and services still shown."""
    def down(app) -> None:
        snap = nodes_snapshot()
        app.console_screen.apply_snapshot("nodes", replace(
            snap, sources=(ok("docker"), failed("metrics", "down", "[Errno 111] Connection "
                                                "refused")),
            nodes=tuple(replace(n, metrics=None) for n in snap.nodes)))

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_show("1", extra=down))


def test_sites_backups_sorted_dark(snap_compare):
    """Backup ages joined in (one past the RPO, one never backed up), sorted by TTFB."""
    def backups_and_sort(app) -> None:
        pane = app.console_screen.pane_widget("sites")
        pane.clock = lambda: CHECKED_AT
        pane.set_backups(BackupsSnapshot((ok("repository"),), (
            SiteBackups("site1.lab.wpfarm.test", db_time=CHECKED_AT - 3 * 3600 - 240),
            SiteBackups("site2.lab.wpfarm.test", note="never backed up"))))
        pane.table.sort_by("ttfb", descending=True)

    assert snap_compare(make_app(), terminal_size=SIZE,
                        run_before=_show("2", extra=backups_and_sort))


def test_galera_light(snap_compare):
    assert snap_compare(make_app(theme="wpfarm-light"), terminal_size=SIZE,
                        run_before=_show("3"))


def test_help_screen(snap_compare):
    async def run_before(pilot) -> None:
        await pilot.pause()  # the console screen composes its panes
        feed_all(pilot.app)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_logs_screen(snap_compare):
    """The log follower, fed from a log file (the lab's sites log to files like this)."""
    from pathlib import Path

    from wpfarm_tui.farm.logs import FileLogStream
    from wpfarm_tui.screens.logs import LogsScreen

    log = Path(__file__).parent / "data" / "site-access.log"

    async def run_before(pilot) -> None:
        await pilot.pause()  # the console screen composes its panes
        feed_all(pilot.app)
        screen = LogsScreen("site example.com", lambda: FileLogStream(
            "site example.com", [log], follow=False))
        await pilot.app.push_screen(screen)
        for _ in range(30):
            await pilot.pause(0.05)
            if screen.ended:
                break
        await pilot.pause(0.3)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)
