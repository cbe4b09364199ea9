"""The operator's farm.yaml, loaded into typed, frozen objects.

Every problem found is reported at once, each with the file, the line, the
field's dotted path and the fix, so an operator fixes a file in one pass.
Unknown keys are errors: a misspelt `timout` must not silently fall back to
the default.
"""

from __future__ import annotations

import difflib
import errno
import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from wpfarm_tui import safe_yaml
from wpfarm_tui.safe_yaml import LocDict as _Loc
from wpfarm_tui.safe_yaml import cut, shown
from wpfarm_tui.secrets import SECRET_KINDS, Secret, read_regular_file
from wpfarm_tui.status.thresholds import DEFAULT_THRESHOLDS, Threshold

ROLES = ("manager", "worker", "db", "cache", "storage", "ops")
PROFILES = ("production", "small", "lab")
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_DOCKER_SECRET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")  # a name, never a path
MAX_SECONDS = 3600.0  # a timeout or poll interval beyond an hour is a typo
MAX_SHOWN_PROBLEMS = 100


# ---------------------------------------------------------------- the model
@dataclass(frozen=True)
class SshSettings:
    user: str = "root"
    port: int = 22
    key: Path | None = None  # None: the agent and ~/.ssh/config decide
    # The host keys trusted for this node; None: ~/.ssh/known_hosts. Never "accept any".
    known_hosts: Path | None = None


@dataclass(frozen=True)
class Node:
    name: str
    address: str
    ssh: SshSettings
    roles: frozenset[str]


@dataclass(frozen=True)
class HostPort:
    name: str
    host: str
    port: int
    # How the farm's own clients and Sentinel name it ("redis-cache-1:6379" on the Swarm's
    # overlay) when the console reaches it another way (a port published on its node).
    announce: str | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def farm_address(self) -> str:
        return self.announce or self.address


@dataclass(frozen=True)
class DockerEndpoint:
    host: str
    timeout: float = 5.0


@dataclass(frozen=True)
class GaleraEndpoint:
    user: str
    password: Secret | None
    nodes: tuple[HostPort, ...]
    timeout: float = 2.0


@dataclass(frozen=True)
class ProxySQLEndpoint:
    host: str
    port: int
    user: str
    password: Secret | None
    timeout: float = 2.0


@dataclass(frozen=True)
class RedisEndpoint:
    master_name: str
    password: Secret | None
    instances: tuple[HostPort, ...]
    sentinels: tuple[HostPort, ...]
    timeout: float = 2.0


@dataclass(frozen=True)
class VarnishInstance:
    name: str
    workdir: str  # "" with `container`: varnishd's default inside the task
    node: str | None = None  # run varnishstat over SSH on this node; None = locally
    # On a Swarm: the service whose task on `node` runs varnishd; varnishstat runs inside
    # it (docker exec), where varnishd's shared memory is and its version matches.
    container: str | None = None


@dataclass(frozen=True)
class VarnishEndpoint:
    instances: tuple[VarnishInstance, ...]
    timeout: float = 3.0


@dataclass(frozen=True)
class TraefikEndpoint:
    api: str
    timeout: float = 2.0
    # Traefik's Prometheus metrics (/metrics on its metrics entry point): per router
    # requests, status classes and latency. None: the Edge pane shows no rates.
    metrics: str | None = None
    # Its JSON access log, the visitors' traffic per site (status/traffic.py): an absolute
    # path (a file Traefik writes, the lab) or a Swarm service name (its logs through
    # endpoints.docker, e.g. edge_traefik). None: no traffic figures.
    access_log: str | None = None


@dataclass(frozen=True)
class CrowdSecEndpoint:
    lapi: str
    bouncer_key: Secret
    timeout: float = 2.0
    # A machine's credentials (local_api_credentials.yaml): bouncers may only read,
    # banning and unbanning go through the watcher API.
    machine_credentials: Secret | None = None
    # On a Swarm, instead: bans and unbans run `cscli` inside the LAPI's task (the
    # `container` service) on `node`, over SSH; no machine password leaves the farm.
    node: str | None = None
    container: str | None = None


@dataclass(frozen=True)
class MetricsEndpoint:
    """A Prometheus-compatible query API: Prometheus itself, or Mimir (whose tenant is the
    X-Scope-OrgID header). Auth is a bearer `token`, or `user` + `password` (basic)."""

    url: str  # the API's root: <url>/api/v1/query answers (Mimir: .../prometheus)
    tenant: str | None = None
    user: str | None = None
    password: Secret | None = None
    token: Secret | None = None
    timeout: float = 2.0


# The farm's definition of its GlusterFS volume's options (bootstrap sets them, the Storage
# pane shows any that drift). The architecture names none: these keep writes to a majority
# of the three bricks (no split-brain by design), heal in the background, stop a dead
# brick from hanging the sites' I/O for gluster's default 42 s, and give WordPress
# (www-data, uid 33) the volume's root.
GLUSTER_OPTIONS: dict[str, str] = {
    "cluster.quorum-type": "auto",
    "cluster.self-heal-daemon": "on",
    "network.ping-timeout": "10",
    "performance.cache-size": "256MB",
    "storage.owner-uid": "33",
    "storage.owner-gid": "33",
}


@dataclass(frozen=True)
class GlusterEndpoint:
    """The farm's GlusterFS volume: `gluster` runs on `node` over SSH (None: on this
    machine, the loopback lab), and the mount at `mount` is checked on `mount_nodes`
    (none: on this machine)."""

    volume: str
    node: str | None = None
    mount: str = "/mnt/gluster"
    mount_nodes: tuple[str, ...] = ()
    options: Mapping[str, str] = field(default_factory=lambda: dict(GLUSTER_OPTIONS))
    timeout: float = 5.0


@dataclass(frozen=True)
class Endpoints:
    docker: DockerEndpoint | None = None
    galera: GaleraEndpoint | None = None
    proxysql: ProxySQLEndpoint | None = None
    redis: RedisEndpoint | None = None
    varnish: VarnishEndpoint | None = None
    traefik: TraefikEndpoint | None = None
    crowdsec: CrowdSecEndpoint | None = None
    metrics: MetricsEndpoint | None = None
    gluster: GlusterEndpoint | None = None


@dataclass(frozen=True)
class SitesSettings:
    edge_url: str | None = None
    registry: str = "galera"  # galera | none
    static: tuple[str, ...] = ()  # domains probed in addition to the registry's
    timeout: float = 5.0
    verify_tls: bool = True
    maintenance_dir: str | None = None  # where the web servers look for maintenance flags
    # Where sites run: "swarm" (one service per site) or "lab" (the loopback lab's
    # nginx + php-fpm). None: the loopback lab for profile lab, else swarm.
    runtime: str | None = None


@dataclass(frozen=True)
class Retention:
    daily: int = 7
    weekly: int = 4
    monthly: int = 12


@dataclass(frozen=True)
class BackupSettings:
    repository: str  # restic repository: s3:https://host/bucket, /local/path, sftp:...
    password: Secret  # the repository's encryption password
    aws_access_key_id: Secret | None = None
    aws_secret_access_key: Secret | None = None
    sites_root: str = "/var/opt/wordpress-farm/sites"  # <root>/<domain>/wp-content ...
    node: str | None = None  # run restic there over SSH; None = on this machine
    retention: Retention = Retention()


@dataclass(frozen=True)
class RefreshSettings:
    interval: float = 2.0
    max_backoff: float = 30.0


@dataclass(frozen=True)
class Farm:
    name: str
    domain: str
    profile: str
    nodes: tuple[Node, ...]
    endpoints: Endpoints
    sites: SitesSettings
    refresh: RefreshSettings
    thresholds: Mapping[str, Threshold] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    source: Path | None = None
    read_only: bool = False  # every action is refused: for watching a farm you must not touch
    backup: BackupSettings | None = None

    @property
    def is_loopback_lab(self) -> bool:
        """The one-host lab of `wpfarm lab up` (local processes); the swarm lab is profile
        lab too, but its sites run on the Swarm (sites.runtime: swarm)."""
        return self.profile == "lab" and self.sites.runtime in (None, "lab")

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)


# ---------------------------------------------------------------- errors
@dataclass(frozen=True)
class Problem:
    line: int | None
    field: str
    message: str
    fix: str

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        return f"{where}: {self.field or '(top level)'}: {self.message}. Fix: {self.fix}"


class InventoryError(Exception):
    def __init__(self, file: str, problems: list[Problem]):
        self.file = file
        # In file order, so the operator fixes top to bottom.
        self.problems = sorted(problems, key=lambda p: p.line or 0)
        lines = [p.render(file) for p in self.problems[:MAX_SHOWN_PROBLEMS]]
        if len(problems) > MAX_SHOWN_PROBLEMS:
            lines.append(f"... and {len(problems) - MAX_SHOWN_PROBLEMS} more")
        head = f"{file}: {len(problems)} problem(s) in the farm definition"
        super().__init__(head + "\n  " + "\n  ".join(lines))


# ---------------------------------------------------------------- the reader
class _Reader:
    """Walks the parsed YAML, collecting problems instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, line: int | None, path: str, message: str, fix: str) -> None:
        self.problems.append(Problem(line, path, message, fix))

    def section(
        self, parent: _Loc, key: str, path: str, known: tuple[str, ...], required: bool = False
    ) -> _Loc | None:
        full = f"{path}.{key}" if path else key
        if key not in parent or parent[key] is None:
            if required:
                self.problem(parent.line, full, "is missing", f"add a `{key}:` section")
            return None
        value = parent[key]
        if not isinstance(value, dict):
            self.problem(parent.lines.get(key), full, "must be a mapping", f"write `{key}:` "
                         "followed by indented `name: value` lines")
            return None
        self.unknown_keys(value, full, known)
        return value

    def unknown_keys(self, mapping: _Loc, path: str, known: tuple[str, ...]) -> None:
        for key in mapping:
            if key not in known:
                # difflib on a megabyte key would be slow, and no near miss is that long
                close = difflib.get_close_matches(key, known, n=1) if len(key) < 100 else []
                hint = f"did you mean `{close[0]}`?" if close else f"allowed: {', '.join(known)}"
                name = cut(key, 60)
                self.problem(mapping.lines.get(key), f"{path}.{name}" if path else name,
                             "unknown key", f"remove it or correct it ({hint})")

    def value(
        self,
        mapping: _Loc,
        key: str,
        path: str,
        check: Callable[[Any], Any],
        expected: str,
        default: Any = None,
        required: bool = False,
    ) -> Any:
        full = f"{path}.{key}" if path else key
        if key not in mapping or mapping[key] is None:
            if required:
                self.problem(mapping.line, full, "is missing", f"add `{key}: <{expected}>`")
            return default
        raw = mapping[key]
        try:
            return check(raw)
        except (ValueError, TypeError) as exc:
            detail = f" ({exc})" if str(exc) else ""
            self.problem(mapping.lines.get(key), full,
                         f"must be {expected}, got {shown(raw)}{detail}",
                         f"set `{key}:` to {expected}")
            return default

    def items(self, mapping: _Loc, key: str, path: str, required: bool = False) -> list[_Loc]:
        full = f"{path}.{key}" if path else key
        raw = mapping.get(key)
        if raw is None:
            if required:
                self.problem(mapping.line, full, "is missing", f"add a `{key}:` list")
            return []
        if not isinstance(raw, list):
            self.problem(mapping.lines.get(key), full, "must be a list",
                         f"write each entry of `{key}:` on its own `- ` line")
            return []
        out = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                self.problem(raw.lines[i], f"{full}[{i}]", "must be a mapping",
                             "write the entry as `{name: ..., host: ..., port: ...}`")
                continue
            out.append(item)
        if required and not raw:
            self.problem(raw.line, full, "is empty", "list at least one entry")
        return out


# ---------------------------------------------------------------- checks
def _str(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError("")
    return v.strip()


def _name(v: Any) -> str:
    s = _str(v)
    if not _NAME_RE.match(s):
        raise ValueError("lowercase letters, digits and '-' only, 1-63 characters")
    return s


def _host(v: Any) -> str:
    s = _str(v)
    try:
        ipaddress.ip_address(s)
        return s
    except ValueError:
        if not _HOST_RE.match(s):
            raise ValueError("not an IP address or host name") from None
        return s


def _domain(v: Any) -> str:
    s = _host(v).lower()
    if "." not in s:
        raise ValueError("a domain needs at least one dot")
    return s


def _host_port(v: Any) -> str:
    host, sep, port = _str(v).rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("not host:port")
    _host(host)
    _port(int(port))
    return f"{host}:{int(port)}"


def _service_name(v: Any) -> str:
    """A Docker service name (stack_service): shell-safe, never an option."""
    s = _str(v)
    if not _DOCKER_SECRET_RE.match(s):
        raise ValueError("letters, digits, '_', '.' and '-' only")
    return s


def _port(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
        raise ValueError("")
    return v


def _finite(v: Any) -> float:
    """A number: int or float, but not a bool (YAML's `yes`) and not .nan or .inf."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError("")
    if not math.isfinite(v):
        raise ValueError("not a finite number")
    return float(v)


def _positive(v: Any) -> float:
    """Seconds: a timeout or an interval."""
    if _finite(v) <= 0:
        raise ValueError("")
    if v > MAX_SECONDS:
        raise ValueError(f"at most {MAX_SECONDS:.0f}")
    return float(v)


def _abs_path(v: Any) -> str:
    if not _str(v).startswith("/"):
        raise ValueError("not absolute")
    return str(v)


def _key_path(v: Any) -> Path:
    try:
        return Path(_str(v)).expanduser()
    except RuntimeError:
        raise ValueError("no such home directory") from None


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError("")
    return v


def _access_log(v: Any) -> str:
    s = _str(v)
    return s if s.startswith("/") and "\0" not in s else _service_name(s)


def _http_url(v: Any) -> str:
    s = _str(v).rstrip("/")
    parsed = urlparse(s)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError("")
    return s


def _tenant(v: Any) -> str:
    """Mimir's tenant ids: printable, no spaces; "|" joins tenants in a federated query."""
    s = _str(v)
    if not re.fullmatch(r"[A-Za-z0-9!\-_.*'()|]{1,150}", s):
        raise ValueError("")
    return s


def _docker_host(v: Any) -> str:
    s = _str(v)
    if not re.match(r"^(unix|tcp|ssh|npipe)://.+", s):
        raise ValueError("")
    return s


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        s = _str(v)
        if s not in options:
            raise ValueError("")
        return s

    return check


# ---------------------------------------------------------------- sections
class _FarmParser(_Reader):
    def secret(self, mapping: _Loc, key: str, path: str, required: bool = False) -> Secret | None:
        full = f"{path}.{key}"
        raw = mapping.get(key)
        if raw is None:
            if required:
                self.problem(mapping.line, full, "is missing",
                             f"add `{key}: {{env: VARIABLE}}` (or file: / docker_secret:)")
            return None
        line = mapping.lines.get(key)
        if isinstance(raw, str):
            # Never echo the literal back: it is probably the secret itself.
            self.problem(line, full, "is a literal value; secrets must be references",
                         f"write `{key}: {{env: VARIABLE}}`, `{{file: /path}}` or "
                         "`{docker_secret: name}` and keep the value there")
            return None
        if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in SECRET_KINDS:
            self.problem(line, full, "must be one reference", "write `{env: VARIABLE}`, "
                         "`{file: /path}` or `{docker_secret: name}`")
            return None
        kind, ref = next(iter(raw.items()))
        if not isinstance(ref, str) or not ref.strip():
            self.problem(line, full, f"the {kind} reference is empty", f"name the {kind}")
            return None
        ref = ref.strip()
        if kind == "env" and not _ENV_NAME_RE.match(ref):
            self.problem(line, full, f"{shown(ref)} is not an environment variable name",
                         "use letters, digits and _, e.g. `{env: WPFARM_DB_PASSWORD}`")
            return None
        if kind == "docker_secret" and not _DOCKER_SECRET_RE.match(ref):
            self.problem(line, full, f"{shown(ref)} is not a Docker secret name",
                         "name the secret (read from /run/secrets/NAME), not a path")
            return None
        if kind == "file":
            try:
                Path(ref).expanduser()
            except RuntimeError:
                self.problem(line, full, f"{shown(ref)}: no such home directory",
                             "write the full path")
                return None
            if len(ref) > 4096:
                self.problem(line, full, "the path is longer than 4096 characters",
                             "write the real path of the secret file")
                return None
        return Secret(kind, ref)

    def host_ports(
        self, mapping: _Loc, key: str, path: str, required: bool
    ) -> tuple[HostPort, ...]:
        out: list[HostPort] = []
        seen: set[str] = set()
        for i, item in enumerate(self.items(mapping, key, path, required=required)):
            p = f"{path}.{key}[{i}]"
            self.unknown_keys(item, p, ("name", "host", "port", "announce"))
            name = self.value(item, "name", p, _name, "a short name like db1", required=True)
            host = self.value(item, "host", p, _host, "an IP address or host name", required=True)
            port = self.value(item, "port", p, _port, "a port number 1-65535", required=True)
            announce = self.value(item, "announce", p, _host_port,
                                  "host:port, as the farm's own clients name it")
            if name in seen:
                self.problem(item.lines.get("name"), f"{p}.name", f"duplicate name {name!r}",
                             "give every entry its own name")
            seen.add(name)
            if name and host and port:
                out.append(HostPort(name, host, port, announce))
        return tuple(out)

    def nodes(self, doc: _Loc) -> tuple[Node, ...]:
        out: list[Node] = []
        names: set[str] = set()
        for i, item in enumerate(self.items(doc, "nodes", "", required=True)):
            p = f"nodes[{i}]"
            self.unknown_keys(item, p, ("name", "address", "ssh", "roles"))
            name = self.value(item, "name", p, _name, "a node name like mgr1", required=True)
            address = self.value(item, "address", p, _host, "an IP address or host name",
                                 required=True)
            ssh = SshSettings()
            ssh_map = self.section(item, "ssh", p, ("user", "port", "key", "known_hosts"))
            if ssh_map is not None:
                key = self.value(ssh_map, "key", f"{p}.ssh", _key_path, "a path to a private key")
                known_hosts = self.value(ssh_map, "known_hosts", f"{p}.ssh", _key_path,
                                         "a path to a known_hosts file")
                ssh = SshSettings(
                    user=self.value(ssh_map, "user", f"{p}.ssh", _str, "a user name", "root"),
                    port=self.value(ssh_map, "port", f"{p}.ssh", _port, "a port number", 22),
                    key=key, known_hosts=known_hosts,
                )
            roles_raw = item.get("roles")
            roles: set[str] = set()
            if not isinstance(roles_raw, list) or not roles_raw:
                self.problem(item.lines.get("roles", item.line), f"{p}.roles",
                             "must be a non-empty list", f"e.g. `roles: [manager]`; one or more "
                             f"of {', '.join(ROLES)}")
            else:
                for j, role in enumerate(roles_raw):
                    if role not in ROLES:
                        self.problem(roles_raw.lines[j], f"{p}.roles",
                                     f"unknown role {shown(role)}", f"use {', '.join(ROLES)}")
                    else:
                        roles.add(role)
            if name in names:
                self.problem(item.lines.get("name"), f"{p}.name", f"duplicate node {name!r}",
                             "node names must be unique")
            names.add(name)
            if name and address and roles:
                out.append(Node(name, address, ssh, frozenset(roles)))
        return tuple(out)

    def endpoints(self, doc: _Loc, node_names: set[str]) -> Endpoints:
        known = ("docker", "galera", "proxysql", "redis", "varnish", "traefik", "crowdsec",
                 "metrics", "gluster")
        ep = self.section(doc, "endpoints", "", known, required=True)
        if ep is None:
            return Endpoints()
        P = "endpoints"
        docker = galera = proxysql = redis = varnish = traefik = crowdsec = None

        if (m := self.section(ep, "docker", P, ("host", "timeout"))) is not None:
            p = f"{P}.docker"
            host = self.value(m, "host", p, _docker_host, "unix://, tcp:// or ssh:// URL",
                              required=True)
            timeout = self.value(m, "timeout", p, _positive, "seconds > 0", 5.0)
            if host:
                docker = DockerEndpoint(host, timeout)

        if (m := self.section(ep, "galera", P, ("user", "password", "timeout", "nodes"))):
            p = f"{P}.galera"
            user = self.value(m, "user", p, _str, "a database user", required=True)
            password = self.secret(m, "password", p)
            timeout = self.value(m, "timeout", p, _positive, "seconds > 0", 2.0)
            nodes = self.host_ports(m, "nodes", p, required=True)
            if user and nodes:
                galera = GaleraEndpoint(user, password, nodes, timeout)

        if (m := self.section(ep, "proxysql", P, ("host", "port", "user", "password", "timeout"))):
            p = f"{P}.proxysql"
            host = self.value(m, "host", p, _host, "an IP address or host name", required=True)
            port = self.value(m, "port", p, _port, "a port number", 6032)
            user = self.value(m, "user", p, _str, "the admin user", required=True)
            password = self.secret(m, "password", p)
            timeout = self.value(m, "timeout", p, _positive, "seconds > 0", 2.0)
            if host and user:
                proxysql = ProxySQLEndpoint(host, port, user, password, timeout)

        known_redis = ("master_name", "password", "timeout", "instances", "sentinels")
        if (m := self.section(ep, "redis", P, known_redis)) is not None:
            p = f"{P}.redis"
            redis = RedisEndpoint(
                master_name=self.value(m, "master_name", p, _str, "the Sentinel master name",
                                       "mymaster"),
                password=self.secret(m, "password", p),
                instances=self.host_ports(m, "instances", p, required=True),
                sentinels=self.host_ports(m, "sentinels", p, required=False),
                timeout=self.value(m, "timeout", p, _positive, "seconds > 0", 2.0),
            )

        if (m := self.section(ep, "varnish", P, ("timeout", "instances"))) is not None:
            p = f"{P}.varnish"
            instances = []
            for i, item in enumerate(self.items(m, "instances", p, required=True)):
                ip = f"{p}.instances[{i}]"
                self.unknown_keys(item, ip, ("name", "workdir", "node", "container"))
                name = self.value(item, "name", ip, _name, "a short name", required=True)
                node = self.value(item, "node", ip, _name, "a node name")
                container = self.value(item, "container", ip, _service_name,
                                       "the Swarm service running varnishd, e.g. cache_varnish")
                # Inside the task, varnishd's default -n is varnishstat's default too.
                workdir = self.value(item, "workdir", ip, _str, "varnishd's -n directory",
                                     "" if container else None, required=not container)
                if container and not node:
                    self.problem(item.lines.get("container"), f"{ip}.container",
                                 "needs `node`: the task is found on that node over SSH",
                                 "add `node: <the cache node>`, or leave `container` out")
                if node and node not in node_names:
                    self.problem(item.lines.get("node"), f"{ip}.node", f"no node named {node!r}",
                                 "name a node from `nodes:`, or leave `node` out to run locally")
                if name and (workdir or container):
                    instances.append(VarnishInstance(name, workdir or "", node, container))
            varnish = VarnishEndpoint(tuple(instances),
                                      self.value(m, "timeout", p, _positive, "seconds > 0", 3.0))

        if (m := self.section(ep, "traefik", P,
                              ("api", "timeout", "metrics", "access_log"))) is not None:
            p = f"{P}.traefik"
            api = self.value(m, "api", p, _http_url, "an http(s):// URL", required=True)
            metrics = self.value(m, "metrics", p, _http_url, "an http(s):// URL")
            access_log = self.value(m, "access_log", p, _access_log,
                                    "an absolute file path or a Swarm service name "
                                    "(e.g. edge_traefik)")
            if api:
                traefik = TraefikEndpoint(api, self.value(m, "timeout", p, _positive,
                                                          "seconds > 0", 2.0), metrics,
                                          access_log)

        known_cs = ("lapi", "bouncer_key", "timeout", "machine_credentials", "node",
                    "container")
        if (m := self.section(ep, "crowdsec", P, known_cs)):
            p = f"{P}.crowdsec"
            lapi = self.value(m, "lapi", p, _http_url, "an http(s):// URL", required=True)
            key = self.secret(m, "bouncer_key", p, required=True)
            timeout = self.value(m, "timeout", p, _positive, "seconds > 0", 2.0)
            machine = self.secret(m, "machine_credentials", p)
            cs_node = self.value(m, "node", p, _name, "a node name")
            container = self.value(m, "container", p, _service_name,
                                   "the Swarm service of the LAPI, e.g. security_crowdsec")
            if cs_node and cs_node not in node_names:
                self.problem(m.lines.get("node"), f"{p}.node", f"no node named {cs_node!r}",
                             "name a node from `nodes:`")
            if bool(cs_node) != bool(container):
                self.problem(m.lines.get("container") or m.lines.get("node"),
                             f"{p}.{'node' if container else 'container'}",
                             "`node` and `container` go together (cscli runs in that "
                             "service's task on that node)", "give both, or neither")
            if lapi and key:
                crowdsec = CrowdSecEndpoint(lapi, key, timeout, machine, cs_node, container)

        return Endpoints(docker, galera, proxysql, redis, varnish, traefik, crowdsec,
                         self.metrics(ep), self.gluster(ep, node_names))

    def gluster(self, ep: _Loc, node_names: set[str]) -> GlusterEndpoint | None:
        known = ("volume", "node", "mount", "mount_nodes", "options", "timeout")
        if (m := self.section(ep, "gluster", "endpoints", known)) is None:
            return None
        p = "endpoints.gluster"
        volume = self.value(m, "volume", p, _name, "the volume's name, e.g. wpfarm",
                            required=True)
        node = self.value(m, "node", p, _name, "a storage node's name")
        if node and node not in node_names:
            self.problem(m.lines.get("node"), f"{p}.node", f"no node named {node!r}",
                         "name a node from `nodes:`, or leave `node` out to run locally")
        mount = self.value(m, "mount", p, _abs_path, "an absolute path", "/mnt/gluster")
        mount_nodes = []
        raw = m.get("mount_nodes") or []
        if not isinstance(raw, list):
            self.problem(m.lines.get("mount_nodes"), f"{p}.mount_nodes", "must be a list",
                         "list the app nodes' names, one `- name` a line")
            raw = []
        for item in raw:
            if item not in node_names:
                self.problem(m.lines.get("mount_nodes"), f"{p}.mount_nodes",
                             f"no node named {shown(item)}", "name nodes from `nodes:`")
            else:
                mount_nodes.append(item)
        options = dict(GLUSTER_OPTIONS)
        raw_opts = m.get("options")
        if raw_opts is not None:
            if not isinstance(raw_opts, dict):
                self.problem(m.lines.get("options"), f"{p}.options", "must be a mapping",
                             "write `option.name: value` lines under `options:`")
            else:
                options = {str(k): str(v).lower() if isinstance(v, bool) else str(v)
                           for k, v in raw_opts.items()}
        timeout = self.value(m, "timeout", p, _positive, "seconds > 0", 5.0)
        if not volume:
            return None
        return GlusterEndpoint(volume, node, mount, tuple(mount_nodes), options, timeout)

    def metrics(self, ep: _Loc) -> MetricsEndpoint | None:
        known = ("url", "tenant", "user", "password", "token", "timeout")
        if (m := self.section(ep, "metrics", "endpoints", known)) is None:
            return None
        p = "endpoints.metrics"
        url = self.value(m, "url", p, _http_url,
                         "the query API's root, e.g. http://prometheus:9090 or "
                         "http://mimir:8080/prometheus", required=True)
        tenant = self.value(m, "tenant", p, _tenant, "Mimir's tenant id (X-Scope-OrgID)")
        user = self.value(m, "user", p, _str, "the basic-auth user")
        password = self.secret(m, "password", p)
        token = self.secret(m, "token", p)
        if token is not None and (user or password is not None):
            self.problem(m.lines.get("token"), f"{p}.token",
                         "goes alone: a bearer token or a user and password, not both",
                         "keep `token`, or keep `user` and `password`")
        elif bool(user) != (password is not None):
            self.problem(m.lines.get("user") or m.lines.get("password"),
                         f"{p}.{'password' if user else 'user'}",
                         "basic auth needs both `user` and `password`",
                         "give both, or neither (or a bearer `token` instead)")
        timeout = self.value(m, "timeout", p, _positive, "seconds > 0", 2.0)
        return MetricsEndpoint(url, tenant, user, password, token, timeout) if url else None

    def sites(self, doc: _Loc) -> SitesSettings:
        known = ("edge_url", "registry", "static", "timeout", "verify_tls", "maintenance_dir",
                 "runtime")
        m = self.section(doc, "sites", "", known)
        if m is None:
            return SitesSettings()
        static: list[str] = []
        raw = m.get("static") or []
        if not isinstance(raw, list):
            self.problem(m.lines.get("static"), "sites.static", "must be a list of domains",
                         "write `static: [a.example.com, b.example.com]`")
        else:
            for i, d in enumerate(raw):
                try:
                    static.append(_domain(d))
                except ValueError:
                    self.problem(raw.lines[i], f"sites.static[{i}]",
                                 f"{shown(d)} is not a domain name",
                                 "write a name like www.example.com")
        return SitesSettings(
            edge_url=self.value(m, "edge_url", "sites", _http_url, "an http(s):// URL"),
            registry=self.value(m, "registry", "sites", _choice(("galera", "none")),
                                "galera or none", "galera"),
            static=tuple(static),
            timeout=self.value(m, "timeout", "sites", _positive, "seconds > 0", 5.0),
            verify_tls=self.value(m, "verify_tls", "sites", _bool, "true or false", True),
            maintenance_dir=self.value(m, "maintenance_dir", "sites", _str, "a directory"),
            runtime=self.value(m, "runtime", "sites", _choice(("swarm", "lab")),
                               "swarm or lab"),
        )

    def backup(self, doc: _Loc, node_names: set[str]) -> BackupSettings | None:
        known = ("repository", "password", "aws_access_key_id", "aws_secret_access_key",
                 "sites_root", "node", "retention")
        m = self.section(doc, "backup", "", known)
        if m is None:
            return None
        repository = self.value(m, "repository", "backup", _str,
                                "a restic repository (s3:https://host/bucket or /path)",
                                required=True)
        password = self.secret(m, "password", "backup", required=True)
        node = self.value(m, "node", "backup", _name, "a node name")
        if node and node not in node_names:
            self.problem(m.lines.get("node"), "backup.node", f"no node named {node!r}",
                         "name a node from `nodes:`, or leave `node` out to run locally")
        retention = Retention()
        if (r := self.section(m, "retention", "backup", ("daily", "weekly", "monthly"))):
            def count(v: Any) -> int:
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise ValueError("")
                return v
            retention = Retention(
                *(self.value(r, k, "backup.retention", count, "a whole number >= 1", d)
                  for k, d in (("daily", 7), ("weekly", 4), ("monthly", 12))))
        if repository and password:
            return BackupSettings(
                repository=repository, password=password,
                aws_access_key_id=self.secret(m, "aws_access_key_id", "backup"),
                aws_secret_access_key=self.secret(m, "aws_secret_access_key", "backup"),
                sites_root=self.value(m, "sites_root", "backup", _str, "a directory",
                                      "/var/opt/wordpress-farm/sites"),
                node=node, retention=retention)
        return None

    def refresh(self, doc: _Loc) -> RefreshSettings:
        m = self.section(doc, "refresh", "", ("interval", "max_backoff"))
        if m is None:
            return RefreshSettings()
        interval = self.value(m, "interval", "refresh", _positive, "seconds > 0", 2.0)
        if interval < 0.2:
            self.problem(m.lines.get("interval"), "refresh.interval", "is below 0.2 s",
                         "poll no faster than every 0.2 s; the farm's servers pay for each poll")
        max_backoff = self.value(m, "max_backoff", "refresh", _positive, "seconds > 0", 30.0)
        return RefreshSettings(interval, max(max_backoff, interval))

    def thresholds(self, doc: _Loc) -> dict[str, Threshold]:
        out = dict(DEFAULT_THRESHOLDS)
        m = self.section(doc, "thresholds", "", tuple(DEFAULT_THRESHOLDS))
        if m is None:
            return out
        for name, raw in m.items():
            if name not in DEFAULT_THRESHOLDS:
                continue  # already reported as unknown
            p = f"thresholds.{name}"
            base = DEFAULT_THRESHOLDS[name]
            if not isinstance(raw, dict):
                self.problem(m.lines.get(name), p, "must be a mapping",
                             f"write `{name}: {{warning: N, critical: N}}`")
                continue
            self.unknown_keys(raw, p, ("warning", "critical"))
            warning = self.value(raw, "warning", p, _finite, "a number", base.warning)
            critical = self.value(raw, "critical", p, _finite, "a number", base.critical)
            in_order = warning <= critical if base.higher_is_worse else warning >= critical
            if not in_order:
                word = "above" if base.higher_is_worse else "below"
                self.problem(m.lines.get(name), p, f"critical ({critical}) is not {word} "
                             f"warning ({warning})", f"make critical {word} or equal to warning")
                continue
            out[name] = Threshold(warning, critical, base.higher_is_worse, base.unit)
        return out

    def farm(self, doc: Any, source: Path | None) -> Farm | None:
        if not isinstance(doc, dict):
            self.problem(1, "", "the file is not a YAML mapping",
                         "start from wpfarm_tui/data/farm.example.yaml")
            return None
        known = ("farm", "nodes", "endpoints", "sites", "refresh", "thresholds", "backup")
        self.unknown_keys(doc, "", known)
        head = self.section(doc, "farm", "", ("name", "domain", "profile", "read_only"),
                            required=True)
        name = domain = None
        profile = "production"
        read_only = False
        if head is not None:
            name = self.value(head, "name", "farm", _name, "a short farm name", required=True)
            domain = self.value(head, "domain", "farm", _domain, "a domain like example.com",
                                required=True)
            profile = self.value(head, "profile", "farm", _choice(PROFILES),
                                 " or ".join(PROFILES), "production")
            read_only = self.value(head, "read_only", "farm", _bool, "true or false", False)
        nodes = self.nodes(doc)
        endpoints = self.endpoints(doc, {n.name for n in nodes})
        sites = self.sites(doc)
        refresh = self.refresh(doc)
        thresholds = self.thresholds(doc)
        backup = self.backup(doc, {n.name for n in nodes})
        if self.problems:
            return None
        assert name and domain
        return Farm(name, domain, profile, nodes, endpoints, sites, refresh, thresholds, source,
                    read_only, backup)


# ---------------------------------------------------------------- entry points
def _refused(source: str, problems: list[safe_yaml.YamlProblem]) -> InventoryError:
    return InventoryError(source, [Problem(p.line, p.field, p.message, p.fix) for p in problems])


def parse_farm(text: str, source: str = "farm.yaml") -> Farm:
    try:
        root = safe_yaml.load(text)
    except safe_yaml.YamlRefused as exc:
        raise _refused(source, exc.problems) from None
    if root is None:
        raise InventoryError(source, [Problem(1, "", "the file is empty",
                                              "start from wpfarm_tui/data/farm.example.yaml")])
    parser = _FarmParser()
    farm = parser.farm(root, Path(source))
    if farm is None:
        raise InventoryError(source, parser.problems)
    return farm


def load_farm(path: Path) -> Farm:
    """Read and check `path`; every failure is an InventoryError (never a hang: a FIFO or
    device is refused before reading, and more than 1 MiB is not read)."""
    try:
        text = safe_yaml.decode(read_regular_file(path, safe_yaml.MAX_BYTES))
    except OSError as exc:
        if exc.errno == errno.EFBIG:
            raise _refused(str(path), [safe_yaml.too_large()]) from None
        fix = ("name the farm.yaml file itself" if exc.errno == errno.EINVAL
               else "check the path and its permissions")
        raise InventoryError(str(path), [Problem(None, "", f"cannot read: {exc.strerror}",
                                                 fix)]) from None
    except ValueError:  # a NUL in the path
        raise InventoryError(str(path), [Problem(None, "", "cannot read: not a usable path",
                                                 "check the path")]) from None
    except safe_yaml.YamlRefused as exc:
        raise _refused(str(path), exc.problems) from None
    return parse_farm(text, str(path))


def find_farm_file(explicit: str | None = None) -> Path:
    """--farm PATH, then $WPFARM_FARM, then the XDG config dir."""
    if explicit:
        return Path(explicit).expanduser()
    if env := os.environ.get("WPFARM_FARM"):
        return Path(env).expanduser()
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    candidate = config_home / "wpfarm" / "farm.yaml"
    if candidate.exists():
        return candidate
    raise InventoryError(str(candidate), [Problem(
        None, "", "no farm.yaml found",
        "pass --farm PATH, set WPFARM_FARM, create "
        f"{candidate} from wpfarm_tui/data/farm.example.yaml, or run `wpfarm lab up`")])
