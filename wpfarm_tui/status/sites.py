"""Sites pane: the registry's sites, each probed through the edge.

At 500+ sites a poll probes a rotating batch, not every site: each site is
still probed every few polls, and the farm is not loaded by its own console.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor

import httpx

from wpfarm_tui.farm import http as farm_http
from wpfarm_tui.farm.galera import GaleraConnections
from wpfarm_tui.inventory import Farm
from wpfarm_tui.status.base import probe
from wpfarm_tui.status.model import SiteRow, SitesSnapshot, SourceHealth
from wpfarm_tui.status.thresholds import Level, Threshold, worst

PROBES_PER_POLL = 64
CONCURRENT_PROBES = 16
HIT_HISTORY = 20  # probes a site's hit ratio is taken over
MIN_PROBES_FOR_RATIO = 5


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


class SitesCollector:
    pane = "sites"
    title = "Sites"

    def __init__(self, farm: Farm, probes_per_poll: int = PROBES_PER_POLL):
        self.farm = farm
        self.settings = farm.sites
        self.thresholds = dict(farm.thresholds)
        self.probes_per_poll = probes_per_poll
        self._known: dict[str, str] = {}  # domain -> state; kept when the registry is down
        self._rows: dict[str, SiteRow] = {}
        self._history: dict[str, deque[bool]] = {}
        self._cursor = 0
        galera = farm.endpoints.galera
        self._db = GaleraConnections(galera) if galera else None
        self._client = httpx.Client(timeout=self.settings.timeout, verify=self.settings.verify_tls,
                                    follow_redirects=False,
                                    limits=httpx.Limits(max_connections=CONCURRENT_PROBES))
        self._pool = ThreadPoolExecutor(max_workers=CONCURRENT_PROBES, thread_name_prefix="probe")

    def _registry(self) -> dict[str, str]:
        if self._db is None:
            raise ConnectionError("sites.registry is galera but endpoints.galera is missing")
        rows = self._db.query("SELECT domain, state FROM wpfarm.sites")
        return {str(d): str(s) for d, s in rows}

    def _probe(self, domain: str) -> SiteRow:
        assert self.settings.edge_url
        result = farm_http.probe(self._client, self.settings.edge_url, domain)
        history = self._history.setdefault(domain, deque(maxlen=HIT_HISTORY))
        if result.cache is not None:
            history.append(result.cache == "HIT")
        hit_ratio = round(100.0 * sum(history) / len(history), 1) if history else None
        state = self._known.get(domain, "unknown")
        return SiteRow(domain, state, result.status, result.ttfb_ms, result.cache, hit_ratio,
                       result.error,
                       site_level(state, result, hit_ratio, len(history), self.thresholds))

    def collect(self) -> SitesSnapshot:
        sources: list[SourceHealth] = []
        if self.settings.registry == "galera":
            timeout = self.farm.endpoints.galera.timeout if self.farm.endpoints.galera else None
            registry, health = probe("site-registry", self._registry, timeout)
            sources.append(health)
            if registry is not None:
                self._known = registry
        for domain in self.settings.static:
            self._known.setdefault(domain, "active")
        for gone in set(self._rows) - set(self._known):
            del self._rows[gone]
            self._history.pop(gone, None)

        domains = sorted(self._known)
        if self.settings.edge_url is None:
            sources.append(SourceHealth("edge", "disabled", "no sites.edge_url"))
        elif domains:
            batch = self._next_batch(domains)
            probed = list(self._pool.map(self._probe, batch))
            for row in probed:
                self._rows[row.domain] = row
            # Every probe failing without an HTTP answer means the edge itself is down.
            if all(r.http_status is None for r in probed):
                sources.append(SourceHealth("edge", "down", probed[0].error))
            else:
                sources.append(SourceHealth("edge", "ok"))
        rows = tuple(self._rows.get(d) or SiteRow(d, self._known[d], None, None, None, None,
                                                  "not probed yet")
                     for d in domains)
        return SitesSnapshot(tuple(sources), rows)

    def _next_batch(self, domains: list[str]) -> list[str]:
        if len(domains) <= self.probes_per_poll:
            return domains
        start = self._cursor % len(domains)
        batch = (domains[start:] + domains[:start])[: self.probes_per_poll]
        self._cursor = start + self.probes_per_poll
        return batch
