"""What collectors return: plain, frozen, complete snapshots.

A source that fails is a value here (`SourceHealth.state` down / timeout /
error with its message), never an exception: the panes, the CLI and the
tests all read the same objects.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wpfarm_tui.status.rates import Rate
from wpfarm_tui.status.texts import credentials_message, hit_text, pct, shown
from wpfarm_tui.status.thresholds import Level, worst
from wpfarm_tui.status.traffic_model import SiteTraffic

# A plain-text row of a pane (`wpfarm status`): its level and its headline columns.
TextRow = tuple[Level, dict[str, Any]]


@dataclass(frozen=True)
class Alert:
    """One row past its threshold, or one source down (status/alerts.py gathers them)."""

    key: str  # stable identity, e.g. "galera/galera-3"
    pane: str
    subject: str  # "galera-3", "site1.test", "crowdsec"
    level: Level
    message: str
    at: float  # when the source was checked (epoch seconds)
    procedure: str | None = None  # a catalog name (actions/catalog.py)
    values: Mapping[str, str] = field(default_factory=dict)  # its inputs


class _Alerts:
    """Collects one pane's alerts: only rows at warning or worse."""

    def __init__(self, pane: str, at: float) -> None:
        self.pane, self.at, self.rows = pane, at, []

    def add(self, subject: str, level: Level, message: str, procedure: str | None = None,
            **values: str) -> None:
        if level >= Level.WARNING:
            self.rows.append(Alert(f"{self.pane}/{subject}", self.pane, subject, level,
                                   message, self.at, procedure, values))


def source_message(service: str, state: str, error: str | None) -> str:
    """A source's problem in words; refused credentials name the fix in farm.yaml (up, and
    no procedure fixes it)."""
    if state == "denied":
        return credentials_message(service, error)
    return f"{state}: {error or ''}".strip(": ")


def _rate(r: Rate | None) -> float | None:
    return r.value if r is not None else None


@dataclass(frozen=True)
class SourceHealth:
    """How one source (a server or an API) answered the last poll."""

    name: str  # "galera-1", "traefik", "docker", ...
    # denied: the server answered and refused our credentials (up, but unseen)
    # slow: still running after the pane's patience (its own timeout will tell)
    state: str  # ok | slow | down | timeout | denied | error | disabled
    error: str | None = None  # "connection refused", "timeout after 2.0 s", ...
    checked_at: float = field(default_factory=time.time)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    @property
    def level(self) -> Level:
        if self.state == "ok":
            return Level.OK
        if self.state == "disabled":
            return Level.UNKNOWN
        if self.state == "slow":
            return Level.WARNING
        return Level.CRITICAL


# ---------------------------------------------------------------- nodes & services
# A node's figures from the metrics source, each with the threshold that colours it.
METRIC_THRESHOLDS = (("cpu_pct", "cpu"), ("memory_pct", "memory"), ("disk_pct", "disk"),
                     ("days_until_full", "disk_days_until_full"))
_METRIC_WORDS = {"cpu": "CPU {:.0f} % over the last minute", "memory": "memory {:.0f} % used",
                 "disk": "disk {:.0f} % used", "disk_days_until_full": "disk full in {:.1f} days"}


@dataclass(frozen=True)
class NodeMetrics:
    """One node's figures from the metrics source (node-exporter, read through Prometheus
    or Mimir); None where the source has no series for it."""

    instance: str  # the exporter's `instance` label (its scrape address)
    nodename: str | None = None  # uname -n, from node_uname_info
    cpu_pct: float | None = None  # busy, over the last minute, all cores
    memory_pct: float | None = None  # 100 - MemAvailable / MemTotal
    load_per_core: float | None = None  # the 1-minute load average / cores
    disk_pct: float | None = None  # its fullest filesystem's
    disk_mount: str | None = None
    days_until_full: float | None = None  # its soonest-full filesystem's; None: none filling
    days_mount: str | None = None
    net_in_bps: float | None = None  # bytes/s over the last minute, its links summed
    net_out_bps: float | None = None
    # threshold name (status/thresholds.py) -> level, set by the collector
    levels: Mapping[str, Level] = field(default_factory=dict)

    @property
    def level(self) -> Level:
        return worst(list(self.levels.values()))

    @property
    def name(self) -> str:
        return self.nodename or self.instance

    def past_thresholds(self) -> list[tuple[str, Level, str]]:
        """(threshold, level, words) of each figure at warning or worse."""
        out = []
        for attr, threshold in METRIC_THRESHOLDS:
            level = self.levels.get(threshold, Level.OK)
            value = getattr(self, attr)
            if level >= Level.WARNING and value is not None:
                words = _METRIC_WORDS[threshold].format(value)
                mount = self.days_mount if attr == "days_until_full" else self.disk_mount
                if attr in ("disk_pct", "days_until_full") and mount:
                    words = words.replace("disk", f"disk {mount}", 1)
                out.append((threshold, level, words))
        return out


@dataclass(frozen=True)
class RuleAlert:
    """A rule firing in the metrics source (Prometheus's or Mimir's ruler)."""

    name: str  # alertname
    level: Level  # from its severity label
    summary: str
    subject: str  # "<node> <threshold>" when it is about a node's threshold, like ours
    threshold: str | None = None  # its `threshold` label (stacks/rules.py)


@dataclass(frozen=True)
class NodeRow:
    id: str
    hostname: str
    role: str  # manager | worker
    state: str  # ready | down | unknown | disconnected
    availability: str  # active | pause | drain
    address: str
    leader: bool
    engine_version: str
    labels: tuple[tuple[str, str], ...] = ()
    metrics: NodeMetrics | None = None  # its series in the metrics source, when matched

    @property
    def swarm_level(self) -> Level:
        if self.state != "ready":
            return Level.CRITICAL
        return Level.WARNING if self.availability != "active" else Level.OK

    @property
    def level(self) -> Level:
        return worst([self.swarm_level, self.metrics.level if self.metrics else Level.OK])


@dataclass(frozen=True)
class ServiceRow:
    id: str
    name: str
    mode: str  # replicated | global
    desired: int
    running: int
    image: str
    updated_at: str  # ISO time of the last update, as Docker reports it

    @property
    def level(self) -> Level:
        if self.desired > 0 and self.running == 0:
            return Level.CRITICAL
        return Level.WARNING if self.running < self.desired else Level.OK


METRICS_SOURCE = "metrics"  # the SourceHealth name of the metrics source


@dataclass(frozen=True)
class NodesSnapshot:
    sources: tuple[SourceHealth, ...]
    nodes: tuple[NodeRow, ...] = ()
    services: tuple[ServiceRow, ...] = ()
    # Series of nodes the Swarm does not list (or all of them while Docker is down).
    unmatched: tuple[NodeMetrics, ...] = ()
    rule_alerts: tuple[RuleAlert, ...] = ()  # firing in the metrics source

    @property
    def level(self) -> Level:
        rows = ([n.level for n in self.nodes] + [s.level for s in self.services]
                + [m.level for m in self.unmatched])
        return worst([s.level for s in self.sources] + rows)

    @property
    def metrics_health(self) -> SourceHealth | None:
        return next((s for s in self.sources if s.name == METRICS_SOURCE), None)

    def metrics_note(self, metrics: NodeMetrics | None) -> str | None:
        """Why a node's metric columns are empty, or None when they are not."""
        health = self.metrics_health
        if health is None or health.state == "disabled":
            return "no metrics source"
        if metrics is not None:
            return None
        return "no series" if health.ok else f"metrics {health.state}"

    def rows(self) -> list[TextRow]:
        def figures(m: NodeMetrics | None) -> dict[str, Any]:
            note = self.metrics_note(m)
            return {"cpu%": m.cpu_pct if m else note, "mem%": m.memory_pct if m else None,
                    "load/core": m.load_per_core if m else None,
                    "disk%": m.disk_pct if m else None,
                    "full in days": m.days_until_full if m else None,
                    "net in B/s": m.net_in_bps if m else None,
                    "net out B/s": m.net_out_bps if m else None}

        return ([(n.level, {"node": n.hostname, "role": n.role, "state": n.state,
                            "availability": n.availability, "leader": n.leader,
                            **figures(n.metrics)})
                 for n in self.nodes]
                + [(m.level, {"node": m.name, "role": "", "state": "not in the Swarm",
                              "availability": "", "leader": "", **figures(m)})
                   for m in self.unmatched]
                + [(s.level, {"node": f"service {s.name}", "role": s.mode,
                              "state": f"{s.running}/{s.desired}", "availability": s.image,
                              "leader": ""}) for s in self.services])

    def alerts(self, at: float) -> list[Alert]:
        out = _Alerts("nodes", at)
        for n in self.nodes:
            out.add(n.hostname, n.swarm_level, f"{n.state}, {n.availability}")
        for name, m in [(n.hostname, n.metrics) for n in self.nodes if n.metrics] + [
                (m.name, m) for m in self.unmatched]:
            for threshold, level, words in m.past_thresholds():
                out.add(f"{name} {threshold}", level, words)
        for s in self.services:
            out.add(f"service {s.name}", s.level, f"{s.running}/{s.desired} running")
        for r in self.rule_alerts:
            out.add(r.subject, r.level, f"{r.summary} (rule {r.name} firing in "
                    f"{METRICS_SOURCE})")
        return out.rows


# ---------------------------------------------------------------- Galera
@dataclass(frozen=True)
class GaleraNode:
    name: str
    address: str
    reachable: bool
    error: str | None
    cluster_status: str | None = None  # Primary / non-Primary / Disconnected
    local_state: str | None = None  # Synced / Donor/Desynced / Joining ...
    cluster_size: int | None = None
    cluster_state_uuid: str | None = None
    ready: bool | None = None  # wsrep_ready
    flow_control_paused: float | None = None  # fraction of time paused, 0..1
    recv_queue_avg: float | None = None
    last_committed: int | None = None
    connections_pct: float | None = None  # Threads_connected / max_connections
    level: Level = Level.UNKNOWN
    # What is happening now (status/rates.py): None until a second poll.
    commits_per_s: Rate | None = None  # wsrep_last_committed, last interval
    flow_control_1m: Rate | None = None  # percent of the last minute paused (the threshold's)
    cert_failures_per_s: Rate | None = None
    bf_aborts_per_s: Rate | None = None
    send_queue: int | None = None  # now, not averaged since start
    recv_queue: int | None = None
    # How the node answered (SourceHealth.state): "denied" is up but unreadable with our
    # credentials, never "down"; only "down" can mean a crashed node.
    health: str = "ok"

    @property
    def denied(self) -> bool:
        return self.health == "denied"


@dataclass(frozen=True)
class GaleraSnapshot:
    sources: tuple[SourceHealth, ...]
    nodes: tuple[GaleraNode, ...] = ()
    expected_size: int = 0
    cluster_size: int | None = None  # as the reachable Primary nodes report it
    # Primary when any reachable node is in the Primary component; non-Primary when the
    # nodes that answer are not; unknown when none is Primary and a node refused our
    # credentials (it may be); down when no node answers at all.
    cluster_status: str | None = None
    level: Level = Level.UNKNOWN

    @property
    def denied(self) -> tuple[str, ...]:
        """The nodes that refused our credentials."""
        return tuple(n.name for n in self.nodes if n.denied)

    def rows(self) -> list[TextRow]:
        return [(n.level, {"node": n.name, "status": n.cluster_status, "state": n.local_state,
                           "size": n.cluster_size, "committed": n.last_committed,
                           "error": n.error}) for n in self.nodes]

    def alerts(self, at: float) -> list[Alert]:
        out = _Alerts("galera", at)
        for n in self.nodes:
            if n.denied:  # up, unreadable: no procedure, the password reference is wrong
                out.add(n.name, Level.CRITICAL, source_message("galera", n.health, n.error))
            elif n.health == "slow":  # answering late: no procedure until it is down
                out.add(n.name, n.level, n.error or "slow to answer")
            elif not n.reachable:
                out.add(n.name, Level.CRITICAL, n.error or "down", "galera-rejoin",
                        node=n.name)
            elif n.local_state == "Donor/Desynced":
                out.add(n.name, n.level, "Donor/Desynced", "galera-resync", node=n.name)
            else:
                fc = n.flow_control_1m
                paused = (f", flow control paused {fc.value:.1f} % of the last minute"
                          if fc is not None and fc.value else "")
                out.add(n.name, n.level, f"{shown(n.cluster_status, 'cluster status unknown')} "
                        f"{shown(n.local_state, '')}".rstrip() + paused)
        # Every node down (nothing listens, or its process is gone): the fix is a full
        # recovery, not a rejoin. Not when a node refused our credentials or timed out:
        # the cluster may be healthy, and the recovery would refuse anyway.
        if self.nodes and all(not n.reachable and n.health == "down" for n in self.nodes):
            return [Alert(a.key, a.pane, a.subject, a.level, a.message, a.at, "galera-recover")
                    if a.procedure == "galera-rejoin" else a for a in out.rows]
        return out.rows


# ---------------------------------------------------------------- caches
@dataclass(frozen=True)
class VarnishStats:
    name: str
    reachable: bool
    error: str | None
    hits: int | None = None
    misses: int | None = None
    hit_ratio: float | None = None  # percent, since start
    objects: int | None = None
    uptime_s: int | None = None
    backend_failures: int | None = None
    level: Level = Level.UNKNOWN
    # What is happening now (status/rates.py): None until a second poll.
    requests_per_s: Rate | None = None  # client requests, last interval
    hit_ratio_1m: Rate | None = None  # percent over the last minute (the threshold's input)
    hit_ratio_5m: Rate | None = None
    pass_per_s: Rate | None = None
    backend_failures_per_s: Rate | None = None
    lru_evictions_per_s: Rate | None = None


@dataclass(frozen=True)
class RedisStats:
    name: str
    address: str
    reachable: bool
    error: str | None
    role: str | None = None  # master | slave
    hits: int | None = None
    misses: int | None = None
    hit_ratio: float | None = None  # percent
    used_memory: int | None = None  # bytes
    maxmemory: int | None = None  # bytes, 0 = unlimited
    memory_pct: float | None = None
    connected_clients: int | None = None
    master_link: str | None = None  # replicas: up / down
    level: Level = Level.UNKNOWN
    ops_per_s: Rate | None = None  # commands processed, last interval
    hit_ratio_1m: Rate | None = None  # percent over the last minute (the threshold's input)
    evicted_per_s: Rate | None = None
    health: str = "ok"  # how it answered (SourceHealth.state); "denied" is up, never down

    @property
    def denied(self) -> bool:
        return self.health == "denied"


@dataclass(frozen=True)
class SentinelView:
    name: str
    address: str
    reachable: bool
    error: str | None
    master_name: str | None = None
    master_address: str | None = None  # host:port this Sentinel believes is the master
    master_flags: str | None = None  # "master" or e.g. "s_down,master"
    replicas: int | None = None
    other_sentinels: int | None = None
    quorum: int | None = None
    level: Level = Level.UNKNOWN


@dataclass(frozen=True)
class CachesSnapshot:
    sources: tuple[SourceHealth, ...]
    varnish: tuple[VarnishStats, ...] = ()
    redis: tuple[RedisStats, ...] = ()
    sentinels: tuple[SentinelView, ...] = ()

    @property
    def level(self) -> Level:
        rows = [r.level for r in (*self.varnish, *self.redis, *self.sentinels)]
        return worst([s.level for s in self.sources] + rows)

    def rows(self) -> list[TextRow]:
        return ([(v.level, {"cache": f"varnish {v.name}", "role": "", "hit%": v.hit_ratio,
                            "memory%": None, "error": v.error}) for v in self.varnish]
                + [(r.level, {"cache": f"redis {r.name}", "role": r.role, "hit%": r.hit_ratio,
                              "memory%": r.memory_pct, "error": r.error}) for r in self.redis]
                + [(s.level, {"cache": f"sentinel {s.name}", "role": s.master_address,
                              "hit%": None, "memory%": None, "error": s.error or s.master_flags})
                   for s in self.sentinels])

    def alerts(self, at: float) -> list[Alert]:
        out = _Alerts("caches", at)
        # A down instance is the master only while the Sentinels still name it: after
        # their own failover it is a replica, and a failover would demote the new master.
        masters = {s.master_address for s in self.sentinels if s.master_address}
        for r in self.redis:
            if r.denied:  # up, unreadable: a failover would demote a master we cannot see
                out.add(r.name, r.level, source_message("redis", r.health, r.error))
                continue
            proc = "redis-failover" if not r.reachable and (r.address in masters or (
                not masters and r.role != "slave")) else None
            link = f", link {r.master_link}" if r.master_link else ""
            out.add(r.name, r.level, r.error or f"{shown(r.role, 'role unknown')}, "
                    f"{hit_text(_rate(r.hit_ratio_1m), r.hit_ratio)}, memory "
                    f"{pct(r.memory_pct)}{link}", proc)
        for s in self.sentinels:
            out.add(s.name, s.level, s.error or f"master {shown(s.master_address)} "
                    f"{shown(s.master_flags, '')}".rstrip(),
                    "redis-failover" if s.reachable else None)
        for v in self.varnish:
            # A low hit ratio is not fixed by a purge (it empties the cache further).
            out.add(v.name, v.level, v.error or hit_text(_rate(v.hit_ratio_1m), v.hit_ratio))
        return out.rows


# ---------------------------------------------------------------- CrowdSec
@dataclass(frozen=True)
class Ban:
    id: int
    value: str  # the IP or range
    scope: str  # Ip | Range | Country | AS
    type: str  # ban | captcha
    origin: str  # crowdsec | cscli | CAPI | lists
    reason: str  # the scenario
    expires_in: str  # CrowdSec's duration, shortened for reading: "3h59m", "4m59s"


@dataclass(frozen=True)
class BansSnapshot:
    sources: tuple[SourceHealth, ...]
    bans: tuple[Ban, ...] = ()
    new_per_minute: Rate | None = None  # decisions first seen, per minute over the last one

    @property
    def level(self) -> Level:
        return worst([s.level for s in self.sources])

    def rows(self) -> list[TextRow]:
        return [(Level.OK, {"id": b.id, "value": b.value, "type": b.type, "reason": b.reason,
                            "expires in": b.expires_in}) for b in self.bans]

    def alerts(self, at: float) -> list[Alert]:
        return []  # a ban is the farm defending itself, not a fault


# ---------------------------------------------------------------- Traefik
@dataclass(frozen=True)
class Router:
    name: str  # as Traefik names it, e.g. site1@file
    rule: str
    service: str
    entrypoints: tuple[str, ...]
    status: str  # enabled | disabled | warning
    provider: str
    error: str | None = None
    # From Traefik's metrics (status/rates.py): None without a metrics endpoint or history.
    requests_per_s: Rate | None = None  # last interval
    errors_4xx_per_s: Rate | None = None
    errors_5xx_per_s: Rate | None = None
    latency_ms_1m: float | None = None  # mean over the last minute
    p95_ms_1m: float | None = None  # from the latency buckets over the last minute

    @property
    def level(self) -> Level:
        if self.status == "disabled":
            return Level.CRITICAL
        return Level.WARNING if self.status == "warning" or self.error else Level.OK


@dataclass(frozen=True)
class EdgeSnapshot:
    sources: tuple[SourceHealth, ...]
    routers: tuple[Router, ...] = ()
    services_total: int | None = None
    services_errors: int | None = None
    version: str | None = None

    @property
    def level(self) -> Level:
        rows = [r.level for r in self.routers]
        if self.services_errors:
            rows.append(Level.WARNING)
        return worst([s.level for s in self.sources] + rows)

    def rows(self) -> list[TextRow]:
        return [(r.level, {"router": r.name, "rule": r.rule, "service": r.service,
                           "status": r.status, "error": r.error}) for r in self.routers]

    def alerts(self, at: float) -> list[Alert]:
        out = _Alerts("edge", at)
        for r in self.routers:
            out.add(r.name, r.level, r.error or r.status)
        return out.rows


# ---------------------------------------------------------------- sites
@dataclass(frozen=True)
class SiteRow:
    domain: str
    state: str  # from the registry: active | suspended | creating | deleting | unknown
    http_status: int | None
    ttfb_ms: float | None
    cache: str | None  # HIT | MISS | None when no cache header came back
    hit_ratio: float | None  # percent, over this console's recent probes
    error: str | None
    level: Level = Level.UNKNOWN
    db_size: int | None = None  # bytes of data + indexes (InnoDB's persistent statistics)
    # Visitors' requests from the edge's access log (status/traffic.py); None: no source.
    # http_status, ttfb_ms, cache and hit_ratio above are the console's own probe.
    traffic: SiteTraffic | None = None


@dataclass(frozen=True)
class SitesSnapshot:
    sources: tuple[SourceHealth, ...]
    sites: tuple[SiteRow, ...] = ()
    traffic_farm: SiteTraffic | None = None  # every site's visitors together

    @property
    def level(self) -> Level:
        return worst([s.level for s in self.sources] + [s.level for s in self.sites])

    def rows(self) -> list[TextRow]:
        # The visitors' columns when there is a traffic source (the console; a one-shot
        # `wpfarm status` has none: `wpfarm traffic` samples the stream).
        with_traffic = self.traffic_farm is not None
        out: list[TextRow] = []
        for s in self.sites:
            row: dict[str, Any] = {"site": s.domain, "state": s.state}
            if with_traffic:
                t = s.traffic.m1 if s.traffic else None
                row |= {"req/s": t.rps if t else None, "hit%": t.hit_pct if t else None,
                        "pass%": t.pass_pct if t else None, "5xx%": t.s5_pct if t else None,
                        "p95_ms": t.p95_ms if t else None}
            row |= {"probe_http": s.http_status, "probe_ms": s.ttfb_ms, "probe_cache": s.cache,
                    "error": s.error}
            out.append((s.level, row))
        return out

    def alerts(self, at: float) -> list[Alert]:
        out = _Alerts("sites", at)
        for s in self.sites:
            # No procedure here: a 503 is maintenance only when the flag is set, a 5xx
            # comes from somewhere on the request path (status/incidents.py decides).
            out.add(s.domain, s.level, _site_text(s))
        return out.rows


def _site_text(s: SiteRow) -> str:
    """A site's probe as a sentence: no `None` for what did not come back."""
    if s.error:
        return s.error
    parts = [f"HTTP {shown(s.http_status, 'no status')}"]
    if s.ttfb_ms is not None:
        parts.append(f"{s.ttfb_ms:.0f} ms")
    parts.append(f"cache {s.cache}" if s.cache else "no cache header")
    t = s.traffic.m1 if s.traffic else None
    if t is not None and t.level >= Level.WARNING:  # what visitors got, past a threshold
        parts.append(f"visitors: p95 {shown(t.p95_ms)} ms, 5xx {shown(t.s5_pct)} %, "
                     f"hit {shown(t.hit_pct)} %")
    return ", ".join(parts)


Snapshot = (
    NodesSnapshot | GaleraSnapshot | CachesSnapshot | BansSnapshot | EdgeSnapshot | SitesSnapshot
)
