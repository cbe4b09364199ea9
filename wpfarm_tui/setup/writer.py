"""Writing a new, commented farm.yaml from the answers of `wpfarm init`.

Endpoints are derived from the roles (Galera on db nodes, Redis and Varnish
on cache nodes, Traefik and CrowdSec on the first manager) with the ports the
rendered stacks use; secrets are references to files under the config dir,
which `wpfarm bootstrap` fills. The text is checked by loading it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from wpfarm_tui.files import write_atomic
from wpfarm_tui.inventory import InventoryError, parse_farm


@dataclass(frozen=True)
class NodeAnswer:
    name: str
    address: str
    user: str = "root"
    port: int = 22
    key: str | None = None  # None: the agent or ~/.ssh/config
    roles: tuple[str, ...] = ("manager",)


@dataclass(frozen=True)
class FarmAnswers:
    name: str
    domain: str
    profile: str  # production | small
    nodes: tuple[NodeAnswer, ...]
    secrets_dir: str = "~/.config/wpfarm/secrets"


def _flow(value: object) -> str:
    """One YAML scalar or flow collection, quoted only where YAML needs it."""
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix(
        "\n...").removesuffix("...").strip()


def _with_role(answers: FarmAnswers, role: str) -> list[NodeAnswer]:
    return [n for n in answers.nodes if role in n.roles]


def render_farm_yaml(answers: FarmAnswers) -> str:
    managers = _with_role(answers, "manager")
    db = _with_role(answers, "db")
    cache = _with_role(answers, "cache")
    ops = _with_role(answers, "ops")
    first = managers[0] if managers else answers.nodes[0]
    secret = answers.secrets_dir.rstrip("/")
    lines = [
        f"# farm.yaml for {answers.name}, written by `wpfarm init`.",
        "# Every field is documented in wpfarm_tui/data/farm.example.yaml.",
        "# Secrets are references to files that `wpfarm bootstrap` creates; never write",
        "# a password here.",
        "farm:",
        f"  name: {_flow(answers.name)}",
        f"  domain: {_flow(answers.domain)}",
        f"  profile: {answers.profile}",
        "",
        "nodes:",
    ]
    for n in answers.nodes:
        ssh = {"user": n.user, "port": n.port}
        if n.key:
            ssh["key"] = n.key
        lines += [f"  - name: {n.name}", f"    address: {_flow(n.address)}",
                  f"    ssh: {_flow(ssh)}", f"    roles: {_flow(list(n.roles))}"]
    lines += ["", "endpoints:",
              "  docker:                       # the first manager's engine, over SSH",
              f"    host: {_flow(f'ssh://{first.user}@{first.address}:{first.port}')}",
              "    timeout: 5"]
    if db:
        lines += ["  galera:", "    user: wpfarm_monitor",
                  f"    password: {{file: {secret}/galera_monitor_password}}", "    nodes:"]
        lines += [f"      - {_flow({'name': n.name, 'host': n.address, 'port': 3306})}"
                  for n in db]
        lines += ["  proxysql:", f"    host: {_flow(db[0].address)}", "    port: 6032",
                  "    user: radmin", f"    password: {{file: {secret}/proxysql_admin_password}}"]
    if cache:
        lines += ["  redis:", "    master_name: wpfarm-cache",
                  f"    password: {{file: {secret}/redis_password}}", "    instances:"]
        # The admin ports the cache stack publishes on each node; Sentinel names the
        # master by its overlay name (`announce`).
        lines += [f"      - {_flow({'name': n.name, 'host': n.address, 'port': 6379, 'announce': f'redis-cache-{i}:6379'})}"  # noqa: E501
                  for i, n in enumerate(cache, 1)]
        lines += ["    sentinels:"]
        lines += [f"      - {_flow({'name': f'{n.name}-sentinel', 'host': n.address, 'port': 26379})}"  # noqa: E501
                  for n in cache]
        lines += ["  varnish:",
                  "    instances:     # varnishstat in the node's Varnish task, over SSH"]
        lines += [f"      - {_flow({'name': f'{n.name}-varnish', 'node': n.name, 'container': 'cache_varnish'})}"  # noqa: E501
                  for n in cache]
    lines += ["  traefik:", f"    api: {_flow(f'http://{first.address}:8080')}",
              f"    metrics: {_flow(f'http://{first.address}:8082/metrics')}",
              "  crowdsec:", f"    lapi: {_flow(f'http://{first.address}:8081')}",
              f"    bouncer_key: {{file: {secret}/crowdsec_bouncer_key}}",
              "    # ban and unban: cscli in the LAPI's task on its node, over SSH",
              f"    node: {_flow(first.name)}", "    container: security_crowdsec"]
    if ops:  # Mimir's Prometheus API, pinned to the first ops node (stacks/placement.py)
        lines += ["  metrics:                     # node CPU, memory, disk; firing rules",
                  f"    url: {_flow(f'http://{ops[0].address}:9009/prometheus')}"]
    lines += ["", "sites:", f"  edge_url: {_flow(f'https://{first.address}')}",
              "  registry: galera", "", "refresh:", "  interval: 2.0", ""]
    text = "\n".join(lines)
    try:
        parse_farm(text, "farm.yaml (generated)")
    except InventoryError as exc:  # a bug here, or answers that slipped past validation
        raise ValueError(f"the generated farm.yaml does not load: {exc}") from None
    return text


def write_farm_yaml(answers: FarmAnswers, path: Path, overwrite: bool = False) -> Path:
    """Write atomically; an existing file is kept unless overwrite (never half-written)."""
    text = render_farm_yaml(answers)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; keep it, or pass --force to replace it")
    write_atomic(path, text)
    return path


def validate_answers(answers: FarmAnswers) -> list[str]:
    """Every problem in the answers, each naming the field and the fix."""
    from wpfarm_tui.inventory import PROFILES, ROLES, _domain, _host, _name, _port

    problems: list[str] = []

    def check(field: str, fn, value: object, fix: str) -> None:  # noqa: ANN001
        try:
            fn(value)
        except (ValueError, TypeError) as exc:
            detail = f" ({exc})" if str(exc) else ""
            problems.append(f"{field}: {value!r} is not valid{detail}. Fix: {fix}")

    check("name", _name, answers.name, "a short name: lowercase letters, digits and '-'")
    check("domain", _domain, answers.domain, "a domain like example.com")
    if answers.profile not in PROFILES:
        problems.append(f"profile: {answers.profile!r} is unknown. Fix: one of "
                        f"{', '.join(PROFILES)}")
    if not answers.nodes:
        problems.append("nodes: none given. Fix: add at least one node")
    seen: set[str] = set()
    for i, node in enumerate(answers.nodes):
        f = f"nodes[{i}]"
        check(f"{f}.name", _name, node.name, "a node name like mgr1")
        check(f"{f}.address", _host, node.address, "an IP address or host name")
        check(f"{f}.port", _port, node.port, "a port number 1-65535")
        if node.name in seen:
            problems.append(f"{f}.name: {node.name!r} is used twice. Fix: unique node names")
        seen.add(node.name)
        bad = [r for r in node.roles if r not in ROLES]
        if bad or not node.roles:
            problems.append(f"{f}.roles: {', '.join(bad) or 'none'} not valid. Fix: one or "
                            f"more of {', '.join(ROLES)}")
        if node.key and not Path(node.key).expanduser().exists():
            problems.append(f"{f}.key: {node.key} does not exist. Fix: the path of a private "
                            "key, or leave it out to use the agent")
    if not any("manager" in n.roles for n in answers.nodes):
        problems.append("nodes: no manager. Fix: give at least one node the manager role")
    return problems
