"""No hidden retries in any client: the poll loop is the retry. A server that drops every
connection is asked exactly once per call, so a dead source shows as down within one refresh
(redis-py's default of three retries with backoff kept a stopped Redis "up" for 3.3 s)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from wpfarm_tui.farm import docker as farm_docker
from wpfarm_tui.farm import galera as farm_galera
from wpfarm_tui.farm import redis as farm_redis
from wpfarm_tui.farm import varnish as farm_varnish
from wpfarm_tui.farm.crowdsec import CrowdSecClient
from wpfarm_tui.inventory import (
    CrowdSecEndpoint,
    DockerEndpoint,
    GaleraEndpoint,
    HostPort,
    RedisEndpoint,
    VarnishInstance,
)
from wpfarm_tui.secrets import Secret


class DroppingServer:
    """A real TCP server on loopback that accepts each connection and closes it at once,
    counting the connections: what a crashing server looks like to a client."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def dropping() -> Iterator[DroppingServer]:
    server = DroppingServer()
    yield server
    server.close()


def _node(server: DroppingServer) -> HostPort:
    return HostPort("x", "127.0.0.1", server.port)


def test_redis_asks_once(dropping) -> None:
    endpoint = RedisEndpoint("m", None, (_node(dropping),), (), timeout=1.0)
    with pytest.raises(Exception):  # noqa: B017 - any client error; the count is the point
        farm_redis.info(endpoint, _node(dropping))
    assert dropping.accepted == 1


def test_galera_asks_once(dropping) -> None:
    endpoint = GaleraEndpoint("u", None, (_node(dropping),), timeout=1.0)
    with pytest.raises(Exception):  # noqa: B017
        farm_galera.connect(endpoint, _node(dropping))
    assert dropping.accepted == 1


def test_crowdsec_asks_once(dropping, monkeypatch) -> None:
    monkeypatch.setenv("WPFARM_TEST_BOUNCER_KEY", "k")
    client = CrowdSecClient(CrowdSecEndpoint(f"http://127.0.0.1:{dropping.port}",
                                             Secret("env", "WPFARM_TEST_BOUNCER_KEY"), timeout=1.0))
    with pytest.raises(Exception):  # noqa: B017
        client.decisions()
    assert dropping.accepted == 1


def test_docker_asks_once(dropping) -> None:
    with pytest.raises(Exception):  # noqa: B017
        farm_docker.client(DockerEndpoint(f"tcp://127.0.0.1:{dropping.port}", timeout=1.0))
    assert dropping.accepted == 1


def test_a_varnish_that_is_not_running_is_down_not_a_timeout(tmp_path) -> None:
    # A real varnishstat on a work directory with no varnishd: it used to wait 5 s for one,
    # past the probe's 3 s timeout, so a dead Varnish showed as "timeout after 3 s".
    from tests.ui.fixtures import FARM

    (tmp_path / "inst").mkdir()
    instance = VarnishInstance("varnish", str(tmp_path / "inst"))
    with pytest.raises(ConnectionError, match="varnishd"):
        farm_varnish.counters(FARM, instance, timeout=3.0)


def test_machine_credentials_are_read_safely(tmp_path) -> None:
    # A FIFO must not block the console; an alias bomb must not balloon it.
    import os

    from wpfarm_tui.farm.crowdsec import WatcherClient

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="FIFO"):
        WatcherClient.from_credentials_file(str(fifo))
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &a [x, x]\nb: &b [*a, *a]\nurl: *b\nlogin: m\npassword: p\n")
    with pytest.raises(ValueError, match="credentials file"):
        WatcherClient.from_credentials_file(str(bomb))
    good = tmp_path / "ok.yaml"
    good.write_text("url: http://127.0.0.1:1/\nlogin: m\npassword: p\n")
    assert WatcherClient.from_credentials_file(str(good)).machine_id == "m"
