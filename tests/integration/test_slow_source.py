"""One hung source never delays the other rows of its pane: the Caches pane shows the lab's
real Redis now and a Sentinel that never answers as slow, then as timed out."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time

import pytest

from wpfarm_tui.inventory import Endpoints, HostPort, RedisEndpoint
from wpfarm_tui.status.caches import CachesCollector

pytestmark = pytest.mark.lab


@pytest.fixture
def hung_port():
    """A real TCP server on loopback that accepts connections and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def test_a_hung_sentinel_does_not_hold_the_real_redis_rows(lab_farm, hung_port) -> None:
    real = lab_farm.endpoints.redis
    redis = RedisEndpoint(real.master_name, real.password, real.instances,
                          (HostPort("sentinel-hung", "127.0.0.1", hung_port),), timeout=2.0)
    farm = dataclasses.replace(lab_farm, endpoints=Endpoints(redis=redis))
    collector = CachesCollector(farm, patience=0.3)

    first = collector.collect()
    rows = {r.name: r for r in first.redis}
    assert all(r.reachable for r in rows.values()), first.sources  # shown now, not after 2 s
    health = {s.name: s for s in first.sources}
    assert health["sentinel-hung"].state == "slow", health["sentinel-hung"]
    assert first.sentinels[0].level.label == "warning"

    deadline = time.monotonic() + 10
    while (later := collector.collect()) and {s.name: s for s in later.sources}[
            "sentinel-hung"].state == "slow":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    # Its own call gave up: now it is what it is, a timeout, and the Redis rows stayed live.
    assert {s.name: s for s in later.sources}["sentinel-hung"].state == "timeout"
    assert all(r.reachable for r in later.redis)


def test_one_shot_reads_wait_for_every_answer(lab_farm, hung_port) -> None:
    real = lab_farm.endpoints.redis
    redis = RedisEndpoint(real.master_name, real.password, (),
                          (HostPort("sentinel-hung", "127.0.0.1", hung_port),), timeout=1.0)
    farm = dataclasses.replace(lab_farm, endpoints=Endpoints(redis=redis))
    snap = CachesCollector(farm).collect()  # patience None: `wpfarm status`
    assert snap.sources[0].state == "timeout"
