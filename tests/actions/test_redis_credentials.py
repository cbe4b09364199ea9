"""A Redis that answers only to the right password, and a farm whose password reference is
wrong: the Caches pane and the alerts say "credentials refused" (never a failover for a
master they merely cannot read), and the Sentinel failover refuses, in plan() and run().

The lab's Redis runs without a password, so this starts a real redis-server of its own
with `requirepass` on a free loopback port (and stops it, by its own handle, after). The
farm copy's Sentinels are ports nothing listens on: even before the guard existed, this
test could never fail over the shared lab's master.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
import yaml

from tests.needs import unavailable
from wpfarm_tui.actions import ActionError
from wpfarm_tui.actions.redis import RedisFailover
from wpfarm_tui.inventory import Farm, load_farm
from wpfarm_tui.status.alerts import alerts_from
from wpfarm_tui.status.caches import CachesCollector

pytestmark = pytest.mark.lab  # the lab's farm.yaml is the base of the farm copy

RIGHT = "the-right-redis-password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def locked_redis(tmp_path):
    exe = shutil.which("redis-server")
    if exe is None:
        unavailable("redis-server not installed (scripts/install-deps.sh installs it)")
    port = _free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1",
                             "--requirepass", RIGHT, "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(host="127.0.0.1", port=port, password=RIGHT, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                assert client.info()["role"] == "master"
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def wrong(lab, locked_redis, tmp_path) -> Farm:
    data = yaml.safe_load(Path(lab.farm_file).read_text())
    secret = tmp_path / "wrong_redis_password"
    secret.write_text("not-the-redis-password\n")
    data["endpoints"]["redis"].update({
        "password": {"file": str(secret)},
        "instances": [{"name": "redis-master", "host": "127.0.0.1", "port": locked_redis}],
        "sentinels": [{"name": f"sentinel-{n}", "host": "127.0.0.1", "port": _free_port()}
                      for n in (1, 2, 3)],
    })
    farm_file = tmp_path / "farm.yaml"
    farm_file.write_text(yaml.safe_dump(data))
    return load_farm(farm_file)


def _refusal(message: str, node: str | None = "redis-master") -> None:
    assert node is None or node in message, message
    assert "credentials refused" in message, message
    assert "endpoints.redis.password" in message and "farm.yaml" in message, message


def test_caches_pane_and_alerts_say_credentials_refused_and_propose_no_failover(wrong):
    snap = CachesCollector(wrong).collect()
    master = next(r for r in snap.redis if r.name == "redis-master")
    assert master.health == "denied" and master.denied and not master.reachable
    assert next(s for s in snap.sources if s.name == "redis-master").state == "denied"
    alert = next(a for a in alerts_from({"caches": snap}) if a.subject == "redis-master")
    assert alert.procedure is None, alert  # never redis-failover
    assert alert.message.startswith("credentials refused: check the password reference for "
                                    "redis"), alert.message
    _refusal(alert.message, node=None)  # the alert's subject is the node


def test_failover_refuses_in_plan_and_run(wrong):
    action = RedisFailover(wrong, timeout=2.0)
    with pytest.raises(ActionError) as refused:
        action.plan()
    _refusal(str(refused.value))
    events = list(action.run())
    assert [e.kind for e in events] == ["started", "failed"], events
    _refusal(events[-1].message)
