"""One hung source never delays the other rows of its pane. A real lab server is frozen
(SIGSTOP: it holds its connections and answers nothing, as a hung server does): its row turns
slow with its last values while the others keep refreshing, then timed out, then back."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from wpfarm_tui.inventory import Endpoints, HostPort, RedisEndpoint
from wpfarm_tui.status.caches import CachesCollector
from wpfarm_tui.status.galera import GaleraCollector

pytestmark = pytest.mark.lab


@contextlib.contextmanager
def frozen(lab, component: str) -> Iterator[None]:
    pid = lab._pid_of(component)
    assert pid, f"{component} is not running"
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _health(snap, name: str):
    return next(s for s in snap.sources if s.name == name)


def test_a_hung_sentinel_does_not_hold_the_redis_rows(lab, lab_farm) -> None:
    collector = CachesCollector(lab_farm, patience=0.3)
    first = collector.collect()  # every source answers once
    assert _health(first, "sentinel-3").ok, first.sources
    with frozen(lab, "sentinel-3"):
        slow = collector.collect()
        assert _health(slow, "sentinel-3").state == "slow", slow.sources
        assert all(r.reachable for r in slow.redis)  # shown now, not after the timeout
        row = next(s for s in slow.sentinels if s.name == "sentinel-3")
        assert row.master_address, "the slow row keeps its last values"
        assert row.level.label == "warning"
        deadline = time.monotonic() + 10
        while _health(later := collector.collect(), "sentinel-3").state == "slow":
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert _health(later, "sentinel-3").state == "timeout"
        assert all(r.reachable for r in later.redis)
    deadline = time.monotonic() + 10
    while not _health(collector.collect(), "sentinel-3").ok:
        assert time.monotonic() < deadline
        time.sleep(0.3)


def test_a_hung_galera_node_does_not_hold_the_others(lab, lab_farm) -> None:
    collector = GaleraCollector(lab_farm.endpoints.galera, dict(lab_farm.thresholds),
                                patience=0.3)
    assert all(s.ok for s in collector.collect().sources)
    with frozen(lab, "galera-3"):  # briefly: well inside Galera's suspect timeout
        snap = collector.collect()
        assert _health(snap, "galera-3").state == "slow", snap.sources
        others = [n for n in snap.nodes if n.name != "galera-3"]
        assert all(n.reachable and n.health == "ok" for n in others)
        slow = next(n for n in snap.nodes if n.name == "galera-3")
        assert slow.health == "slow" and slow.local_state == "Synced"  # its last values
    deadline = time.monotonic() + 15
    while not all(s.ok for s in collector.collect().sources):
        assert time.monotonic() < deadline
        time.sleep(0.3)


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


def test_a_source_never_heard_from_is_waited_for_not_guessed(lab_farm, hung_port) -> None:
    # No previous answer to show: the first poll waits for its own timeout and says so.
    real = lab_farm.endpoints.redis
    redis = RedisEndpoint(real.master_name, real.password, (),
                          (HostPort("sentinel-hung", "127.0.0.1", hung_port),), timeout=1.0)
    farm = dataclasses.replace(lab_farm, endpoints=Endpoints(redis=redis))
    snap = CachesCollector(farm, patience=0.1).collect()
    assert snap.sources[0].state == "timeout"
