"""The Sites pane against the lab's real Galera, nginx, WordPress, Varnish and Traefik:
each site's database size from information_schema."""

from __future__ import annotations

import pytest

from tests.sites.helpers import run
from wpfarm_tui.actions.site import CreateSite, DeleteSite
from wpfarm_tui.farm.galera import GaleraConnections
from wpfarm_tui.sites.naming import names_for
from wpfarm_tui.sites.runtime import runtime_for
from wpfarm_tui.status.sites import SitesCollector

pytestmark = pytest.mark.lab


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
