"""A site's whole life on the three-node Swarm: create (its own DB user and Docker secret,
media on the shared storage, a service with Traefik labels, WordPress installed by a
one-off job), 200 then a Varnish HIT through Traefik, suspend (503 + Retry-After) and
resume, logs, then delete with nothing left behind. Varnish's VCL never changes.

Stands in for production: the lab images and overrides of wpfarm_tui/swarmlab (no
ProxySQL: the site talks to Galera's first node; one WordPress replica)."""

from __future__ import annotations

import contextlib
import time

import httpx
import pymysql
import pytest

from wpfarm_tui.actions import AuditLog, StepEvent, Verdict, execute
from wpfarm_tui.actions.catalog import Context, entry
from wpfarm_tui.actions.site import CreateSite, DeleteSite, SuspendSite
from wpfarm_tui.farm.logs import wait_for_lines
from wpfarm_tui.sites.naming import names_for
from wpfarm_tui.sites.registry import Registry
from wpfarm_tui.sites.runtime import runtime_for
from wpfarm_tui.sites.swarm_runtime import SwarmSiteRuntime, secret_name

pytestmark = pytest.mark.swarm
DOMAIN = "blog.swarmlab.test"


def _run(action, tmp_path, **kw):
    items = list(execute(action, audit=AuditLog(tmp_path / "audit.log"), **kw))
    events = [i for i in items if isinstance(i, StepEvent)]
    verdict = next((i for i in items if isinstance(i, Verdict)), None)
    return events, verdict


def _edge(farm, domain: str) -> httpx.Response:
    with httpx.Client(verify=False, timeout=10) as client:
        return client.get(f"{farm.sites.edge_url}/", headers={"Host": domain})


def _status(farm, domain: str) -> int:
    try:
        return _edge(farm, domain).status_code
    except httpx.HTTPError:
        return 0


def _varnish_vcl(runtime: SwarmSiteRuntime) -> str:
    service = runtime.client.services.get("cache_varnish")
    return str(service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"].get("Configs"))


@pytest.fixture(scope="module")
def site_farm(deployed, swarm_farm):
    farm = swarm_farm.farm
    # The registry's schema and the root login the site steps use, on the real Galera.
    Registry(farm.endpoints.galera).ensure_schema()
    return farm


@pytest.fixture
def no_site_left(site_farm, tmp_path):
    """Whatever a failed run left behind is deleted before and after (delete re-runs)."""
    runtime, host = runtime_for(site_farm)

    def delete() -> None:
        events, verdict = _run(DeleteSite(site_farm, runtime, DOMAIN, db_user_host=host),
                               tmp_path, confirmed=True)
        assert verdict is not None and verdict.ok, [e for e in events if e.kind == "failed"]

    delete()
    yield
    delete()


def _in_started_task(swarm_farm, service: str, cmd: list[str]) -> str:
    """Output of cmd in a started task of service, healthy or not yet."""
    from wpfarm_tui.swarmlab import NODES

    with contextlib.closing(swarm_farm.lab.client()) as cli:
        nodes = {n["ID"]: n["Description"]["Hostname"] for n in cli.api.nodes()}
        tasks = cli.api.tasks(filters={"service": service, "desired-state": "running"})
    for t in tasks:
        cid = (t["Status"].get("ContainerStatus") or {}).get("ContainerID")
        if t["Status"]["State"] in ("starting", "running") and cid:
            node = next(n for n in NODES if n.name == nodes[t["NodeID"]])
            with contextlib.closing(swarm_farm.lab.client(node)) as node_cli:
                code, out = node_cli.containers.get(cid).exec_run(cmd)
            return out.decode(errors="replace").strip()
    raise AssertionError(f"no started task of {service}: {tasks}")


def _answer_in_task(swarm_farm, service: str, path: str) -> str:
    """The HTTP status a started task's nginx gives for path (once it listens)."""
    deadline = time.monotonic() + 30
    while True:
        code = _in_started_task(swarm_farm, service, [
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:8080{path}"])
        if code != "000" or time.monotonic() > deadline:
            return code
        time.sleep(0.3)


def test_create_serve_suspend_resume_delete(site_farm, swarm_farm, tmp_path, no_site_left):
    farm = site_farm
    runtime, host = runtime_for(farm)
    assert isinstance(runtime, SwarmSiteRuntime) and host == "%"
    names = names_for(DOMAIN)
    vcl_before = _varnish_vcl(runtime)

    t0 = time.monotonic()
    create = CreateSite(farm, runtime, DOMAIN, "Swarm blog", db_user_host=host)
    events, verdict, before_install = [], None, {}
    for item in execute(create, audit=AuditLog(tmp_path / "audit.log")):
        if isinstance(item, StepEvent):
            events.append(item)
            if (item.step, item.kind) == ("deploy", "done"):
                # Started, WordPress not installed yet: nobody may reach its installer,
                # and the task is not healthy (so Traefik does not route to it).
                before_install = {path: _answer_in_task(
                    swarm_farm, f"wp_{names.service}", path) for path in ("/healthz", "/")}
        elif isinstance(item, Verdict):
            verdict = item
    took = time.monotonic() - t0
    assert before_install == {"/healthz": "503", "/": "503"}, before_install
    # Docker 25+ probes a new task every second until healthy; 20.10 (here) drops the field.
    health = runtime.spec(names)["TaskTemplate"]["ContainerSpec"]["Healthcheck"]
    assert health["StartInterval"] == 1_000_000_000 and health["StartPeriod"]
    failed = [e for e in events if e.kind == "failed"]
    assert verdict is not None and verdict.ok, (failed, verdict)
    steps = {e.step: e for e in events if e.kind == "done"}
    assert {"deploy", "install WordPress", "verify"} <= set(steps), sorted(steps)
    print(f"site created on the Swarm in {took:.1f} s; verify: {steps['verify'].message}")
    # The admin password was generated and is in no event.
    assert create.admin_password and not any(
        create.admin_password in (e.message or "") for e in events)

    service = runtime.client.services.get(f"wp_{names.service}")
    labels = service.attrs["Spec"]["Labels"]
    assert labels["wpfarm.site"] == DOMAIN
    assert labels[f"traefik.http.routers.{names.service}-origin.entryPoints"] == "sites"
    secrets = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"]
    assert any(s["SecretName"] == secret_name(f"{names.slug}_db_password") and
               s["File"]["Name"] == "mariadb_wordpress_password" for s in secrets)
    # No job and no one-time admin secret left behind; Varnish untouched.
    assert not [s for s in runtime.client.services.list() if "wpfarm.job" in
                s.attrs["Spec"].get("Labels", {})]
    assert not [s for s in runtime.client.secrets.list() if s.name.endswith("_admin_once")]
    assert _varnish_vcl(runtime) == vcl_before

    # The site's own database user can log in; its page comes through the edge.
    page = _edge(farm, DOMAIN)
    assert page.status_code == 200 and "Swarm blog" in page.text

    # A second create of the same domain is refused, changing nothing.
    events, verdict = _run(CreateSite(farm, runtime, DOMAIN, db_user_host=host), tmp_path)
    assert verdict is not None and not verdict.ok
    assert any("already a site" in (e.message or "") for e in events)

    # Suspend: 503 with Retry-After through Varnish (its cached 200 banned); resume: 200.
    events, verdict = _run(SuspendSite(farm, DOMAIN, suspend=True, flag_dir=None), tmp_path)
    assert verdict is not None and verdict.ok, (events, verdict)
    r = _edge(farm, DOMAIN)
    assert r.status_code == 503 and r.headers.get("retry-after")
    events, verdict = _run(SuspendSite(farm, DOMAIN, suspend=False, flag_dir=None), tmp_path)
    assert verdict is not None and verdict.ok, (events, verdict)
    assert _edge(farm, DOMAIN).status_code == 200

    # Every site at once (one job sets a flag in each registered site's wp-content); "all
    # off" leaves a site that was suspended by itself suspended.
    ctx = Context.for_farm(farm)
    events, verdict = _run(entry("maintenance-all-on").build(farm, ctx, {}), tmp_path,
                           confirmed=True)
    assert verdict is not None and verdict.ok, (events, verdict)
    for domain in (DOMAIN, farm.domain):
        r = _edge(farm, domain)
        assert r.status_code == 503 and r.headers.get("retry-after"), domain
    events, verdict = _run(SuspendSite(farm, DOMAIN, suspend=True, flag_dir=None), tmp_path)
    assert verdict is not None and verdict.ok, (events, verdict)
    events, verdict = _run(entry("maintenance-all-off").build(farm, ctx, {}), tmp_path)
    assert verdict is not None and verdict.ok, (events, verdict)
    assert _edge(farm, farm.domain).status_code != 503
    assert _edge(farm, DOMAIN).status_code == 503
    # Again: nothing left to change, and it says so.
    events, verdict = _run(entry("maintenance-all-off").build(farm, ctx, {}), tmp_path)
    assert any(e.kind == "skipped" and "0 of" in e.message for e in events), events
    events, verdict = _run(SuspendSite(farm, DOMAIN, suspend=False, flag_dir=None), tmp_path)
    assert verdict is not None and verdict.ok, (events, verdict)

    # Its logs: nginx's access lines of the requests above.
    lines = wait_for_lines(runtime.log_stream(names, tail=50, follow=False), 50, 10)
    assert any("GET / " in line for line in lines), lines[-5:]

    # Delete: service, secret, database, user, media and registry row all gone.
    events, verdict = _run(DeleteSite(farm, runtime, DOMAIN, db_user_host=host), tmp_path,
                           confirmed=True)
    assert verdict is not None and verdict.ok, (events, verdict)
    assert not runtime.deployed(names)
    assert not [s for s in runtime.client.secrets.list() if names.slug in s.name]
    galera = farm.endpoints.galera
    node = galera.nodes[0]
    conn = pymysql.connect(host=node.host, port=node.port, user=galera.user,
                           password=galera.password.reveal(), connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.schemata "
                        "WHERE schema_name = %s", [names.db_name])
            assert cur.fetchone()[0] == 0
            cur.execute("SELECT COUNT(*) FROM mysql.user WHERE user = %s", [names.db_user])
            assert cur.fetchone()[0] == 0
    finally:
        conn.close()
    # Traefik's Swarm provider polls (15 s by default): the routers go within that.
    deadline = time.monotonic() + 60
    while (status := _status(farm, DOMAIN)) != 404 and time.monotonic() < deadline:
        time.sleep(1)
    assert status == 404
    # Deleting again is safe: it says there is nothing to delete.
    events, verdict = _run(DeleteSite(farm, runtime, DOMAIN, db_user_host=host), tmp_path,
                           confirmed=True)
    assert any(e.kind == "failed" for e in events) or (verdict and verdict.ok)


def test_bad_domain_and_dry_run_change_nothing(site_farm, tmp_path):
    runtime, host = runtime_for(site_farm)
    from wpfarm_tui.actions import ActionError

    with pytest.raises(ActionError, match="characters a domain cannot have"):
        CreateSite(site_farm, runtime, "bad;rm -rf.test", db_user_host=host)
    events, verdict = _run(CreateSite(site_farm, runtime, "dry.swarmlab.test",
                                      db_user_host=host), tmp_path, dry_run=True)
    assert verdict is None and not events
    assert not runtime.deployed(names_for("dry.swarmlab.test"))
