"""Site create / delete / suspend / bulk against the lab's real Galera, nginx,
php-fpm, WordPress, Varnish and Traefik."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pymysql
import pytest

from tests.sites.helpers import run
from wpfarm_tui.actions import ActionError
from wpfarm_tui.actions.catalog import Context
from wpfarm_tui.actions.site import CreateSite, DeleteSite, SuspendSite
from wpfarm_tui.commands.site import runtime_for
from wpfarm_tui.farm.galera import connect
from wpfarm_tui.sites.naming import names_for
from wpfarm_tui.sites.registry import Registry

pytestmark = pytest.mark.lab
EDGE = "http://127.0.0.1:16100/"


def database_exists(farm, name: str) -> bool:
    node = farm.endpoints.galera.nodes[1]
    conn = connect(farm.endpoints.galera, node)
    try:
        with conn.cursor() as cur:
            # Another node than the one written to: a causal read waits for it to apply.
            cur.execute("SET SESSION wsrep_sync_wait = 1")
            cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name=%s", [name])
            return bool(cur.fetchall())
    finally:
        conn.close()


def test_create_verify_delete(lab_farm, tmp_path, cleanup):
    runtime, host = runtime_for(lab_farm)
    cleanup.append("life.lab.test")
    action = CreateSite(lab_farm, runtime, "Life.Lab.Test", "Life", db_user_host=host)
    events, verdict = run(action, tmp_path)
    assert verdict.ok, events
    names = names_for("life.lab.test")
    assert Registry(lab_farm.endpoints.galera).get(names.domain).state == "active"
    assert database_exists(lab_farm, names.db_name)
    response = httpx.get(EDGE, headers={"Host": names.domain})
    assert response.status_code == 200 and "Life" in response.text
    verify = next(e for e in events if e.step == "verify" and e.kind == "done")
    assert "cache HIT" in verify.message
    # The admin password is handed back once and appears in no event and no audit line.
    assert action.admin_password
    assert action.admin_password not in json.dumps([e.__dict__ for e in events])
    assert action.admin_password not in (tmp_path / "audit.log").read_text()
    # The site's DB password is in no event either.
    db_password = runtime.read_secret(f"{names.slug}_db_password")
    assert db_password and db_password not in json.dumps([e.__dict__ for e in events])

    # A second create of the same domain is refused and changes nothing.
    _, again = run(CreateSite(lab_farm, runtime, "life.lab.test", db_user_host=host), tmp_path)
    assert not again.ok and "already a site" in again.summary

    # Delete needs confirmation, then removes everything; a second delete is harmless.
    delete = DeleteSite(lab_farm, runtime, "life.lab.test", db_user_host=host)
    with pytest.raises(ActionError, match="destructive"):
        run(delete, tmp_path)
    _, gone = run(delete, tmp_path, confirmed=True)
    assert gone.ok
    assert not database_exists(lab_farm, names.db_name)
    # Traefik drops the router when it sees the file gone (a file watch: wait for it).
    for _ in range(40):
        if httpx.get(EDGE, headers={"Host": names.domain}).status_code == 404:
            break
        time.sleep(0.25)
    assert httpx.get(EDGE, headers={"Host": names.domain}).status_code == 404
    _, again = run(delete, tmp_path, confirmed=True)
    assert again.ok


@pytest.mark.parametrize(("domain", "message"), [
    ("bad_domain.test", "characters a domain cannot have"), ("nodot", "has no dot"),
    ("x'; DROP DATABASE wpfarm;--.test", "characters a domain cannot have")])
def test_bad_domains_refused_before_anything(lab_farm, domain, message):
    runtime, host = runtime_for(lab_farm)
    with pytest.raises(ActionError, match=message):
        CreateSite(lab_farm, runtime, domain, db_user_host=host)


def test_failure_undoes_what_this_run_created(lab, lab_farm, tmp_path, cleanup):
    """php-fpm stopped: the deploy step fails, and the run removes its database, user,
    media and registry row again."""
    runtime, host = runtime_for(lab_farm)
    names = names_for("undo.lab.test")
    cleanup.append(names.domain)
    lab.stop("php-fpm")
    try:
        events, verdict = run(CreateSite(lab_farm, runtime, names.domain, db_user_host=host),
                              tmp_path)
    finally:
        lab.start("php-fpm", progress=lambda _m: None)
    assert not verdict.ok and "php-fpm is not running" in verdict.summary
    undone = {e.step for e in events if e.kind == "done" and e.step.startswith("undo")}
    assert {"undo register", "undo database", "undo database user", "undo media"} <= undone
    assert Registry(lab_farm.endpoints.galera).get(names.domain) is None
    assert not database_exists(lab_farm, names.db_name)
    assert not (lab.root / "wordpress" / names.domain).exists()


def test_create_succeeds_with_a_galera_node_down(lab, lab_farm, tmp_path, cleanup):
    runtime, host = runtime_for(lab_farm)
    cleanup.append("degraded.lab.test")
    lab.stop("galera-1")
    try:
        events, verdict = run(CreateSite(lab_farm, runtime, "degraded.lab.test",
                                         db_user_host=host), tmp_path)
        assert verdict.ok, events
    finally:
        lab.start("galera-1", progress=lambda _m: None)


def test_suspend_and_resume(lab_farm, tmp_path, cleanup):
    runtime, host = runtime_for(lab_farm)
    cleanup.append("pause.lab.test")
    assert run(CreateSite(lab_farm, runtime, "pause.lab.test", db_user_host=host),
               tmp_path)[1].ok
    flags = Context.for_farm(lab_farm).maintenance_dir
    _, verdict = run(SuspendSite(lab_farm, "pause.lab.test", suspend=True, flag_dir=flags),
                     tmp_path)
    assert verdict.ok
    response = httpx.get(EDGE, headers={"Host": "pause.lab.test"})
    assert response.status_code == 503 and response.headers.get("retry-after")
    assert Registry(lab_farm.endpoints.galera).get("pause.lab.test").state == "suspended"
    assert run(SuspendSite(lab_farm, "pause.lab.test", suspend=False, flag_dir=flags),
               tmp_path)[1].ok
    assert httpx.get(EDGE, headers={"Host": "pause.lab.test"}).status_code == 200


def test_bulk_create_from_file_and_rerun_skips(lab, lab_farm, tmp_path, cleanup):
    domains = [f"bulk{i}.lab.test" for i in range(1, 5)]
    cleanup.extend(domains)
    sites = tmp_path / "sites.txt"
    sites.write_text("# bulk test\n" + "\n".join(f"{d} Bulk {d[4]}" for d in domains)
                     + "\nnot_a_domain!\n")
    cmd = [sys.executable, "-m", "wpfarm_tui", "--farm", str(lab.farm_file), "site", "create",
           "--from-file", str(sites), "--concurrency", "3", "--json"]
    first = json.loads(subprocess.run(cmd, capture_output=True, text=True, timeout=300)
                       .stdout.strip().splitlines()[-1])
    results = {s["domain"]: s["result"] for s in first["sites"]}
    assert [results[d] for d in domains] == ["created"] * 4, first
    assert results["not_a_domain!"] == "invalid"
    second = json.loads(subprocess.run(cmd, capture_output=True, text=True, timeout=300)
                        .stdout.strip().splitlines()[-1])
    assert {s["domain"]: s["result"] for s in second["sites"] if s["domain"] in domains} == \
        dict.fromkeys(domains, "exists")
    for domain in domains:
        assert httpx.get(EDGE, headers={"Host": domain}).status_code == 200


def test_registry_survives_wrong_input_types(lab_farm):
    with pytest.raises(ValueError, match="state"):
        Registry(lab_farm.endpoints.galera).set_state("site1.test", "on-fire")
    with pytest.raises(pymysql.err.MySQLError):
        Registry(lab_farm.endpoints.galera).db.query("SELECT * FROM wpfarm.nope")
