"""What collectors and actions open, they close (issue #18): counted as this process's
own TCP connections to the lab's real servers, before and after."""

from __future__ import annotations

import os
import threading
import time

import pytest

from tests.sites.helpers import run, tcp_connection_inodes, tcp_connections_to
from wpfarm_tui.actions.site import DeleteSite
from wpfarm_tui.sites.runtime import runtime_for
from wpfarm_tui.status.collectors import build_collectors, close_collectors, refresh_all

pytestmark = pytest.mark.lab


def lab_ports(farm) -> set[int]:
    ports = {n.port for n in farm.endpoints.galera.nodes}
    ports |= {16100, 16101, 16180}  # Traefik's edge and API, CrowdSec's LAPI
    redis = farm.endpoints.redis  # instances and Sentinels: the Caches pane keeps clients
    ports |= {n.port for n in (*redis.instances, *redis.sentinels)}
    return ports


def settle(count, want: int) -> int:
    """Sockets close as the call returns, pool threads a moment later."""
    deadline = time.monotonic() + 3
    while (now := count()) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    return now


def test_collectors_close_what_they_keep_open(lab_farm):
    def pool_threads() -> int:
        return sum(t.name.startswith(("probe", "galera", "caches"))
                   for t in threading.enumerate())

    # Counted against what the process had before: in the whole suite, other tests' own
    # collectors may still be alive (theirs to close), and only ours are judged here.
    threads_before = pool_threads()
    ports = lab_ports(lab_farm)
    # Which connections, not how many: other tests' clients may close theirs meanwhile.
    before = tcp_connection_inodes(os.getpid(), ports)
    collectors = build_collectors(lab_farm)
    refresh_all(collectors)

    def ours() -> int:
        return len(tcp_connection_inodes(os.getpid(), ports) - before)

    assert ours() > 0  # kept between polls, by design
    assert pool_threads() > threads_before
    close_collectors(collectors)
    assert settle(ours, 0) == 0
    assert settle(pool_threads, threads_before) == threads_before


def test_an_action_closes_its_connections_when_it_is_done(lab_farm, tmp_path):
    """A delete of a site that is not there still reads the registry: that connection is
    closed when execute is over, while the action object lives on (the console's action
    screen keeps it; the old bulk create kept all of them, one connection each)."""
    ports = {n.port for n in lab_farm.endpoints.galera.nodes}
    before = tcp_connections_to(os.getpid(), ports)
    runtime, host = runtime_for(lab_farm)
    action = DeleteSite(lab_farm, runtime, "never-made.lab.test", db_user_host=host)
    _, verdict = run(action, tmp_path, confirmed=True)
    assert verdict.ok
    assert tcp_connections_to(os.getpid(), ports) == before
    assert action.registry.db.open_count == 0


def test_caches_keep_one_redis_connection_per_source(lab_farm):
    """A poll reuses the connection of the one before (a fresh client each poll cost a
    connect and a handshake per source per second, #13); close() closes them."""
    from wpfarm_tui.status.caches import CachesCollector

    redis = lab_farm.endpoints.redis
    ports = {n.port for n in (*redis.instances, *redis.sentinels)}
    before = tcp_connection_inodes(os.getpid(), ports)
    collector = CachesCollector(lab_farm)
    try:
        collector.collect()
        first = tcp_connection_inodes(os.getpid(), ports) - before
        collector.collect()
        second = tcp_connection_inodes(os.getpid(), ports) - before
        assert len(first) == len(redis.instances) + len(redis.sentinels)
        assert second == first
    finally:
        collector.close()
    assert settle(lambda: len(tcp_connection_inodes(os.getpid(), ports) - before), 0) == 0
