"""Sites pane: the registry's sites, each probed through the edge.

At 500+ sites a poll probes a rotating batch, not every site: each site is
still probed every few polls, and the farm is not loaded by its own console.
In the console (`probe_wait_s` set) a poll waits for its batch at most that
long: the registry's rows are shown at once, and probe results as they come
(a batch still running is not started again, so probes never pile up).

Each site's database size comes from one query on MariaDB's persistent InnoDB
statistics (mysql.innodb_table_stats: a row per table, no table opened), read
at most once a minute (and once more when a site turns active).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace

import httpx

from wpfarm_tui.farm import http as farm_http
from wpfarm_tui.farm.galera import GaleraConnections
from wpfarm_tui.inventory import Farm
from wpfarm_tui.status.base import probe
from wpfarm_tui.status.model import SiteRow, SitesSnapshot, SourceHealth
from wpfarm_tui.status.thresholds import Level, Threshold, worst
from wpfarm_tui.status.traffic import TrafficSource
from wpfarm_tui.status.traffic_model import SiteTraffic

PROBES_PER_POLL = 64
CONCURRENT_PROBES = 16
HIT_HISTORY = 20  # probes a site's hit ratio is taken over
MIN_PROBES_FOR_RATIO = 5
# A database's size moves over hours, not seconds.
DB_SIZES_EVERY_S = 60.0
# information_schema.tables opens every table of the server: at 389 sites (~4,700 tables)
# it timed out after 2 s on every poll. The persistent InnoDB statistics hold the same
# figures (information_schema's data_length + index_length of an InnoDB table are these
# page counts times the page size): one small table, read in about a millisecond.
# WordPress's tables are InnoDB; a table of another engine is not counted.
DB_SIZES_SQL = (
    "SELECT database_name, SUM(clustered_index_size + sum_of_other_index_sizes) "
    "* @@innodb_page_size FROM mysql.innodb_table_stats "
    "WHERE database_name NOT IN ('information_schema', 'performance_schema', 'mysql', 'sys') "
    "GROUP BY database_name"
)


def site_level(state: str, result: farm_http.Probe, hit_ratio: float | None,
               samples: int, thresholds: dict[str, Threshold]) -> Level:
    if result.status is None:
        return Level.CRITICAL
    if state == "suspended":
        # A suspended site answers its maintenance page; anything else is wrong.
        return Level.OK if result.status == 503 else Level.WARNING
    levels = [thresholds["response_time_ms"].level(result.ttfb_ms)]
    if result.status >= 500:
        levels.append(Level.CRITICAL)
    elif result.status >= 400:
        levels.append(Level.WARNING)
    if samples >= MIN_PROBES_FOR_RATIO:
        levels.append(thresholds["cache_hit_ratio"].level(hit_ratio))
    return worst(levels)


def _with_traffic(row: SiteRow, traffic: SiteTraffic | None) -> SiteRow:
    """The row with its visitors' figures; its level the worse of the probe's and the
    last minute's traffic (a suspended site's visitors get its maintenance page)."""
    if traffic is None:
        return row
    judged = traffic.m1.level  # UNKNOWN: too few visitors to say; not worse than the probe
    level = (worst([row.level, judged]) if row.state == "active" and judged >= Level.WARNING
             else row.level)
    return replace(row, traffic=traffic, level=level)


class SitesCollector:
    pane = "sites"

    def __init__(self, farm: Farm, probes_per_poll: int = PROBES_PER_POLL,
                 sizes_every_s: float = DB_SIZES_EVERY_S,
                 clock: Callable[[], float] = time.monotonic,
                 probe_wait_s: float | None = None, traffic: bool = False):
        """`probe_wait_s`: how long a poll waits for its probes (None: until all answer,
        for one-shot reads like `wpfarm status`). `traffic`: follow the edge's access log
        for the visitors' figures (the console: a stream followed from now on, useless
        to a one-shot read)."""
        self.farm = farm
        self.probe_wait_s = probe_wait_s
        self.settings = farm.sites
        self.thresholds = dict(farm.thresholds)
        self.probes_per_poll = probes_per_poll
        self.sizes_every_s = sizes_every_s
        self.clock = clock
        self._known: dict[str, str] = {}  # domain -> state; kept when the registry is down
        self._db_names: dict[str, str] = {}  # domain -> its database, from the registry
        self._sizes: dict[str, int] = {}  # database -> bytes
        self._sized_at: float | None = None
        self._sized_active: set[str] = set()  # active sites' databases at the last read
        self._sizes_health: SourceHealth | None = None
        self._rows: dict[str, SiteRow] = {}
        self._history: dict[str, deque[bool]] = {}
        self._cursor = 0
        self._rows_lock = threading.Lock()  # probes land in _rows from the pool's threads
        self._batch: list[Future[SiteRow]] = []
        self._edge: SourceHealth | None = None  # from the last probes that answered
        galera = farm.endpoints.galera
        self._db = GaleraConnections(galera) if galera else None
        self._client = httpx.Client(timeout=self.settings.timeout, verify=self.settings.verify_tls,
                                    follow_redirects=False,
                                    limits=httpx.Limits(max_connections=CONCURRENT_PROBES))
        self._pool = ThreadPoolExecutor(max_workers=CONCURRENT_PROBES, thread_name_prefix="probe")
        self._traffic: TrafficSource | None = None
        if traffic and farm.endpoints.traefik and farm.endpoints.traefik.access_log:
            self._traffic = TrafficSource(farm, clock=clock, known_hosts=lambda: list(self._known))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()
        if self._traffic is not None:
            self._traffic.close()
        if self._db is not None:
            self._db.close()

    def _registry(self) -> dict[str, tuple[str, str]]:
        """domain -> (state, database name)."""
        if self._db is None:
            raise ConnectionError("sites.registry is galera but endpoints.galera is missing")
        rows = self._db.query("SELECT domain, state, db_name FROM wpfarm.sites")
        return {str(d): (str(s), str(n)) for d, s, n in rows}

    def _read_sizes(self) -> dict[str, int]:
        assert self._db is not None
        return {str(schema): int(size or 0) for schema, size in self._db.query(DB_SIZES_SQL)}

    def _refresh_sizes(self) -> bool:
        """Read the database sizes when due; True when they were read (ok or not)."""
        if self._db is None or not self._db_names:
            return False
        active = {self._db_names[d] for d, state in self._known.items()
                  if state == "active" and d in self._db_names}
        # Also at once when a site turned active: a new site should not show "—" for a
        # minute. Not while it is `creating`: its tables do not exist yet.
        due = (self._sized_at is None or not active <= self._sized_active
               or self.clock() - self._sized_at >= self.sizes_every_s)
        if not due:
            return False
        timeout = self.farm.endpoints.galera.timeout if self.farm.endpoints.galera else None
        sizes, self._sizes_health = probe("db-sizes", self._read_sizes, timeout)
        # A failed read is not retried before the interval either: keep the last sizes.
        self._sized_at, self._sized_active = self.clock(), active
        if sizes is not None:
            self._sizes = sizes
        return True

    def _db_size(self, domain: str) -> int | None:
        name = self._db_names.get(domain)
        return self._sizes.get(name) if name else None

    def _probe_and_keep(self, domain: str) -> SiteRow:
        row = self._probe(domain)
        with self._rows_lock:
            if domain in self._known:  # not deleted while it was probed
                self._rows[domain] = row
        return row

    def _probe(self, domain: str) -> SiteRow:
        assert self.settings.edge_url
        result = farm_http.probe(self._client, self.settings.edge_url, domain)
        history = self._history.setdefault(domain, deque(maxlen=HIT_HISTORY))
        if result.cache is not None:
            history.append(result.cache == "HIT")
        hit_ratio = round(100.0 * sum(history) / len(history), 1) if history else None
        state = self._known.get(domain, "unknown")
        # With the visitors' hit ratio (traffic), the probe's own is not judged.
        samples = 0 if self._traffic is not None else len(history)
        return SiteRow(domain, state, result.status, result.ttfb_ms, result.cache, hit_ratio,
                       result.error,
                       site_level(state, result, hit_ratio, samples, self.thresholds),
                       self._db_size(domain))

    def collect(self) -> SitesSnapshot:
        sources: list[SourceHealth] = []
        if self.settings.registry == "galera":
            timeout = self.farm.endpoints.galera.timeout if self.farm.endpoints.galera else None
            registry, health = probe("site-registry", self._registry, timeout)
            sources.append(health)
            if registry is not None:
                self._known = {d: state for d, (state, _) in registry.items()}
                self._db_names = {d: name for d, (_, name) in registry.items()}
            if self._refresh_sizes():
                # Rows not probed this poll take the new sizes too.
                with self._rows_lock:
                    for domain, row in list(self._rows.items()):
                        if row.db_size != (size := self._db_size(domain)):
                            self._rows[domain] = replace(row, db_size=size)
            if self._sizes_health is not None:
                sources.append(self._sizes_health)
        for domain in self.settings.static:
            self._known.setdefault(domain, "active")
        with self._rows_lock:
            for gone in set(self._rows) - set(self._known):
                del self._rows[gone]
                self._history.pop(gone, None)

        domains = sorted(self._known)
        if self.settings.edge_url is None:
            sources.append(SourceHealth("edge", "disabled", "no sites.edge_url"))
        elif domains:
            edge = self._probe_batch(domains)
            if edge is not None:
                sources.append(edge)
        with self._rows_lock:
            rows = tuple(self._rows.get(d) or SiteRow(d, self._known[d], None, None, None,
                                                      None, "not probed yet",
                                                      db_size=self._db_size(d))
                         for d in domains)
        if self._traffic is None:
            return SitesSnapshot(tuple(sources), rows)
        traffic = self._traffic.snapshot()
        sources.append(traffic.source)
        rows = tuple(_with_traffic(row, traffic.sites.get(row.domain)) for row in rows)
        return SitesSnapshot(tuple(sources), rows, traffic.farm)

    def _probe_batch(self, domains: list[str]) -> SourceHealth | None:
        """Start the next batch unless one still runs, wait for it up to probe_wait_s;
        the edge's health from the probes that answered (None before any did)."""
        if all(f.done() for f in self._batch):
            self._batch = [self._pool.submit(self._probe_and_keep, d)
                           for d in self._next_batch(domains)]
        wait(self._batch, timeout=self.probe_wait_s)
        done = [f.result() for f in self._batch if f.done()]
        if done:
            # Every probe failing without an HTTP answer means the edge itself is down.
            if all(r.http_status is None for r in done):
                self._edge = SourceHealth("edge", "down", done[0].error)
            else:
                self._edge = SourceHealth("edge", "ok")
        return self._edge

    def _next_batch(self, domains: list[str]) -> list[str]:
        if len(domains) <= self.probes_per_poll:
            return domains
        start = self._cursor % len(domains)
        batch = (domains[start:] + domains[:start])[: self.probes_per_poll]
        self._cursor = start + self.probes_per_poll
        return batch
