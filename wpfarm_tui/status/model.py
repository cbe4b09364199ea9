"""What collectors return: plain, frozen, complete snapshots.

A source that fails is a value here (`SourceHealth.state` down / timeout /
error with its message), never an exception: the panes, the CLI and the
tests all read the same objects.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from wpfarm_tui.status.rates import Rate
from wpfarm_tui.status.thresholds import Level, worst


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

    @property
    def level(self) -> Level:
        if self.state != "ready":
            return Level.CRITICAL
        return Level.WARNING if self.availability != "active" else Level.OK


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


@dataclass(frozen=True)
class NodesSnapshot:
    sources: tuple[SourceHealth, ...]
    nodes: tuple[NodeRow, ...] = ()
    services: tuple[ServiceRow, ...] = ()

    @property
    def level(self) -> Level:
        rows = [n.level for n in self.nodes] + [s.level for s in self.services]
        return worst([s.level for s in self.sources] + rows)


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


@dataclass(frozen=True)
class SitesSnapshot:
    sources: tuple[SourceHealth, ...]
    sites: tuple[SiteRow, ...] = ()

    @property
    def level(self) -> Level:
        return worst([s.level for s in self.sources] + [s.level for s in self.sites])


Snapshot = (
    NodesSnapshot | GaleraSnapshot | CachesSnapshot | BansSnapshot | EdgeSnapshot | SitesSnapshot
)
