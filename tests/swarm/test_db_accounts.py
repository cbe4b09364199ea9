"""After `deploy` (no test-side provisioning): every database account logs in with its
Docker secret from the bastion (the host, through each db node's published 3306), with
no more than its grants; the console's account reads the site registry; a second deploy of
the db layer changes nothing and still verifies; the console reaches Traefik's API."""

from __future__ import annotations

import pymysql
import pytest

from tests.swarm.deploying import deploy_layers, verdict_of
from wpfarm_tui.actions import Step, StepEvent
from wpfarm_tui.inventory import load_farm
from wpfarm_tui.stacks.accounts import ACCOUNTS, CONSOLE_USER

pytestmark = pytest.mark.swarm


def _password(swarm_farm, secret: str) -> str:
    value = swarm_farm.secret_value(secret)
    if secret == "mysqld_exporter_my_cnf":
        return next(line.split("=", 1)[1].strip() for line in value.splitlines()
                    if line.startswith("password"))
    return value.strip()


def _connect(swarm_farm, user: str, password: str, host_index: int = 0):
    node = load_farm(swarm_farm.lab.farm_file).endpoints.galera.nodes[host_index]
    return pymysql.connect(host=node.host, port=node.port, user=user, password=password,
                           connect_timeout=5)


def test_every_account_logs_in_with_its_secret(deployed, swarm_farm):
    for i, account in enumerate(ACCOUNTS):
        # Each on another node: Galera replicated the accounts to all three.
        conn = _connect(swarm_farm, account.user, _password(swarm_farm, account.secret),
                        i % 3)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT CURRENT_USER()")
            assert cur.fetchone()[0] == f"{account.user}@%"
    conn = _connect(swarm_farm, CONSOLE_USER, _password(swarm_farm, "galera_monitor_password"))
    with conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM wpfarm.sites LIMIT 1")
        cur.execute("SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'")
        assert cur.fetchone()[1] == "3"
        # Least privilege: the console's login reads no site's rows and makes no account.
        for sql in ("SELECT * FROM wp_swarmlab_test.wp_options LIMIT 1",
                    "CREATE USER 'nobody'@'%'", "SELECT * FROM mysql.user"):
            with pytest.raises(pymysql.err.OperationalError):
                cur.execute(sql)
    conn = _connect(swarm_farm, "wordpress", _password(swarm_farm, "mariadb_wordpress_password"))
    with conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM wp_swarmlab_test.wp_options")
        assert cur.fetchone()[0] > 0  # the site's database, made by the step
        with pytest.raises(pymysql.err.OperationalError):
            cur.execute("SELECT * FROM wpfarm.sites")


def test_wrong_password_is_refused(deployed, swarm_farm):
    with pytest.raises(pymysql.err.OperationalError):
        _connect(swarm_farm, CONSOLE_USER, "not-the-secret")


def test_second_deploy_of_db_is_a_noop_that_still_verifies(deployed, swarm_farm, tmp_path):
    _a, planned = deploy_layers(swarm_farm, tmp_path, "db", dry_run=True)
    plan = {s.name: s.detail for s in planned if isinstance(s, Step)}
    assert "db accounts" in plan and CONSOLE_USER in plan["db accounts"], plan
    _a, items = deploy_layers(swarm_farm, tmp_path, "db")
    events = [i for i in items if isinstance(i, StepEvent)]
    assert not [e for e in events if e.kind == "started" and e.step.startswith("db_")], events
    step = [e for e in events if e.step == "db accounts" and e.kind in ("done", "failed")]
    assert step and step[0].kind == "done", step
    assert "password set" not in step[0].message, step[0].message  # nothing to change
    assert all(a.user in step[0].message for a in ACCOUNTS), step[0].message
    verdict = verdict_of(items)
    assert verdict.ok, verdict
    assert f"wpfarm.sites: readable by {CONSOLE_USER}" in verdict.details, verdict.details
    for a in ACCOUNTS:
        assert f"account {a.user}: logs in" in verdict.details, verdict.details


def test_console_reaches_traefiks_api(deployed, swarm_farm):
    from wpfarm_tui.farm.traefik import TraefikClient

    farm = load_farm(swarm_farm.lab.farm_file)
    snap = TraefikClient(farm.endpoints.traefik).snapshot()
    assert any("console-api" in r.get("name", "") for r in snap["routers"]), snap["routers"]


def test_a_missing_secret_names_the_step_left_and_how_to_run_it(deployed, swarm_farm,
                                                                 tmp_path):
    import contextlib

    with contextlib.closing(swarm_farm.lab.client()) as cli:
        # Only the accounts job mounts it: removable while the farm runs.
        cli.secrets.get("galera_monitor_password").remove()
    try:
        _a, planned = deploy_layers(swarm_farm, tmp_path, "db", dry_run=True)
        plan = {s.name: s.detail for s in planned if isinstance(s, Step)}
        assert "Docker secret galera_monitor_password is missing" in plan["db accounts"]
        _a, items = deploy_layers(swarm_farm, tmp_path, "db")
        failed = [i for i in items if isinstance(i, StepEvent) and i.kind == "failed"]
        assert [e.step for e in failed] == ["db accounts"], failed
        assert "galera_monitor_password" in failed[0].message
        assert "run `wpfarm deploy db` again" in failed[0].message
        verdict = verdict_of(items)
        assert not verdict.ok and "galera_monitor_password" in verdict.summary, verdict
    finally:
        swarm_farm.create_secrets(progress=lambda _m: None)  # the same value, from the lab
    _a, items = deploy_layers(swarm_farm, tmp_path, "db")
    assert verdict_of(items).ok, verdict_of(items)


def test_no_account_password_in_any_command_line(deployed, swarm_farm, tmp_path):
    """/proc/*/cmdline of every process here (the nodes' dockerds and their containers run
    on this machine) scanned while the db layer is deployed again: the accounts job and
    verify's job run `mariadb` a dozen times each."""
    import threading
    import time
    from pathlib import Path

    values = {s: _password(swarm_farm, s) for s in
              {a.secret for a in ACCOUNTS} | {"mariadb_root_password"}}
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
                # Named, never shown: the report must not leak it either.
                found.extend(f"{name} in the argv of pid {proc.name} ({argv.split()[0]})"
                             for name, value in values.items() if value in argv)
            time.sleep(0.002)

    thread = threading.Thread(target=scan, daemon=True)
    thread.start()
    try:
        _a, items = deploy_layers(swarm_farm, tmp_path, "db")
    finally:
        stop.set()
        thread.join(timeout=10)
    assert verdict_of(items).ok, verdict_of(items)
    assert not found, found
    assert "mariadb" in seen, sorted(seen)[:80]  # the scan saw the jobs' clients
