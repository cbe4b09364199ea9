"""Who may empty the cache, and whether a secret shows in a process list, on the
three-node Swarm: PURGE and BAN from the public side (Traefik on node 1) are refused
and no Varnish counter moves; the console's `wpfarm cache purge` (varnishadm in each
task, or the runtime's BAN job with the purge token) and WordPress's own purge (the purge
plugin's header filter) still work; every process's command line on the nodes, scanned
while healthchecks and a purge run, holds no secret value."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from wpfarm_tui.swarmlab import NODES
from wpfarm_tui.swarmlab.farm import SITE, SITE_SERVICE

pytestmark = pytest.mark.swarm


def _varnish_containers(swarm_farm) -> list:
    with contextlib.closing(swarm_farm.lab.client()) as cli:
        tasks = cli.api.tasks(filters={"service": "cache_varnish", "desired-state": "running"})
        nodes = {n["ID"]: n["Description"]["Hostname"] for n in cli.api.nodes()}
    out = []
    for t in tasks:
        cid = (t["Status"].get("ContainerStatus") or {}).get("ContainerID")
        if t["Status"]["State"] == "running" and cid:
            node = next(n for n in NODES if n.name == nodes[t["NodeID"]])
            out.append(swarm_farm.lab.client(node).containers.get(cid))
    assert out, "no running Varnish task"
    return out


def _counters(swarm_farm) -> tuple[int, int]:
    """MAIN.bans_added and MAIN.n_purges summed over every Varnish task."""
    bans = purges = 0
    for container in _varnish_containers(swarm_farm):
        code, out = container.exec_run(["varnishstat", "-1", "-f", "MAIN.bans_added",
                                        "-f", "MAIN.n_purges"])
        assert code == 0, out
        values = {line.split()[0]: int(line.split()[1]) for line in out.decode().splitlines()}
        bans += values["MAIN.bans_added"]
        purges += values["MAIN.n_purges"]
    return bans, purges


def _public(method: str, *headers: str) -> tuple[int, str]:
    """A request from outside, through Traefik's public entry point on node 1."""
    args = ["curl", "-sk", "-o", "-", "-w", "\n%{http_code}", "-m", "10", "-X", method,
            "--resolve", f"{SITE}:443:{NODES[0].address}"]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run([*args, f"https://{SITE}/"], capture_output=True, text=True,
                         timeout=20).stdout
    body, _, code = out.rpartition("\n")
    return int(code or 0), body


def test_public_ban_and_purge_are_refused(deployed, swarm_farm):
    assert _public("GET")[0] == 200
    before = _counters(swarm_farm)
    token = swarm_farm.secret_value("varnish_purge_token").strip()
    for method in ("BAN", "PURGE"):
        # Even with the farm's token: the internet never gets to send these.
        for headers in ((), ("X-Ban-Url: .*",), (f"X-Purge-Token: {token}",)):
            code, body = _public(method, *headers)
            assert code in (403, 405), (method, headers, code, body)
            assert "Banned" not in body and "Purged" not in body
    assert _counters(swarm_farm) == before


def test_console_cache_purge_bans_every_varnish(deployed, swarm_farm):
    """The farm file names each cache node's Varnish (endpoints.varnish, `container`):
    varnishadm runs in each task over SSH, one step per node."""
    before = _counters(swarm_farm)
    done = subprocess.run([sys.executable, "-m", "wpfarm_tui", "--farm",
                           str(swarm_farm.lab.farm_file), "cache", "purge", SITE, "--yes"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    tasks = len(_varnish_containers(swarm_farm))
    assert done.stdout.count("[done   ] ban varnish") == tasks, done.stdout[-2000:]
    assert _counters(swarm_farm)[0] == before[0] + tasks


def test_a_farm_file_without_varnish_purges_through_the_runtime(deployed, swarm_farm, tmp_path):
    """With no endpoints.varnish, the site runtime's BAN job reaches every task from
    inside the farm's network, with the purge token."""
    import dataclasses

    from wpfarm_tui.actions import AuditLog, StepEvent, Verdict, execute
    from wpfarm_tui.actions.cache import RUNTIME_BAN, CachePurge

    farm = swarm_farm.farm
    farm = dataclasses.replace(farm, endpoints=dataclasses.replace(farm.endpoints,
                                                                   varnish=None))
    before = _counters(swarm_farm)
    items = list(execute(CachePurge(farm, SITE), audit=AuditLog(tmp_path / "audit.log")))
    tasks = len(_varnish_containers(swarm_farm))
    done = [i for i in items if isinstance(i, StepEvent) and i.step == RUNTIME_BAN
            and i.kind == "done"]
    assert done and f"banned in {tasks} varnish" in done[0].message, items
    assert next(i for i in items if isinstance(i, Verdict)).ok, items
    assert _counters(swarm_farm)[0] == before[0] + tasks


def test_wordpress_purges_with_the_token(deployed, swarm_farm):
    """What the purge plugin sends (its header filter, set in wp-config.php), from the
    site's own container to Varnish: accepted; the same request without the header is not."""
    php = (
        f"$_SERVER['HTTP_HOST'] = '{SITE}'; $_SERVER['REQUEST_URI'] = '/';"
        "require '/var/www/html/wp-load.php';"
        f"$h = apply_filters('varnish_http_purge_headers', ['host' => '{SITE}']);"
        "$n = $h; unset($n['X-Purge-Token']);"
        "foreach (['with' => $h, 'without' => $n] as $k => $hs) {"
        "  $r = wp_remote_request('http://varnish/', ['method' => 'PURGE', 'headers' => $hs]);"
        "  echo $k, '=', is_wp_error($r) ? $r->get_error_message()"
        "    : wp_remote_retrieve_response_code($r), \"\\n\"; }")
    before = _counters(swarm_farm)
    out = swarm_farm.exec(f"wp_{SITE_SERVICE}", ["php", "-r", php])
    assert "with=200" in out and "without=403" in out, out
    assert _counters(swarm_farm)[1] == before[1] + 1


def _secret_values(swarm_farm) -> dict[str, str]:
    values = {}
    for path in Path(swarm_farm.secrets_dir).iterdir():
        value = path.read_text().strip()
        if path.is_file() and len(value) >= 8:
            values[path.name] = value
    return values


def test_no_secret_in_any_command_line_on_the_nodes(deployed, swarm_farm):
    """/proc/*/cmdline of every process on this machine (the three nodes' dockerds and
    their containers run here) scanned for ~20 s: two rounds of the Redis healthchecks,
    plus a console purge (the BAN job's curl) while it runs."""
    secrets = _secret_values(swarm_farm)
    assert {"redis_password", "varnish_purge_token"} <= set(secrets)
    found: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()

    def scan() -> None:
        while not stop.is_set():
            for proc in Path("/proc").iterdir():
                if not proc.name.isdigit():
                    continue
                try:
                    argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                        errors="replace")
                except OSError:
                    continue
                if argv:
                    seen.add(argv.split()[0].rsplit("/", 1)[-1])
                for name, value in secrets.items():
                    if value in argv:
                        # Named, never shown: the report must not leak it either.
                        found.append(f"{name} in the argv of pid {proc.name} "
                                     f"({argv.split()[0]})")
            time.sleep(0.005)

    thread = threading.Thread(target=scan, daemon=True)
    thread.start()
    try:
        done = subprocess.run([sys.executable, "-m", "wpfarm_tui", "--farm",
                               str(swarm_farm.lab.farm_file), "cache", "purge", SITE, "--yes"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline or ("redis-cli" not in seen
                                              and time.monotonic() < deadline + 40):
            time.sleep(0.5)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not found, found
    # The scan did see the short-lived healthcheck processes it is meant to cover.
    assert "redis-cli" in seen, sorted(seen)[:50]
