"""End to end: lab images built here, `wpfarm deploy` through the Action, the site
answers 200 through Traefik -> Varnish -> WordPress and a repeat request is a Varnish HIT.

Stands in for production: the lab variants of wpfarm_tui/swarmlab/variants.py and the
overrides of wpfarm_tui/swarmlab/farm.py (what differs is listed there)."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.swarm.deploying import deploy_layers, verdict_of
from wpfarm_tui.actions import Step, StepEvent
from wpfarm_tui.swarmlab import NODES
from wpfarm_tui.swarmlab.farm import SITE

pytestmark = pytest.mark.swarm


_deploy, _verdict = deploy_layers, verdict_of


def _curl(node_addr: str) -> tuple[int, dict[str, str]]:
    out = subprocess.run(
        ["curl", "-sk", "-o", "/dev/null", "-D", "-", "-m", "10",
         "--resolve", f"{SITE}:443:{node_addr}", f"https://{SITE}/"],
        capture_output=True, text=True, timeout=20).stdout
    lines = out.splitlines()
    if not lines:
        return 0, {}
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:] if ":" in line)}
    return status, headers


def test_dry_run_plans_without_changing(swarm_farm, tmp_path):
    action, items = _deploy(swarm_farm, tmp_path, "db", "cache", "app", "edge", dry_run=True)
    steps = [i for i in items if isinstance(i, Step)]
    names = [s.name for s in steps]
    assert any(n.endswith("db_mariadb-1") for n in names)
    assert any("skip proxysql.yml" in n for n in names)
    assert not [i for i in items if isinstance(i, StepEvent)]


def test_galera_cluster_of_three(deployed, swarm_farm):
    out = swarm_farm.exec("db_mariadb-1", ["mariadb", "-Nse",
                                         "SHOW STATUS LIKE 'wsrep_cluster_size'"])
    assert out.split()[-1] == "3"


def test_site_through_traefik_varnish_wordpress(deployed):
    deadline = time.monotonic() + 90
    status, headers = 0, {}
    while time.monotonic() < deadline:
        status, headers = _curl(NODES[0].address)
        if status == 200:
            break
        time.sleep(2)
    assert status == 200, headers
    # Traefik spreads requests over the three Varnish replicas, each with its own cache:
    # within one request per replica the page must come from a cache.
    seen = [_curl(NODES[0].address)[1].get("x-cache") for _ in range(len(NODES))]
    assert "HIT" in seen, seen


def test_redeploy_is_unchanged(deployed, swarm_farm, tmp_path):
    _action, items = _deploy(swarm_farm, tmp_path, "db", "cache", "app", "edge", dry_run=True)
    ops = [i.name.split()[0] for i in items if isinstance(i, Step) and "_" in i.name]
    assert ops and set(ops) <= {"unchanged", "leave", "skip"}, ops


async def test_stacks_screen_shows_the_deployed_layers(deployed, swarm_farm):
    """The Stacks screen against the real Swarm: every deployed layer converged."""
    from textual.app import App
    from textual.widgets import DataTable

    from wpfarm_tui.screens.stacks import StacksScreen

    farm = swarm_farm.farm

    class Host(App):
        def on_mount(self):
            self.push_screen(StacksScreen(farm, swarm_farm.render_dir,
                                          override_dirs=swarm_farm.override_dirs, interval=60))

    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        table = None
        for _ in range(100):
            await pilot.pause(0.1)
            table = app.screen.query_one("#stacks-table", DataTable)
            if table.row_count:
                break
        rows = {k.value: table.get_row(k) for k in table.rows}
        layers = {str(r[0]) for r in rows.values()}
        assert {"db", "app", "cache", "edge"} <= layers, rows
        galera = [r for name, r in rows.items() if "mariadb" in name]
        assert len(galera) == 3 and all(str(r[2]) == str(r[3]) for r in galera), galera
