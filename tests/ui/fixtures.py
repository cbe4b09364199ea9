"""Fixed, lab-shaped snapshots for the UI tests.

Shaped like the loopback lab (3 Galera nodes with one down, 2 sites, 2 Redis
+ 3 Sentinels, 1 Varnish, 2 CrowdSec decisions, 2 Traefik routers, 1 Swarm
node + a service). Everything is fixed, including `checked_at` and the
console's clock, so snapshot SVGs are stable.

`FixedCollector` / `RaisingCollector` are plain Python stand-ins used ONLY by
these UI tests to exercise the polling machinery; they are not the real
collectors. The lead writes the real-lab pilot tests against the real
collectors and the lab's real servers.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from wpfarm_tui.app import WpfarmApp
from wpfarm_tui.inventory import Endpoints, Farm, RefreshSettings, SitesSettings
from wpfarm_tui.status.model import (
    Ban,
    BansSnapshot,
    CachesSnapshot,
    EdgeSnapshot,
    GaleraNode,
    GaleraSnapshot,
    NodeMetrics,
    NodeRow,
    NodesSnapshot,
    RedisStats,
    Router,
    SentinelView,
    ServiceRow,
    SiteRow,
    SitesSnapshot,
    SourceHealth,
    VarnishStats,
)
from wpfarm_tui.status.rates import Rate
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.status.traffic_model import SiteTraffic, TrafficFigures

CHECKED_AT = 1_772_334_724.0  # fixed: nothing rendered may depend on the wall clock
FROZEN_NOW = datetime(2026, 3, 1, 3, 12, 4, tzinfo=UTC)

FARM = Farm(
    name="lab",
    domain="lab.wpfarm.test",
    profile="lab",
    nodes=(),
    endpoints=Endpoints(),
    sites=SitesSettings(),
    refresh=RefreshSettings(interval=0.2, max_backoff=1.0),
)

GALERA_3_ERROR = (
    "(2003, \"Can't connect to MySQL server on '127.0.0.1:13308' "
    "([Errno 111] Connection refused)\")"
)


def frozen_clock() -> datetime:
    return FROZEN_NOW


def ok(name: str) -> SourceHealth:
    return SourceHealth(name, "ok", checked_at=CHECKED_AT, duration_s=0.012)


def failed(name: str, state: str, error: str) -> SourceHealth:
    return SourceHealth(name, state, error, checked_at=CHECKED_AT, duration_s=2.0)


# ---------------------------------------------------------------- good snapshots
LAB_MGR1_METRICS = NodeMetrics(
    instance="127.0.0.1:16091", nodename="lab-mgr1", cpu_pct=23.4, memory_pct=41.2,
    load_per_core=0.35, disk_pct=54.1, disk_mount="/", net_in_bps=1_258_291.0,
    net_out_bps=870_400.0, levels={"cpu": Level.OK, "memory": Level.OK, "disk": Level.OK},
)


def nodes_snapshot() -> NodesSnapshot:
    return NodesSnapshot(
        sources=(ok("docker"), ok("metrics")),
        nodes=(
            NodeRow(
                id="q3x9v2k7m1p4a8d0c6e5f2b1", hostname="lab-mgr1", role="manager",
                state="ready", availability="active", address="127.0.0.1", leader=True,
                engine_version="27.3.1", metrics=LAB_MGR1_METRICS,
            ),
        ),
        services=(
            ServiceRow(
                id="svc0wpapp000000000000001", name="wp_app", mode="replicated",
                desired=2, running=1, image="wpfarm/wordpress:6.6-php8.3-fpm",
                updated_at="2026-02-28T22:41:09.123456Z",
            ),
        ),
    )


def _traffic(host: str, rps: float, hit: float, pass_: float, s4: float, s5: float,
             p50: float, p95: float, p99: float, level: Level) -> SiteTraffic:
    m1 = TrafficFigures(int(rps * 60), rps, hit, round(100 - hit - pass_, 1), pass_, s4, s5,
                        p50, p95, p99, rps * 24_000, level)
    m5 = TrafficFigures(int(rps * 270), rps * 0.9, hit + 2, round(98 - hit - pass_, 1), pass_,
                        s4, s5 / 2, p50, p95 * 0.8, p99, rps * 22_000, level)
    wave = [round(rps * (1 + 0.5 * ((i * 7) % 11 - 5) / 5), 1) for i in range(31)]
    return SiteTraffic(
        host, m1, m5, tuple(wave), tuple(p95 * (0.6 + (i % 5) / 5) for i in range(31)),
        tuple(int(s5 * (i % 4)) for i in range(31)),
        (("/", int(rps * 120)), ("/wp-login.php", int(rps * 40)), ("/feed/", int(rps * 9))),
        ((200, int(rps * 150)), (503, int(rps * 9)), (404, int(rps * 4))),
        (("203.0.113.66", int(rps * 90)), ("198.51.100.7", int(rps * 30)),
         ("2001:db8::5", int(rps * 5))))


def sites_snapshot() -> SitesSnapshot:
    return SitesSnapshot(
        sources=(ok("edge-probe"), ok("registry"), ok("traffic")),
        sites=(
            SiteRow("site1.lab.wpfarm.test", "active", 200, 84.0, "HIT", 97.5, None,
                    Level.OK, 12_897_484,
                    _traffic("site1.lab.wpfarm.test", 41.5, 91.2, 4.1, 0.8, 0.0,
                             3.0, 48.0, 130.0, Level.OK)),
            SiteRow("site2.lab.wpfarm.test", "active", 200, 812.6, "MISS", 42.857, None,
                    Level.WARNING, 671_744,
                    _traffic("site2.lab.wpfarm.test", 3.2, 52.0, 18.5, 2.1, 3.4,
                             120.0, 640.0, 1900.0, Level.WARNING)),
        ),
        traffic_farm=_traffic("(farm)", 44.7, 88.3, 5.1, 0.9, 0.2, 3.0, 61.0, 420.0,
                              Level.OK),
    )


def galera_snapshot() -> GaleraSnapshot:
    return GaleraSnapshot(
        sources=(ok("galera-1"), ok("galera-2"),
                 failed("galera-3", "down", GALERA_3_ERROR)),
        nodes=(
            GaleraNode("galera-1", "127.0.0.1:13306", True, None, "Primary", "Synced", 2,
                       "8f1c2a9e-0000-11ef-9a3b-0242ac120002", True, 0.0, 0.0, 18234, 12.5,
                       Level.OK),
            GaleraNode("galera-2", "127.0.0.1:13307", True, None, "Primary", "Synced", 2,
                       "8f1c2a9e-0000-11ef-9a3b-0242ac120002", True, 0.123, 1.4, 18233, 8.25,
                       Level.WARNING),
            GaleraNode("galera-3", "127.0.0.1:13308", False, GALERA_3_ERROR,
                       level=Level.CRITICAL),
        ),
        expected_size=3,
        cluster_size=2,
        cluster_status="Primary",
        level=Level.CRITICAL,
    )


def caches_snapshot() -> CachesSnapshot:
    return CachesSnapshot(
        sources=(ok("varnish-1"), ok("redis-1"), ok("redis-2"), ok("sentinel-1"),
                 ok("sentinel-2"), ok("sentinel-3")),
        varnish=(
            VarnishStats("varnish-1", True, None, hits=15234, misses=1203, hit_ratio=92.681,
                         objects=4312, uptime_s=273_845, backend_failures=0, level=Level.WARNING,
                         # Today misses what last week hit: the window says so, the total not.
                         requests_per_s=Rate(412.5, 0, 1.0), hit_ratio_1m=Rate(61.3, 60, 60.0),
                         hit_ratio_5m=Rate(78.9, 300, 300.0), pass_per_s=Rate(3.2, 0, 1.0),
                         backend_failures_per_s=Rate(0.0, 0, 1.0),
                         lru_evictions_per_s=Rate(0.0, 0, 1.0)),
        ),
        redis=(
            RedisStats("redis-1", "127.0.0.1:16379", True, None, role="master", hits=88211,
                       misses=4022, hit_ratio=95.64, used_memory=52_428_800,
                       maxmemory=268_435_456, memory_pct=19.53, connected_clients=14,
                       level=Level.OK, ops_per_s=Rate(1520.0, 0, 1.0),
                       hit_ratio_1m=Rate(96.1, 60, 60.0), evicted_per_s=Rate(0.0, 0, 1.0)),
            RedisStats("redis-2", "127.0.0.1:16380", True, None, role="slave", hits=0,
                       misses=0, hit_ratio=None, used_memory=51_380_224,
                       maxmemory=268_435_456, memory_pct=19.14, connected_clients=3,
                       master_link="up", level=Level.OK,
                       ops_per_s=Rate(None, 0, 1.0, reset=True)),
        ),
        sentinels=tuple(
            SentinelView(f"sentinel-{i}", f"127.0.0.1:{26378 + i}", True, None,
                         master_name="wpfarm", master_address="127.0.0.1:16379",
                         master_flags="master", replicas=1, other_sentinels=2, quorum=2,
                         level=Level.OK)
            for i in (1, 2, 3)
        ),
    )


def bans_snapshot() -> BansSnapshot:
    return BansSnapshot(
        sources=(ok("crowdsec"),),
        bans=(
            Ban(101, "203.0.113.45", "Ip", "ban", "crowdsec",
                "crowdsecurity/http-wordpress-scan", "3h59m12s"),
            Ban(102, "198.51.100.0/24", "Range", "captcha", "cscli",
                "manual 'captcha' from 'lab-mgr1'", "23h10m0s"),
        ),
    )


def edge_snapshot() -> EdgeSnapshot:
    return EdgeSnapshot(
        sources=(ok("traefik"),),
        routers=(
            Router("site1@file", "Host(`site1.lab.wpfarm.test`)", "varnish@file",
                   ("websecure",), "enabled", "file"),
            Router("site2@file", "Host(`site2.lab.wpfarm.test`)", "varnish@file",
                   ("websecure",), "enabled", "file"),
        ),
        services_total=3,
        services_errors=0,
        version="3.1.2",
    )


SNAPSHOTS = {
    "nodes": nodes_snapshot,
    "sites": sites_snapshot,
    "galera": galera_snapshot,
    "caches": caches_snapshot,
    "bans": bans_snapshot,
    "edge": edge_snapshot,
}
TITLES = {
    "nodes": "Nodes & services",
    "sites": "Sites",
    "galera": "Galera",
    "caches": "Caches",
    "bans": "CrowdSec",
    "edge": "Edge",
    "storage": "Storage",
}


def storage_snapshot():
    """GlusterFS as the lab's split-brain test leaves it, one brick down besides: brick 3
    down, pending heals on the others, one file in split-brain, an option drifting."""
    from wpfarm_tui.farm.gluster import MountHealth, Peer
    from wpfarm_tui.status.storage import BrickRow, OptionDrift, StorageSnapshot

    root = "lab1:/var/lib/wpfarm-lab/glusterd/bricks"
    return StorageSnapshot(
        (ok("glusterd"),), "wpfarm", "Started", 3,
        (Peer("31bc166b", "localhost", True),),
        (BrickRow(f"{root}/b1", True, 754, 51855, 232 * 2**30, 270 * 2**30, 12, 1,
                  ("/sites/site1.lab.wpfarm.test/uploads/logo.png",)),
         BrickRow(f"{root}/b2", True, 770, 52708, 232 * 2**30, 270 * 2**30, 12, 1,
                  ("<gfid:2ec07bf9-3793-4936-970c-e90a0ef1fe0b>",)),
         BrickRow(f"{root}/b3", False)),
        (OptionDrift("network.ping-timeout", "10", "42"),),
        (MountHealth("local", "/var/lib/wpfarm-lab/glusterd/mnt", True),
         MountHealth("app2", "/mnt/gluster", False, "Transport endpoint is not connected")),
    )


# ---------------------------------------------------------------- sources down
def sites_down_snapshot() -> SitesSnapshot:
    """The edge probe and the registry both fail: the collector has no rows."""
    return SitesSnapshot(
        sources=(
            failed("edge-probe", "down", "connection refused (127.0.0.1:18443)"),
            failed("registry", "timeout", "timeout after 2 s"),
        ),
        sites=(),
    )


# ---------------------------------------------------------------- stand-in collectors
class FixedCollector:
    """UI-test stand-in: returns a fixed snapshot after a short sleep.

    NOT a real collector (those talk to the lab's servers; the lead's
    real-lab pilot tests use them). It only exercises the app's polling.
    """

    def __init__(self, pane: str, snapshot: Any = None, delay: float = 0.05) -> None:
        self.pane = pane
        self.title = TITLES[pane]
        self.snapshot = snapshot if snapshot is not None else SNAPSHOTS[pane]()
        self.delay = delay
        self.calls = 0
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    def collect(self) -> Any:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            time.sleep(self.delay)
            return self.snapshot
        finally:
            with self._lock:
                self.running -= 1


class RaisingCollector(FixedCollector):
    """UI-test stand-in that breaks the Collector contract by raising."""

    def collect(self) -> Any:
        super().collect()
        raise RuntimeError("boom: collector bug")


def fixed_collectors(delay: float = 0.05) -> list[FixedCollector]:
    return [FixedCollector(pane, delay=delay) for pane in SNAPSHOTS]


def make_app(theme: str = "wpfarm-dark", poll: bool = False, collectors: Any = None) -> WpfarmApp:
    return WpfarmApp(
        FARM,
        collectors if collectors is not None else fixed_collectors(),
        theme=theme,
        poll=poll,
        clock=frozen_clock,
    )


def feed_all(app: WpfarmApp) -> None:
    """Show every fixture snapshot, as the poll handler would."""
    for pane, build in SNAPSHOTS.items():
        app.console_screen.apply_snapshot(pane, build())
