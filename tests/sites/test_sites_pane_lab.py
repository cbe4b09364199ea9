"""The Sites pane against the lab's real Galera, nginx, WordPress, Varnish and Traefik:
each site's database size from information_schema, and the n / d keys running a real
create and delete through the action screen."""

from __future__ import annotations

import asyncio
import time

import pytest
from textual.widgets import Button, RichLog, Static

from tests.sites.helpers import run
from tests.ui.action_fixtures import settled
from wpfarm_tui.actions.catalog import Context
from wpfarm_tui.actions.site import CreateSite, DeleteSite
from wpfarm_tui.app import WpfarmApp
from wpfarm_tui.farm.galera import GaleraConnections
from wpfarm_tui.screens.action import ActionScreen
from wpfarm_tui.sites.naming import names_for
from wpfarm_tui.sites.registry import Registry
from wpfarm_tui.sites.runtime import runtime_for
from wpfarm_tui.status.sites import SitesCollector
from wpfarm_tui.widgets.keyed_table import KeyedTable

pytestmark = pytest.mark.lab
SIZE = (120, 40)


def schema_bytes(farm, db_name: str) -> int:
    rows = GaleraConnections(farm.endpoints.galera).query(
        "SELECT SUM(data_length + index_length) FROM information_schema.tables "
        "WHERE table_schema = %s", [db_name])
    return int(rows[0][0] or 0)


def test_db_size_of_a_new_site(lab_farm, tmp_path, cleanup):
    domain = "dbsize.lab.test"
    collector = SitesCollector(lab_farm)
    first = collector.collect()  # sizes read now: the next regular read is a minute away
    assert [s.state for s in first.sources if s.name == "db-sizes"] == ["ok"]
    assert all(r.db_size for r in first.sites if r.state == "active")

    runtime, host = runtime_for(lab_farm)
    cleanup.append(domain)
    events, verdict = run(CreateSite(lab_farm, runtime, domain, db_user_host=host), tmp_path)
    assert verdict.ok, events

    # The site turned active since the last read: its size is read at once.
    row = next(r for r in collector.collect().sites if r.domain == domain)
    assert row.db_size is not None and row.db_size > 0
    assert row.db_size == schema_bytes(lab_farm, names_for(domain).db_name)

    _, gone = run(DeleteSite(lab_farm, runtime, domain, db_user_host=host), tmp_path,
                  confirmed=True)
    assert gone.ok
    assert domain not in {r.domain for r in collector.collect().sites}


def test_db_sizes_from_innodb_statistics_match_information_schema(lab_farm):
    """The sizes come from mysql.innodb_table_stats (a row per table, no table opened:
    information_schema timed out at ~4,700 tables) and are the figures information_schema
    gives, schema by schema."""
    collector = SitesCollector(lab_farm)
    try:
        t0 = time.monotonic()
        sizes = collector._read_sizes()
        took = time.monotonic() - t0
        assert sizes and "mysql" not in sizes
        for name, size in sizes.items():
            assert size == schema_bytes(lab_farm, name), name
        print(f"db sizes of {len(sizes)} schemas read in {took * 1000:.1f} ms")
    finally:
        collector.close()


def test_db_sizes_are_read_at_most_once_a_minute(lab_farm):
    now = [1000.0]
    collector = SitesCollector(lab_farm, clock=lambda: now[0])
    reads: list[float] = []
    read = collector._read_sizes
    collector._read_sizes = lambda: (reads.append(now[0]), read())[1]  # type: ignore
    for step in (0, 10, 49):  # polls at 1000, 1010, 1059
        now[0] += step
        collector.collect()
    assert reads == [1000.0]
    now[0] += 1
    snapshot = collector.collect()
    assert reads == [1000.0, 1060.0]
    assert next(s for s in snapshot.sources if s.name == "db-sizes").ok


async def _wait_for_verdict(pilot, screen: ActionScreen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while screen.verdict is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        await pilot.pause()
    assert screen.verdict is not None, [(e.kind, e.step, e.message) for e in screen.events]


async def test_n_creates_and_d_deletes_from_the_pane(lab_farm, cleanup):
    domain = "pane.lab.test"
    cleanup.append(domain)
    registry = Registry(lab_farm.endpoints.galera)
    collector = SitesCollector(lab_farm)
    app = WpfarmApp(lab_farm, [collector], poll=False,
                    action_context=Context.for_farm(lab_farm))
    async with app.run_test(size=SIZE) as pilot:
        # n: the form, the plan, Run, and the steps as they happen.
        await pilot.press("2", "n")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ActionScreen) and screen.entry.name == "site-create"
        await pilot.press(*domain, "enter")
        await settled(pilot, screen)
        assert screen.state == "planned" and app.focused is screen.query_one("#run", Button)
        await pilot.press("enter")
        await _wait_for_verdict(pilot, screen)
        assert screen.verdict.ok, screen.verdict
        done = {e.step for e in screen.events if e.kind == "done"}
        assert {"database", "install WordPress", "verify", "activate"} <= done
        assert len(screen.query_one("#action-log", RichLog).lines) == len(screen.events)
        await pilot.press("escape")
        await pilot.pause()

        # The pane shows the new site with its database size.
        app.console_screen.apply_snapshot("sites", collector.collect())
        table = app.query_one("#sites-table", KeyedTable)
        assert domain in table.row_keys
        assert table.get_cell(domain, "db_size").plain.endswith("KiB")

        # d on it: the delete plan, Cancel focused; Enter cancels, nothing is removed.
        table.move_cursor(row=table.get_row_index(domain))
        await pilot.press("d")
        await pilot.pause()
        screen = app.screen
        await settled(pilot, screen)
        assert isinstance(screen, ActionScreen) and screen.entry.name == "site-delete"
        assert screen.values == {"domain": domain} and screen.state == "planned"
        assert app.focused is screen.query_one("#cancel", Button)
        assert "DESTRUCTIVE" in str(screen.query_one("#action-note", Static).render())
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, ActionScreen)
        assert registry.get(domain) is not None

        # d again, and Run this time.
        await pilot.press("d")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ActionScreen)
        await pilot.click("#run")
        await _wait_for_verdict(pilot, screen)
        assert screen.verdict.ok, screen.verdict
        assert registry.get(domain) is None
