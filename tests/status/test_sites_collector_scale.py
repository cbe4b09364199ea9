"""The Sites pane's collector at a few thousand sites: rows first, probes as they come.

The registry of 2,000 sites and a slow edge cannot be made on the shared lab (its
sites are real WordPress installs), so the registry read is a stub and the edge is a
real HTTP server on loopback that answers each probe after 0.5 s, as a busy farm does."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import pytest

from wpfarm_tui.inventory import load_farm
from wpfarm_tui.status.sites import CONCURRENT_PROBES, PROBES_PER_POLL, SitesCollector

SITES = 2000
DELAY_S = 0.5


class _Slow(BaseHTTPRequestHandler):
    hits = 0
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        with _Slow.lock:
            _Slow.hits += 1
        time.sleep(DELAY_S)
        self.send_response(200)
        self.send_header("X-Cache", "MISS")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def slow_edge():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Slow.hits = 0
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def farm(slow_edge):
    example = Path(str(resources.files("wpfarm_tui").joinpath("data", "farm.example.yaml")))
    farm = load_farm(example)
    return replace(farm, sites=replace(farm.sites, edge_url=slow_edge, timeout=5.0,
                                       verify_tls=False, static=()))


def collector_of(farm, **kw) -> SitesCollector:
    collector = SitesCollector(farm, **kw)
    registry = {f"s{i:05d}.example.test": ("active", f"wp_s{i:05d}") for i in range(SITES)}
    collector._registry = lambda: registry  # type: ignore[method-assign]
    collector._read_sizes = lambda: {name: 1024 for _, name in registry.values()}  # type: ignore[method-assign]
    return collector


def test_first_rows_come_within_one_refresh_whatever_the_count(farm):
    """Before: a poll waited for its 64 probes (4 rounds of 16 x 0.5 s = 2 s here; ~10 s
    with 389 real sites on a busy machine) before the pane had a single row."""
    collector = collector_of(farm, probe_wait_s=0.3)
    try:
        t0 = time.monotonic()
        first = collector.collect()
        took = time.monotonic() - t0
        assert took < 1.0, took
        assert len(first.sites) == SITES
        assert all(r.db_size == 1024 for r in first.sites)  # sizes come with the rows
        assert sum(r.http_status is not None for r in first.sites) == 0  # still probing

        # The next polls come back as fast and do not start a second batch meanwhile.
        second = collector.collect()
        assert _Slow.hits <= PROBES_PER_POLL
        deadline = time.monotonic() + 10
        while sum(r.http_status == 200 for r in second.sites) < PROBES_PER_POLL:
            assert time.monotonic() < deadline, "the batch never finished"
            second = collector.collect()
        assert next(s for s in second.sources if s.name == "edge").ok
    finally:
        collector.close()


def test_a_one_shot_read_waits_for_its_probes(farm):
    collector = collector_of(farm)  # probe_wait_s None: `wpfarm status`
    try:
        t0 = time.monotonic()
        snap = collector.collect()
        assert sum(r.http_status == 200 for r in snap.sites) == PROBES_PER_POLL
        assert time.monotonic() - t0 >= PROBES_PER_POLL / CONCURRENT_PROBES * DELAY_S * 0.9
    finally:
        collector.close()
