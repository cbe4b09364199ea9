"""Verifications check the effect, not the request, on the lab's real servers: CrowdSec's
LAPI (ranges included), Varnish through Traefik, nginx's maintenance page, Redis
Sentinel and the instances' INFO. Each test leaves the lab as it found it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from tests.needs import unavailable
from wpfarm_tui.actions import AuditLog, StepEvent, Verdict, execute
from wpfarm_tui.actions.cache import CachePurge
from wpfarm_tui.actions.crowdsec import BanAction, UnbanAction, covering
from wpfarm_tui.actions.maintenance import Maintenance
from wpfarm_tui.actions.redis import RedisFailover
from wpfarm_tui.inventory import HostPort

pytestmark = pytest.mark.lab

RANGE = "198.18.40.0/24"  # RFC 2544 benchmarking space: never a real client
ADDRESS = "198.18.40.9"


def _run(action, confirmed=True):
    items = list(execute(action, audit=AuditLog(), confirmed=confirmed))
    events = [i for i in items if isinstance(i, StepEvent)]
    return events, next(i for i in items if isinstance(i, Verdict))


def _creds(lab) -> Path:
    return lab.root / "crowdsec" / "etc" / "local_api_credentials.yaml"


def _ban(lab, farm, target: str) -> None:
    _, verdict = _run(BanAction(farm, target, duration="10m", reason="test: verify",
                                credentials=_creds(lab)))
    assert verdict.ok, verdict


def test_unban_of_an_address_a_range_still_covers_is_not_ok(lab, lab_farm):
    try:
        _ban(lab, lab_farm, RANGE)
        # Only the range: the address has no decision of its own.
        events, verdict = _run(UnbanAction(lab_farm, ADDRESS, credentials=_creds(lab)))
        assert not verdict.ok, verdict
        assert RANGE in verdict.summary and f"wpfarm unban {RANGE}" in verdict.summary
        assert "expires in" in verdict.summary and "." not in verdict.summary.split(
            "expires in")[1].split(")")[0]  # "9m59s", not Go's nanoseconds
        # Both: the address's own decision goes, the range stays (not deleted with it).
        _ban(lab, lab_farm, ADDRESS)
        events, verdict = _run(UnbanAction(lab_farm, ADDRESS, credentials=_creds(lab)))
        assert any(e.kind == "done" and e.step == f"unban {ADDRESS}" for e in events), events
        assert not verdict.ok and f"wpfarm unban {RANGE}" in verdict.summary
        assert [b.value for b in covering(lab_farm, ADDRESS, "Ip")] == [RANGE]
        # The fix the verdict names works, and then the address is free.
        _, verdict = _run(UnbanAction(lab_farm, RANGE, credentials=_creds(lab)))
        assert verdict.ok, verdict
        assert covering(lab_farm, ADDRESS, "Ip") == []
    finally:
        for target in (ADDRESS, RANGE):
            _run(UnbanAction(lab_farm, target, credentials=_creds(lab)))


def _get(farm, domain: str) -> httpx.Response:
    return httpx.get(farm.sites.edge_url + "/", headers={"Host": domain}, timeout=10)


def test_purge_verify_fails_while_varnish_still_holds_the_object(lab, lab_farm):
    _get(lab_farm, "site2.test")
    assert _get(lab_farm, "site2.test").headers.get("x-cache") == "HIT"
    # The purge's request is never sent (run() not called): the object is still cached,
    # fetched a moment ago, and the verdict must say so.
    action = CachePurge(lab_farm, "site2.test")
    action.purged_at = time.time()
    verdict = action.verify()
    assert not verdict.ok, verdict
    # And after a real purge the next GET is a MISS: OK.
    events, verdict = _run(CachePurge(lab_farm, "site2.test"))
    assert verdict.ok, (verdict, events)


def test_maintenance_verify_needs_the_edge_to_answer_503(lab, lab_farm, tmp_path):
    # A flag where nginx does not look: the request "succeeds", the effect is not there.
    events, verdict = _run(Maintenance(lab_farm, "site1.test", on=True, flag_dir=tmp_path))
    assert any(e.kind == "done" for e in events)
    assert not verdict.ok and "503" in verdict.summary, verdict
    assert "HTTP 200" in " ".join(verdict.details)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_failover_verify_reads_every_instances_view(lab, lab_farm, tmp_path):
    """A Redis instance of the farm that is a master of its own (split brain): the
    Sentinels agree, but the instances do not, and the verdict must say so."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server not installed")
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=port, socket_timeout=1).ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        endpoint = lab_farm.endpoints.redis
        rogue = HostPort("redis-rogue", "127.0.0.1", port)
        # The lab's endpoint without a password; the rogue one has none either.
        farm = replace(lab_farm, endpoints=replace(lab_farm.endpoints, redis=replace(
            endpoint, instances=(*endpoint.instances, rogue))))
        action = RedisFailover(farm, settle_s=1.0)
        # As if a failover had moved the master away from an old one: what verify sees.
        action.old_master = "127.0.0.1:1"
        verdict = action.verify()
        assert not verdict.ok, verdict
        assert "redis-rogue" in verdict.summary and "master" in verdict.summary
        # Without the rogue instance the same check agrees.
        ok = RedisFailover(lab_farm, settle_s=1.0)
        ok.old_master = "127.0.0.1:1"
        verdict = ok.verify()
        assert verdict.ok, verdict
        # Whichever instance is the master now (other tests fail over too), the other
        # one's INFO was read and follows it.
        assert any("replica of" in d for d in verdict.details), verdict
    finally:
        proc.terminate()
        proc.wait(10)
