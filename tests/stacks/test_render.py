"""Unit tests of the stack renderer: HA refusal, idempotence, no secret values,
version overrides, and the data the renderer derives from the inventory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from wpfarm_tui.inventory import parse_farm
from wpfarm_tui.stacks import DEFAULT_VERSIONS, StackError, render_farm
from wpfarm_tui.stacks.render import DASHBOARDS, STACK_FILES, load_cloudflare_ips

SECRET_SENTINEL = "S3NT1NEL-never-in-a-rendered-file"


def farm_yaml(managers: int = 3, dbs: int = 3, profile: str = "production",
              extra: str = "") -> str:
    nodes = [f"  - {{name: mgr{i}, address: 10.0.0.{10 + i}, roles: [manager]}}"
             for i in range(1, managers + 1)]
    nodes += [f"  - {{name: db{i}, address: 10.0.0.{20 + i}, roles: [db, storage]}}"
              for i in range(1, dbs + 1)]
    nodes += [f"  - {{name: cache{i}, address: 10.0.0.{30 + i}, roles: [cache, worker]}}"
              for i in (1, 2, 3)]
    nodes.append("  - {name: ops1, address: 10.0.0.51, roles: [ops]}")
    return (f"farm: {{name: prod-eu1, domain: example.com, profile: {profile}}}\n"
            "nodes:\n" + "\n".join(nodes) + "\n"
            "endpoints:\n"
            "  galera:\n"
            "    user: wpfarm_monitor\n"
            "    password: {env: WPFARM_GALERA_PASSWORD}\n"
            "    nodes: [{name: db1, host: 10.0.0.21, port: 3306}]\n"
            "  redis:\n"
            "    master_name: wpfarm-cache\n"
            "    password: {env: WPFARM_REDIS_PASSWORD}\n"
            "    instances: [{name: r1, host: 10.0.0.31, port: 6379}]\n"
            "    sentinels: [{name: s1, host: 10.0.0.31, port: 26379}]\n"
            "  crowdsec:\n"
            "    lapi: http://10.0.0.11:8080\n"
            "    bouncer_key: {env: WPFARM_CROWDSEC_KEY}\n" + extra)


def test_production_with_two_managers_is_refused_before_writing(tmp_path: Path) -> None:
    farm = parse_farm(farm_yaml(managers=2))
    with pytest.raises(StackError) as err:
        render_farm(farm, tmp_path / "out")
    msg = str(err.value)
    assert "at least 3 manager nodes" in msg and "found 2" in msg
    assert "add `manager`" in msg and "farm.profile: small" in msg
    assert not (tmp_path / "out").exists()


def test_production_with_one_db_is_refused(tmp_path: Path) -> None:
    farm = parse_farm(farm_yaml(dbs=1))
    with pytest.raises(StackError, match=r"at least 3 db nodes .*found 1: add `db`"):
        render_farm(farm, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_small_profile_renders_with_one_manager_and_one_db(tmp_path: Path) -> None:
    farm = parse_farm(farm_yaml(managers=1, dbs=1, profile="small"))
    render_farm(farm, tmp_path)
    traefik = yaml.safe_load((tmp_path / "docker/compose/traefik.yml").read_text())
    assert traefik["services"]["traefik"]["deploy"]["replicas"] == 1
    mariadb = yaml.safe_load((tmp_path / "docker/compose/mariadb.yml").read_text())
    assert [s for s in mariadb["services"] if s.startswith("mariadb-")] == ["mariadb-1"]


def test_layout_follows_the_architecture(tmp_path: Path) -> None:
    files = render_farm(parse_farm(farm_yaml()), tmp_path)
    rel = {p.relative_to(tmp_path).as_posix() for p in files}
    for name in STACK_FILES:
        assert f"docker/compose/{name}" in rel
    for path in (
        "docker/images/wordpress/Dockerfile", "docker/images/wordpress/nginx.conf",
        "docker/images/wordpress/php-fpm.conf", "docker/images/wordpress/entrypoint.sh",
        "docker/images/varnish/Dockerfile", "docker/images/varnish/default.vcl",
        "docker/images/backup/Dockerfile", "docker/images/backup/backup.sh",
        "docker/configs/traefik/traefik.yml", "docker/configs/traefik/dynamic/middlewares.yml",
        "docker/configs/traefik/dynamic/tls.yml", "docker/configs/traefik/dynamic/security.yml",
        "docker/configs/crowdsec/acquis.yaml", "docker/configs/crowdsec/profiles.yaml",
        "docker/configs/varnish/default.vcl", "docker/configs/redis/redis-cache.conf",
        "docker/configs/mariadb/galera.cnf", "docker/configs/mariadb/init.sql",
        "docker/configs/proxysql/proxysql.cnf",
        "docker/configs/grafana/datasources/datasources.yml",
    ):
        assert path in rel, path
    titles = set()
    for uid in DASHBOARDS:
        board = yaml.safe_load((tmp_path / f"docker/configs/grafana/dashboards/{uid}.json")
                               .read_text())
        titles.add(board["title"])
    assert titles == {"Cluster Overview", "Traefik", "WordPress", "Database", "Cache",
                      "Security"}
    assert all(p.stat().st_mode & 0o111 for p in files if p.suffix == ".sh")
    assert not any(re.search(r"@@[A-Za-z0-9_:./-]+@@", p.read_text()) for p in files)


def test_rendering_twice_gives_identical_bytes_and_rewrites_nothing(tmp_path: Path) -> None:
    farm = parse_farm(farm_yaml())
    first = render_farm(farm, tmp_path)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in first}
    second = render_farm(farm, tmp_path)
    assert first == second
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in second} == before
    assert not list(tmp_path.rglob("*.tmp"))


def test_no_secret_value_in_any_rendered_file(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    names = {"WPFARM_GALERA_PASSWORD", "WPFARM_REDIS_PASSWORD", "WPFARM_CROWDSEC_KEY"}
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET_SENTINEL)
    # Every Docker secret the stacks reference, as an environment variable too.
    render_farm(parse_farm(farm_yaml()), tmp_path / "probe")
    for stack in (tmp_path / "probe/docker/compose").glob("*.yml"):
        names |= {n.upper() for n in (yaml.safe_load(stack.read_text()).get("secrets") or {})}
    for name in names:
        monkeypatch.setenv(name, SECRET_SENTINEL)
    extra = "  proxysql:\n    host: 10.0.0.21\n    port: 6032\n    user: radmin\n" \
            f"    password: {{file: {secret_file}}}\n"
    files = render_farm(parse_farm(farm_yaml(extra=extra)), tmp_path / "out")
    assert len(names) > 10
    for path in files:
        assert SECRET_SENTINEL not in path.read_text(), path


def test_secrets_are_external_and_referenced_by_name(tmp_path: Path) -> None:
    render_farm(parse_farm(farm_yaml()), tmp_path)
    for stack in (tmp_path / "docker/compose").glob("*.yml"):
        doc = yaml.safe_load(stack.read_text())
        for name, spec in (doc.get("secrets") or {}).items():
            assert spec == {"external": True}, f"{stack.name}: secret {name}"


def test_versions_override_and_unknown_name(tmp_path: Path) -> None:
    farm = parse_farm(farm_yaml())
    render_farm(farm, tmp_path, versions={"traefik": "traefik:v3.9.9", "wordpress": "6.8.0"})
    traefik = yaml.safe_load((tmp_path / "docker/compose/traefik.yml").read_text())
    assert traefik["services"]["traefik"]["image"] == "traefik:v3.9.9"
    assert "ARG WORDPRESS_VERSION=6.8.0" in (
        tmp_path / "docker/images/wordpress/Dockerfile").read_text()
    redis = (tmp_path / "docker/compose/redis.yml").read_text()
    assert DEFAULT_VERSIONS["redis"] in redis
    with pytest.raises(StackError, match="unknown image version 'traefk'"):
        render_farm(farm, tmp_path / "x", versions={"traefk": "traefik:v3"})
    assert not (tmp_path / "x").exists()


def test_cloudflare_ranges_and_alert_thresholds_come_from_one_place(tmp_path: Path) -> None:
    extra = "thresholds:\n  cpu: {warning: 65, critical: 88}\n"
    render_farm(parse_farm(farm_yaml(extra=extra)), tmp_path)
    security = yaml.safe_load(
        (tmp_path / "docker/configs/traefik/dynamic/security.yml").read_text())
    allow = security["http"]["middlewares"]["cloudflare-only"]["ipAllowList"]["sourceRange"]
    assert tuple(allow) == load_cloudflare_ips()
    assert "173.245.48.0/20" in allow and "2606:4700::/32" in allow
    rules = yaml.safe_load(
        (tmp_path / "docker/configs/grafana/alerting/wpfarm-alerts.yml").read_text())
    by_name = {r["alert"]: r for r in rules["groups"][0]["rules"]}
    assert by_name["wpfarm_cpu_warning"]["expr"].endswith("> 65")
    assert by_name["wpfarm_cpu_critical"]["expr"].endswith("> 88")
    assert by_name["wpfarm_cache_hit_ratio_critical"]["expr"].endswith("< 60")


def test_galera_bootstrap_is_explicit_and_placed_by_label(tmp_path: Path) -> None:
    render_farm(parse_farm(farm_yaml()), tmp_path)
    doc = yaml.safe_load((tmp_path / "docker/compose/mariadb.yml").read_text())
    for i in (1, 2, 3):
        svc = doc["services"][f"mariadb-{i}"]
        assert svc["deploy"]["placement"]["constraints"] == [f"node.labels.wpfarm.galera == db{i}"]
        assert svc["environment"]["WPFARM_GALERA_BOOTSTRAP"] == "${WPFARM_GALERA_BOOTSTRAP:-}"
    cnf = (tmp_path / "docker/configs/mariadb/galera.cnf").read_text()
    assert "wsrep_cluster_address=gcomm://mariadb-1,mariadb-2,mariadb-3" in cnf
    proxysql = (tmp_path / "docker/configs/proxysql/proxysql.cnf").read_text()
    for hg in ("writer_hostgroup=10", "backup_writer_hostgroup=20", "reader_hostgroup=30",
               "offline_hostgroup=9999"):
        assert hg in proxysql


def test_purge_token_is_generated_mounted_and_required(tmp_path: Path) -> None:
    from wpfarm_tui.actions.bootstrap import GENERATED_SECRETS, OPERATOR_SECRETS
    from wpfarm_tui.stacks.render import PURGE_TOKEN_HEADER, PURGE_TOKEN_SECRET

    render_farm(parse_farm(farm_yaml()), tmp_path)
    compose = tmp_path / "docker/compose"
    varnish = yaml.safe_load((compose / "varnish.yml").read_text())
    assert PURGE_TOKEN_SECRET in varnish["services"]["varnish"]["secrets"]
    wordpress = yaml.safe_load((compose / "wordpress.yml").read_text())
    for svc in wordpress["services"].values():
        assert PURGE_TOKEN_SECRET in svc["secrets"]
    # bootstrap creates every secret a stack names (or tells the operator to).
    named = set()
    for stack in compose.glob("*.yml"):
        named |= set(yaml.safe_load(stack.read_text()).get("secrets") or {})
    assert PURGE_TOKEN_SECRET in GENERATED_SECRETS
    assert named <= set(GENERATED_SECRETS) | set(OPERATOR_SECRETS)
    vcl = (tmp_path / "docker/configs/varnish/default.vcl").read_text()
    recv = vcl[vcl.index("sub vcl_recv"):]
    # The token check runs before anything can return from vcl_recv.
    assert recv.index("call wpfarm_purge;") < recv.index("return (")
    check = vcl[vcl.index("sub wpfarm_purge"):vcl.index('if (req.method == "PURGE") {')]
    assert f'std.fileread("/run/secrets/{PURGE_TOKEN_SECRET}")' in check
    assert f"req.http.{PURGE_TOKEN_HEADER} !=" in check and "synth(403" in check
    entrypoint = (tmp_path / "docker/images/wordpress/entrypoint.sh").read_text()
    assert "['wp_filter']['varnish_http_purge_headers']" in entrypoint
    assert f"$headers['{PURGE_TOKEN_HEADER}'] = wpfarm_secret('{PURGE_TOKEN_SECRET}')" \
        in entrypoint


def test_public_entry_points_refuse_purge_and_ban(tmp_path: Path) -> None:
    render_farm(parse_farm(farm_yaml()), tmp_path)
    security = yaml.safe_load(
        (tmp_path / "docker/configs/traefik/dynamic/security.yml").read_text())["http"]
    refuse = security["routers"]["refuse-cache-invalidation"]
    assert refuse["rule"] == "Method(`PURGE`) || Method(`BAN`)"
    assert set(refuse["entryPoints"]) == {"web", "websecure"}
    assert refuse["middlewares"] == ["deny-all"]
    assert security["middlewares"]["deny-all"]["ipAllowList"]["sourceRange"] == ["0.0.0.0/32"]
    # Above every public router: explicit priorities, and the default (the rule's length)
    # even for the longest domain name.
    labels = yaml.safe_load((tmp_path / "docker/compose/wordpress.yml").read_text())
    for svc in labels["services"].values():
        for key, value in svc["deploy"]["labels"].items():
            if key.endswith(".priority"):
                assert int(value) < refuse["priority"], key
    longest = f"Host(`{'a' * 253}`) || Host(`www.{'a' * 253}`)"
    assert len(longest) * 2 < refuse["priority"]


def test_the_loopback_lab_uses_the_farms_purge_rules(tmp_path: Path) -> None:
    from importlib import resources

    lab_edge = yaml.safe_load(resources.files("wpfarm_tui.lab").joinpath(
        "templates", "traefik-edge.yml").read_text())["http"]
    render_farm(parse_farm(farm_yaml()), tmp_path)
    farm = yaml.safe_load(
        (tmp_path / "docker/configs/traefik/dynamic/security.yml").read_text())["http"]
    lab_router = dict(lab_edge["routers"]["refuse-cache-invalidation"])
    farm_router = dict(farm["routers"]["refuse-cache-invalidation"])
    assert lab_router.pop("entryPoints") == ["web"]  # the lab's one public entry point
    farm_router.pop("entryPoints")
    assert lab_router == farm_router
    assert lab_edge["middlewares"]["deny-all"] == farm["middlewares"]["deny-all"]
    vcl = resources.files("wpfarm_tui.lab").joinpath("templates", "default.vcl").read_text()
    assert "@@VCL_PURGE@@" in vcl and "call wpfarm_purge;" in vcl



def test_access_log_keeps_what_the_traffic_figures_read(tmp_path: Path) -> None:
    """Traefik's access log (stdout: the service's logs) keeps the headers status/traffic.py
    needs (the probe's User-Agent, Varnish's X-Cache, the visitor behind Cloudflare), and
    the VCL tells a pass apart from a miss."""
    from wpfarm_tui.farm.access_log import parse

    render_farm(parse_farm(farm_yaml()), tmp_path)
    static = yaml.safe_load((tmp_path / "docker/configs/traefik/traefik.yml").read_text())
    log = static["accessLog"]
    assert log["format"] == "json" and "filePath" not in log
    kept = log["fields"]["headers"]["names"]
    assert {k for k, v in kept.items() if v == "keep"} == {
        "User-Agent", "X-Cache", "Cf-Connecting-Ip"}
    assert set(static["entryPoints"]) >= {"web", "websecure", "sites"}
    vcl = (tmp_path / "docker/configs/varnish/default.vcl").read_text()
    assert 'set resp.http.X-Cache = "PASS"' in vcl
    # A line as Traefik writes those fields, through the service's logs (a timestamp first).
    line = ('2026-11-29T01:29:05.1Z {"RequestHost":"a.test","RouterName":"a@swarm",'
            '"DownstreamStatus":200,'
            '"Duration":5000000,"entryPointName":"websecure","downstream_X-Cache":"PASS",'
            '"request_User-Agent":"x","request_Cf-Connecting-Ip":"203.0.113.1"}')
    r = parse(line)
    assert r is not None and (r.cache, r.client) == ("PASS", "203.0.113.1")
