"""Render the farm's definition (Swarm stacks, configs, image sources) from a `Farm`.

Templates live in `templates/` and use `@@NAME@@` placeholders, filled with plain
Python (no Jinja): nginx, shell, VCL and PHP are full of `$`, `{` and `%`, which
`string.Template` or `str.format` would force us to escape everywhere, and the few
repeated blocks (one Galera service per db node, ...) are small fragments filled in a
loop. An unknown placeholder is an error, never silently left in a file.

`@@SHA:<path>@@` in a stack file is replaced by a short hash of that rendered file:
Swarm configs are immutable, so each one is named after its content and a changed
file gets a new config on the next deploy.

No secret value is ever read or written here: secrets are Docker secrets declared
`external: true` and referenced by name; the containers read /run/secrets/<name>.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from wpfarm_tui.files import write_atomic
from wpfarm_tui.inventory import Farm, Node
from wpfarm_tui.stacks.placement import swarm_labels
from wpfarm_tui.stacks.rules import RulesError, alert_rules
from wpfarm_tui.stacks.versions import VersionError, resolve_versions
from wpfarm_tui.status.thresholds import DEFAULT_THRESHOLDS

TEMPLATES = Path(__file__).parent / "templates"
CLOUDFLARE_IPS = Path(__file__).parent / "data" / "cloudflare_ips.txt"
_PLACEHOLDER = re.compile(r"@@([A-Za-z0-9_]+)@@")
_SHA = re.compile(r"@@SHA:([^@]+)@@")

#: Overlay networks shared by the stacks (created by prepare-swarm.sh): name -> attachable.
#: Attachable where one-off containers must join (wp-cli on app/cache/db, debugging tools
#: on monitoring); the edge network carries only Traefik's traffic.
NETWORKS: dict[str, bool] = {
    "wpfarm_edge": False,
    "wpfarm_app": True,
    "wpfarm_cache": True,
    "wpfarm_db": True,
    "wpfarm_monitoring": True,
}

#: Who may PURGE and BAN Varnish: the holder of this Docker secret, sent in this header
#: (fragments/purge.vcl). Varnish, the WordPress services and the console's BAN job mount it.
PURGE_TOKEN_SECRET = "varnish_purge_token"
PURGE_TOKEN_HEADER = "X-Purge-Token"

#: The stack files, in deploy order, under docker/compose/.
STACK_FILES = (
    "traefik.yml",
    "crowdsec.yml",
    "redis.yml",
    "varnish.yml",
    "mariadb.yml",
    "proxysql.yml",
    "wordpress.yml",
    "backup.yml",
    "observability.yml",
    "management.yml",
)

#: The six dashboards of the architecture: file stem -> title.
DASHBOARDS = {
    "cluster-overview": "Cluster Overview",
    "traefik": "Traefik",
    "wordpress": "WordPress",
    "database": "Database",
    "cache": "Cache",
    "security": "Security",
}

class StackError(Exception):
    """The farm cannot be rendered; the message names the problem and the fix."""


@dataclass(frozen=True)
class _Ctx:
    farm: Farm
    versions: dict[str, str]
    managers: tuple[Node, ...]
    dbs: tuple[Node, ...]
    caches: tuple[Node, ...]
    cloudflare: tuple[str, ...]


# ---------------------------------------------------------------- helpers
def _fill(text: str, values: Mapping[str, str], where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values:
            raise StackError(f"template {where}: unknown placeholder @@{key}@@")
        return values[key]

    return _PLACEHOLDER.sub(sub, text)


def _template(rel: str) -> str:
    return (TEMPLATES / rel).read_text()


def load_cloudflare_ips(path: Path = CLOUDFLARE_IPS) -> tuple[str, ...]:
    """Cloudflare's ranges from the data file; a malformed line is an error."""
    out: list[str] = []
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            out.append(str(ipaddress.ip_network(line)))
        except ValueError as exc:
            raise StackError(f"{path}:{n}: {line!r} is not an IP range ({exc}); "
                             "fix the line or remove it") from None
    if not out:
        raise StackError(f"{path}: no ranges; restore Cloudflare's published list")
    return tuple(out)


def _yaml_list(items: tuple[str, ...] | list[str], indent: int) -> str:
    pad = " " * indent
    return "\n".join(f'{pad}- "{item}"' for item in items)


def _slug(domain: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", domain.lower()).strip("-")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def check_ha(farm: Farm) -> None:
    """Refuse a farm the architecture calls unsafe, before anything is written."""
    managers = [n for n in farm.nodes if "manager" in n.roles]
    dbs = [n for n in farm.nodes if "db" in n.roles]
    caches = [n for n in farm.nodes if "cache" in n.roles]
    problems: list[str] = []
    if farm.profile == "production":
        if len(managers) < 3:
            problems.append(
                f"profile production needs at least 3 manager nodes (Swarm's Raft quorum and "
                f"one Traefik per manager), found {len(managers)}: add `manager` to the roles "
                f"of {3 - len(managers)} more node(s) in farm.yaml, or set `farm.profile: small`")
        if len(dbs) < 3:
            problems.append(
                f"profile production needs at least 3 db nodes (a Galera cluster survives one "
                f"loss only with 3), found {len(dbs)}: add `db` to the roles of "
                f"{3 - len(dbs)} more node(s) in farm.yaml, or set `farm.profile: small`")
        if len(managers) % 2 == 0 and len(managers) >= 3:
            problems.append(
                f"profile production needs an odd number of managers for a Raft majority, "
                f"found {len(managers)}: add or remove one `manager` role")
    if not managers:
        problems.append("no node has the `manager` role: give one node `roles: [manager]`")
    if not dbs:
        problems.append("no node has the `db` role: give one node `db` in its roles")
    if not caches:
        problems.append("no node has the `cache` role: give one node `cache` in its roles")
    if problems:
        raise StackError(f"farm {farm.name!r} ({farm.profile}): cannot render the stacks:\n  "
                         + "\n  ".join(problems))


# ---------------------------------------------------------------- generated parts
def _galera_services(ctx: _Ctx) -> str:
    frag = _template("fragments/galera-service.yml")
    return "".join(
        _fill(frag, {"SERVICE": f"mariadb-{i}", "NODE": node.name}, "galera-service.yml")
        for i, node in enumerate(ctx.dbs, 1))


def _admin_port(port: int) -> str:
    """The console's way in from the bastion (README "How the bastion reaches the farm"):
    published in host mode on the task's own node, never through the routing mesh, so only
    the node's private address answers it (the firewall keeps the public side at 80/443).
    The object-cache group only: the console watches one Sentinel master."""
    return ("    ports:\n"
            f"      - {{target: {port}, published: {port}, protocol: tcp, mode: host}}")


def _redis_services(ctx: _Ctx) -> tuple[str, str]:
    frag = _template("fragments/redis-service.yml")
    services: list[str] = []
    volumes: list[str] = []
    for i, node in enumerate(ctx.caches, 1):
        for group, conf, key, memory in (("cache", "redis-cache.conf", "redis_cache_conf", "3G"),
                                         ("sessions", "redis-sessions.conf",
                                          "redis_sessions_conf", "2G")):
            service = f"redis-{group}-{i}"
            extra = f', "--replica-announce-ip", "{service}"'
            if i > 1:
                extra += f', "--replicaof", "redis-{group}-1", "6379"'
            services.append(_fill(frag, {
                "SERVICE": service, "KIND": "redis", "CONF": conf, "CONFIG_KEY": key,
                "EXTRA_ARGS": extra, "NODE": node.name, "MEMORY": memory, "PORT": "6379",
                "PORTS": _admin_port(6379) if group == "cache" else "    # no port: not watched",
            }, "redis-service.yml"))
            volumes.append(f"  {service}-data: {{}}")
        service = f"sentinel-{i}"
        services.append(_fill(frag, {
            "SERVICE": service, "KIND": "sentinel", "CONF": "sentinel.conf",
            "CONFIG_KEY": "sentinel_conf", "EXTRA_ARGS": "", "NODE": node.name,
            "MEMORY": "128M", "PORT": "26379", "PORTS": _admin_port(26379),
        }, "redis-service.yml"))
        volumes.append(f"  {service}-data: {{}}")
    return "".join(services), "\n".join(volumes)


def _sentinel_monitors(ctx: _Ctx) -> str:
    quorum = len(ctx.caches) // 2 + 1
    lines: list[str] = []
    for group in ("cache", "sessions"):
        name = f"wpfarm-{group}"
        lines += [
            f"sentinel monitor {name} redis-{group}-1 6379 {quorum}",
            f"sentinel down-after-milliseconds {name} 5000",
            f"sentinel failover-timeout {name} 60000",
            f"sentinel parallel-syncs {name} 1",
        ]
    return "\n".join(lines)


def _site(ctx: _Ctx) -> dict[str, str]:
    domain = ctx.farm.domain
    slug = _slug(domain)
    return {
        "SITE": domain,
        "SERVICE": f"site-{slug}",
        "DB_NAME": "wp_" + slug.replace("-", "_"),
        "REDIS_PREFIX": slug.replace("-", "_") + ":",
        "HOST_RULE": f"Host(`{domain}`) || Host(`www.{domain}`)",
        "SENTINELS": ",".join(f"sentinel-{i}" for i in range(1, len(ctx.caches) + 1)),
    }


def _vcl_parts(ctx: _Ctx) -> tuple[str, str]:
    """One backend for every site: Traefik's `sites` entry point, which routes by Host to
    the site's service. Per-site backends would mean a new VCL (and a Varnish restart, its
    cache lost) for every site created; health is Swarm's and Traefik's to judge (a task
    failing its healthcheck leaves Traefik's rotation)."""
    backends = (
        "backend sites {\n"
        "    .host = \"traefik\";\n"
        "    .port = \"8081\";\n"
        "    .connect_timeout = 2s;\n"
        "    .first_byte_timeout = 60s;\n"
        "    .between_bytes_timeout = 10s;\n"
        "}\n"
    )
    routing = "    set req.backend_hint = sites;"
    return backends, routing


def vcl_purge(token_file: str) -> str:
    """The VCL that decides who may PURGE and BAN, reading the purge token from
    `token_file`: the farm's VCL and the loopback lab's use this same text."""
    return _fill(_template("fragments/purge.vcl"),
                 {"PURGE_TOKEN_FILE": token_file, "PURGE_HEADER": PURGE_TOKEN_HEADER},
                 "purge.vcl")


def _dashboards(ctx: _Ctx) -> dict[str, str]:
    out: dict[str, str] = {}
    for uid, title in DASHBOARDS.items():
        board = {
            "uid": f"wpfarm-{uid}",
            "title": title,
            "tags": ["wpfarm", ctx.farm.name],
            "timezone": "utc",
            "schemaVersion": 39,
            "version": 1,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "panels": [],
        }
        out[f"docker/configs/grafana/dashboards/{uid}.json"] = (
            json.dumps(board, indent=2, sort_keys=True) + "\n")
    return out


def _alert_rules(ctx: _Ctx) -> str:
    try:
        return alert_rules(ctx.farm.name, ctx.farm.thresholds or DEFAULT_THRESHOLDS)
    except RulesError as exc:
        raise StackError(str(exc)) from None


def _prepare_script(ctx: _Ctx) -> str:
    lines = [
        "#!/bin/sh",
        f"# Prepare the Swarm for farm {ctx.farm.name} (rendered by wpfarm): the shared overlay",
        "# networks and the node labels the stacks place services by. Safe to run again.",
        "set -eu",
        "",
    ]
    for name, attachable in NETWORKS.items():
        flag = " --attachable" if attachable else ""
        lines.append(f"docker network inspect {name} >/dev/null 2>&1 || "
                     f"docker network create --driver overlay{flag} {name}")
    lines.append("")
    for node in ctx.farm.nodes:
        labels = swarm_labels(ctx.farm, node)
        args = " ".join(f"--label-add {k}={v}" for k, v in labels.items())
        lines.append(f"docker node update {args} {node.name}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the render
def _render_all(ctx: _Ctx) -> dict[str, str]:
    farm, v = ctx.farm, ctx.versions
    site = _site(ctx)
    backends, routing = _vcl_parts(ctx)
    redis_services, redis_volumes = _redis_services(ctx)
    values: dict[str, str] = {f"V_{k.upper()}": val for k, val in v.items()}
    values.update({
        "FARM_NAME": farm.name,
        "DOMAIN": farm.domain,
        "ACME_EMAIL": f"hostmaster@{farm.domain}",
        "MANAGER_COUNT": str(len(ctx.managers)),
        "CACHE_COUNT": str(len(ctx.caches)),
        "CLOUDFLARE_IPS_10": _yaml_list(ctx.cloudflare, 10),
        "CLOUDFLARE_IPS_12": _yaml_list(ctx.cloudflare, 12),
        "VCL_BACKENDS": backends,
        "VCL_ROUTING": routing,
        "VCL_PURGE": vcl_purge(f"/run/secrets/{PURGE_TOKEN_SECRET}"),
        "PURGE_TOKEN_SECRET": PURGE_TOKEN_SECRET,
        "PURGE_TOKEN_HEADER": PURGE_TOKEN_HEADER,
        "SENTINEL_MONITORS": _sentinel_monitors(ctx),
        "SENTINEL_MASTER_NAMES": "wpfarm-cache wpfarm-sessions",
        "GALERA_MEMBERS": ",".join(f"mariadb-{i}" for i in range(1, len(ctx.dbs) + 1)),
        "GALERA_FIRST": ctx.dbs[0].name,
        "GALERA_SERVICES": _galera_services(ctx),
        "REDIS_SERVICES": redis_services,
        "REDIS_VOLUMES": redis_volumes,
        "EXAMPLE_SITE": site["SITE"],
        "PROXYSQL_SERVERS": ",\n".join(
            f'    {{ address="mariadb-{i}" port=3306 hostgroup=10 max_connections=1000 '
            f'comment="{n.name}" }}' for i, n in enumerate(ctx.dbs, 1)),
        "PROXYSQL_PEERS": ",\n".join(
            f'    {{ hostname="{n.address}" port=6032 weight=0 comment="{n.name}" }}'
            for n in ctx.dbs),
        "ALLOY_REDIS_TARGETS": "\n".join(
            f'    {{"__address__" = "redis-exporter:9121", '
            f'"__param_target" = "redis://redis-{g}-{i}:6379", "job" = "redis"}},'
            for i in range(1, len(ctx.caches) + 1) for g in ("cache", "sessions")),
    })
    values["SITE_SERVICES"] = _fill(_template("fragments/site-service.yml"), site,
                                    "site-service.yml")

    out: dict[str, str] = {}
    for sub in ("configs", "images"):
        for path in sorted((TEMPLATES / sub).rglob("*")):
            if path.is_file():
                rel = path.relative_to(TEMPLATES).as_posix()
                out[f"docker/{rel}"] = _fill(path.read_text(), values, rel)
    # One VCL: the image bakes it in, the stack config replaces it without a rebuild.
    out["docker/images/varnish/default.vcl"] = out["docker/configs/varnish/default.vcl"]
    out.update(_dashboards(ctx))
    out["docker/configs/grafana/alerting/wpfarm-alerts.yml"] = _alert_rules(ctx)
    out["docker/compose/prepare-swarm.sh"] = _prepare_script(ctx)

    mounts, configs = [], []
    for uid in DASHBOARDS:
        rel = f"configs/grafana/dashboards/{uid}.json"
        mounts.append(f"      - {{source: dashboard_{uid.replace('-', '_')}, "
                      f"target: /var/lib/grafana/dashboards/wpfarm/{uid}.json}}")
        configs.append(f"  dashboard_{uid.replace('-', '_')}:\n"
                       f"    name: wpfarm_dashboard_{uid.replace('-', '_')}_@@SHA:{rel}@@\n"
                       f"    file: ../{rel}")
    values["GRAFANA_DASHBOARD_MOUNTS"] = "\n".join(mounts)
    values["GRAFANA_DASHBOARD_CONFIGS"] = "\n".join(configs)

    for name in STACK_FILES:
        text = _fill(_template(f"compose/{name}"), values, f"compose/{name}")
        text = _fill(text, values, f"compose/{name}")  # placeholders inside generated parts

        def sha(m: re.Match[str], _name: str = name) -> str:
            target = f"docker/{m.group(1)}"
            if target not in out:
                raise StackError(f"compose/{_name}: @@SHA:{m.group(1)}@@ names no rendered file")
            return _sha(out[target])

        out[f"docker/compose/{name}"] = _SHA.sub(sha, text)
    return out


def lab_override(stack_text: str, name: str) -> str:
    """An override for a rendered stack file on a Swarm without IPVS (the swarm lab).

    No IPVS means no service virtual IPs and no ingress routing mesh: every service gets
    `endpoint_mode: dnsrr` and every published port `mode: host`. Merged over the stack
    file by the deploy (wpfarm_tui/stacks/deploy.py); production files are unchanged.
    """
    doc = yaml.safe_load(stack_text) or {}
    services: dict[str, dict] = {}
    for svc_name, svc in (doc.get("services") or {}).items():
        over: dict = {"deploy": {"endpoint_mode": "dnsrr"}}
        ports = []
        for p in (svc or {}).get("ports") or []:
            if isinstance(p, dict):
                ports.append({**p, "mode": "host"})
            else:
                text, _, proto = str(p).partition("/")
                pub, _, tgt = text.rpartition(":")
                ports.append({"target": int(tgt), "published": int(pub or tgt),
                              "protocol": proto or "tcp", "mode": "host"})
        if ports:
            over["ports"] = ports
        services[svc_name] = over
    head = (f"# Lab override of {name} (rendered by wpfarm with lab=True): no IPVS here, so\n"
            "# DNS round robin instead of virtual IPs and host-mode ports instead of ingress.\n")
    return head + yaml.safe_dump({"services": services}, sort_keys=True)


def render_farm(farm: Farm, out_dir: Path, versions: Mapping[str, str] | None = None,
                lab: bool = False) -> list[Path]:
    """Render the farm's definition under `out_dir`; returns every file it holds, sorted.

    Idempotent: an unchanged file is not rewritten. Every check (HA, versions, templates)
    runs before the first byte is written, so a refused farm leaves `out_dir` untouched.
    `lab=True` adds docker/compose/lab/<stack>.yml overrides for a Swarm without IPVS
    (see `lab_override`); the production files are the same either way.
    """
    check_ha(farm)
    try:
        resolved = resolve_versions(versions)
    except VersionError as exc:
        raise StackError(str(exc)) from None
    ctx = _Ctx(
        farm=farm,
        versions=resolved,
        managers=tuple(n for n in farm.nodes if "manager" in n.roles),
        dbs=tuple(n for n in farm.nodes if "db" in n.roles),
        caches=tuple(n for n in farm.nodes if "cache" in n.roles),
        cloudflare=load_cloudflare_ips(),
    )
    files = _render_all(ctx)
    if lab:
        for name in STACK_FILES:
            files[f"docker/compose/lab/{name}"] = lab_override(
                files[f"docker/compose/{name}"], name)
    out_dir = Path(out_dir)
    written: list[Path] = []
    for rel in sorted(files):
        path = out_dir / rel
        mode = 0o755 if rel.endswith(".sh") else 0o644
        write_atomic(path, files[rel], mode, if_changed=True, fsync=True)
        written.append(path)
    return written
