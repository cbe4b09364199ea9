"""Who may empty the cache, on the lab's real Traefik and Varnish: PURGE and BAN from the
public side are refused and change no counter; Varnish itself wants the purge token; the
console's `wpfarm cache purge` still empties a site's pages (the next GET is a MISS)."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from wpfarm_tui.farm import varnish as farm_varnish
from wpfarm_tui.stacks.render import PURGE_TOKEN_HEADER

pytestmark = pytest.mark.lab

EDGE = "http://127.0.0.1:16100"  # Traefik's public entry point
VARNISH = "http://127.0.0.1:16081"
API = "http://127.0.0.1:16101"
SITE = "site1.test"


def _counters(farm) -> tuple[int, int]:
    inst = farm.endpoints.varnish.instances[0]
    c = farm_varnish.counters(farm, inst, 5.0)
    return c["bans_added"], c["n_purges"]


def _cached(client: httpx.Client) -> str | None:
    """The X-Cache of a GET through the edge, after one GET to fill the cache."""
    return client.get(EDGE + "/", headers={"Host": SITE}).headers.get("x-cache")


@pytest.fixture
def warm(lab, lab_farm):
    with httpx.Client(timeout=10) as client:
        # lab.up() wrote the edge rules; Traefik's file watcher needs a moment to load them.
        deadline = time.monotonic() + 20
        while client.get(f"{API}/api/http/routers/refuse-cache-invalidation@file"
                         ).status_code != 200:
            assert time.monotonic() < deadline, "Traefik never loaded dynamic.d/edge.yml"
            time.sleep(0.5)
        _cached(client)
        assert _cached(client) == "HIT"
        yield client


def test_public_purge_and_ban_are_refused_and_change_nothing(lab, lab_farm, warm):
    token = lab.purge_token_file.read_text().strip()
    before = _counters(lab_farm)
    for method in ("PURGE", "BAN"):
        # Even with the right token: the internet never gets to send these.
        for headers in ({}, {"X-Ban-Url": ".*"}, {PURGE_TOKEN_HEADER: token}):
            r = warm.request(method, EDGE + "/", headers={"Host": SITE, **headers})
            assert r.status_code in (403, 405), (method, headers, r.status_code, r.text)
    assert _counters(lab_farm) == before
    assert _cached(warm) == "HIT"


def test_varnish_wants_the_token(lab, lab_farm, warm):
    token = lab.purge_token_file.read_text().strip()
    before = _counters(lab_farm)
    for method in ("PURGE", "BAN"):
        for headers in ({}, {PURGE_TOKEN_HEADER: "wrong"}, {PURGE_TOKEN_HEADER: ""}):
            r = warm.request(method, VARNISH + "/", headers={"Host": SITE, **headers})
            assert r.status_code == 403, (method, headers, r.status_code, r.text)
    assert _counters(lab_farm) == before
    assert _cached(warm) == "HIT"
    # The holder of the token (WordPress's purge plugin, the Swarm runtime's BAN job).
    r = warm.request("BAN", VARNISH + "/", headers={"Host": SITE, PURGE_TOKEN_HEADER: token})
    assert r.status_code == 200, r.text
    assert _counters(lab_farm)[0] == before[0] + 1
    assert _cached(warm) == "MISS"


def test_console_cache_purge_still_works(lab, lab_farm, warm):
    before = _counters(lab_farm)
    done = subprocess.run([sys.executable, "-m", "wpfarm_tui", "--farm", str(lab.farm_file),
                           "cache", "purge", SITE, "--yes"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert _counters(lab_farm)[0] == before[0] + 1
    # The action's check is the next GET through the edge: a MISS.
    assert f"{SITE}: MISS" in done.stdout, done.stdout[-2000:]
