"""Visitors' traffic per site from the edge's access log: rates, cache verdicts, errors
and time percentiles over the last 1 and 5 minutes, farm-wide the same.

Memory is bounded whatever the traffic: requests are counted into 10-second slots (31
kept) per site, each with a sparse log-spaced histogram of durations (buckets 10 % wide,
so a percentile is within ~5 %), never kept as lines. Hosts are capped (a visitor chooses
the Host header; past `MAX_HOSTS` the rest count as OTHER_HOST), top URLs and clients are
bounded top-K counters (space-saving, kept per 5-minute generation).

The console's own probes (User-Agent `wpfarm-probe/...`, farm/http.py) are counted apart
and left out of every figure: they are the Sites pane's blackbox column, not visitors.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from wpfarm_tui.farm import docker as farm_docker
from wpfarm_tui.farm.access_log import (
    AccessLogFollower,
    FileTail,
    Request,
    parse,
    service_stream,
)
from wpfarm_tui.farm.http import PROBE_USER_AGENT
from wpfarm_tui.farm.logs import LogStream
from wpfarm_tui.farm.traefik import TraefikClient
from wpfarm_tui.inventory import Farm
from wpfarm_tui.status.model import SourceHealth
from wpfarm_tui.status.thresholds import Level, Threshold, worst
from wpfarm_tui.status.traffic_model import (
    SiteTraffic,
    TrafficFigures,
    TrafficSnapshot,
    traffic_p95_level,
)

SLOT_S = 10.0
WINDOWS_S = (60.0, 300.0)
SLOTS_KEPT = int(WINDOWS_S[-1] / SLOT_S) + 1  # the current slot is still filling
MAX_HOSTS = 5000
OTHER_HOST = "(other hosts)"
TOP_K = 20
MAX_PATH = 200  # a URL kept in a top list is cut here: memory, whatever a visitor sends
MIN_REQUESTS = 20  # fewer in a window: ratios and percentiles shown, not judged

# Log-spaced duration buckets: 0 is below MIN_MS, then each 10 % wider than the last.
MIN_MS = 0.5
RATIO = 1.1
_INV_LOG_RATIO = 1 / math.log(RATIO)
MAX_BUCKET = 1 + int(math.log(600_000 / MIN_MS) * _INV_LOG_RATIO)  # 10 minutes
_PROBE_UA = PROBE_USER_AGENT.split("/")[0]


def bucket(ms: float) -> int:
    if ms < MIN_MS:
        return 0
    return min(MAX_BUCKET, 1 + int(math.log(ms / MIN_MS) * _INV_LOG_RATIO))


def bucket_value(index: int) -> float:
    """A bucket's representative duration: its geometric middle."""
    if index == 0:
        return MIN_MS / 2
    return MIN_MS * RATIO ** (index - 0.5)


class _Cell:
    """One site's requests in one slot."""

    __slots__ = ("requests", "hit", "miss", "passed", "s4", "s5", "size", "hist", "status")

    def __init__(self) -> None:
        self.requests = self.hit = self.miss = self.passed = self.s4 = self.s5 = self.size = 0
        self.hist: dict[int, int] = {}
        self.status: dict[int, int] = {}

    def add(self, r: Request) -> None:
        self.requests += 1
        cache = r.cache
        if cache == "HIT":
            self.hit += 1
        elif cache == "MISS":
            self.miss += 1
        elif cache == "PASS":
            self.passed += 1
        status = r.status
        if status >= 500:
            self.s5 += 1
        elif status >= 400:
            self.s4 += 1
        self.status[status] = self.status.get(status, 0) + 1
        self.size += r.size
        b = bucket(r.duration_ms)
        self.hist[b] = self.hist.get(b, 0) + 1

    def merge(self, other: _Cell) -> None:
        self.requests += other.requests
        self.hit += other.hit
        self.miss += other.miss
        self.passed += other.passed
        self.s4 += other.s4
        self.s5 += other.s5
        self.size += other.size
        for k, v in other.hist.items():
            self.hist[k] = self.hist.get(k, 0) + v
        for k, v in other.status.items():
            self.status[k] = self.status.get(k, 0) + v


class TopK:
    """Space-saving counts of the most frequent keys, at most 2k kept: when full, the k
    largest stay and a new key starts at the floor dropped (an over-estimate, never
    under): the true top keys are kept whatever the number of distinct keys."""

    __slots__ = ("k", "counts", "floor")

    def __init__(self, k: int = TOP_K):
        self.k = k
        self.counts: dict[str, int] = {}
        self.floor = 0

    def add(self, key: str, n: int = 1) -> None:
        counts = self.counts
        if key in counts:
            counts[key] += n
            return
        if len(counts) >= 2 * self.k:
            kept = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)
            self.floor = kept[self.k][1]
            self.counts = counts = dict(kept[: self.k])
        counts[key] = self.floor + n

    def top(self, n: int) -> list[tuple[str, int]]:
        return sorted(self.counts.items(), key=lambda kv: kv[1], reverse=True)[:n]


def merge_top(parts: Iterable[TopK], n: int) -> list[tuple[str, int]]:
    total: dict[str, int] = {}
    for part in parts:
        for k, v in part.counts.items():
            total[k] = total.get(k, 0) + v
    return sorted(total.items(), key=lambda kv: kv[1], reverse=True)[:n]


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def percentile(hist: dict[int, int], total: int, q: float) -> float | None:
    if not total:
        return None
    rank = q * total
    seen = 0
    for index in sorted(hist):
        seen += hist[index]
        if seen >= rank:
            return round(bucket_value(index), 1)
    return round(bucket_value(max(hist)), 1)


def figures(cell: _Cell, seconds: float, thresholds: dict[str, Threshold]) -> TrafficFigures:
    n = cell.requests
    cached = cell.hit + cell.miss + cell.passed
    p95 = percentile(cell.hist, n, 0.95)
    out = TrafficFigures(
        n, round(n / seconds, 2) if seconds > 0 else 0.0,
        _pct(cell.hit, cached), _pct(cell.miss, cached), _pct(cell.passed, cached),
        _pct(cell.s4, n), _pct(cell.s5, n),
        percentile(cell.hist, n, 0.50), p95, percentile(cell.hist, n, 0.99),
        round(cell.size / seconds, 1) if seconds > 0 else 0.0)
    return replace(out, level=traffic_level(out, thresholds))


def traffic_level(f: TrafficFigures, thresholds: dict[str, Threshold]) -> Level:
    """Too few requests to judge: unknown. Else the p95 against the 200 ms target (the
    `response_time_ms` critical beyond), 5xx against `error_rate`, hits against
    `cache_hit_ratio` (HIT among HIT + MISS: a pass is never cacheable)."""
    if f.requests < MIN_REQUESTS:
        return Level.UNKNOWN
    levels = [Level.OK]
    if f.p95_ms is not None:
        levels.append(traffic_p95_level(f.p95_ms, thresholds))
    levels.append(thresholds["error_rate"].level(f.s5_pct))
    if f.hit_pct is not None and f.miss_pct is not None and f.hit_pct + f.miss_pct > 0:
        hit_of_cacheable = 100.0 * f.hit_pct / (f.hit_pct + f.miss_pct)
        levels.append(thresholds["cache_hit_ratio"].level(hit_of_cacheable))
    return worst(levels)


class TrafficAggregator:
    """Counts parsed requests into slots; thread-safe (`add_line` from the follower's
    thread, `snapshot` from the collector's)."""

    def __init__(self, thresholds: dict[str, Threshold],
                 clock: Callable[[], float] = time.monotonic,
                 known_hosts: Callable[[], Iterable[str]] | None = None):
        self.thresholds = thresholds
        self.clock = clock
        self.started = clock()
        self.probes = 0
        self.lines = 0
        self._lock = threading.Lock()
        # slot number -> host -> cell; only slots with traffic exist.
        self._slots: dict[int, dict[str, _Cell]] = {}
        self._hosts: set[str] = set()
        # host -> (generation, paths, clients) of the current and previous 5 minutes
        self._tops: dict[str, dict[int, tuple[TopK, TopK]]] = {}
        self.known_hosts = known_hosts

    def add_line(self, line: str) -> None:
        self.lines += 1
        r = parse(line)
        if r is not None:
            self.add(r)

    def add(self, r: Request) -> None:
        if r.user_agent.startswith(_PROBE_UA):
            self.probes += 1
            return
        now = self.clock()
        slot = int(now // SLOT_S)
        host = r.host
        with self._lock:
            if host not in self._hosts:
                if len(self._hosts) >= MAX_HOSTS:
                    host = OTHER_HOST
                self._hosts.add(host)
            cells = self._slots.get(slot)
            if cells is None:
                cells = self._slots[slot] = {}
                for old in [s for s in self._slots if s <= slot - SLOTS_KEPT]:
                    del self._slots[old]
            cell = cells.get(host)
            if cell is None:
                cell = cells[host] = _Cell()
            cell.add(r)
            gen = int(now // WINDOWS_S[-1])
            tops = self._tops.setdefault(host, {})
            pair = tops.get(gen)
            if pair is None:
                pair = tops[gen] = (TopK(), TopK())
                for g in [g for g in tops if g < gen - 1]:
                    del tops[g]
            pair[0].add(r.path[:MAX_PATH])
            pair[1].add(r.client)

    def snapshot(self, source: SourceHealth) -> TrafficSnapshot:
        now = self.clock()
        current = int(now // SLOT_S)
        with self._lock:
            slots = {s: dict(cells) for s, cells in self._slots.items()
                     if s > current - SLOTS_KEPT}
            # Cells of past slots no longer change; the current one may: copy it.
            if current in slots:
                slots[current] = {h: _copy(c) for h, c in slots[current].items()}
            generation = int(now // WINDOWS_S[-1])
            for host in [h for h, t in self._tops.items() if max(t) < generation - 1]:
                del self._tops[host]  # no traffic for 5 minutes and more: its tops go
            tops = {h: [pair for g, pair in t.items() if g >= generation - 1]
                    for h, t in self._tops.items()}
            tops = {h: [(_copy_top(a), _copy_top(b)) for a, b in pairs]
                    for h, pairs in tops.items()}
        # A window's span: the whole window, or the time since the stream was first read
        # when shorter (a fresh console would otherwise show a fifth of the real rate).
        elapsed = max(now - self.started, 1e-3)
        spans = [min(w, elapsed) for w in WINDOWS_S]
        per_window: list[dict[str, _Cell]] = []
        farm_cells: list[_Cell] = []
        for w in WINDOWS_S:
            first = int((now - w) // SLOT_S) + 1
            merged: dict[str, _Cell] = {}
            total = _Cell()
            for s, cells in slots.items():
                if s < first:
                    continue
                for host, cell in cells.items():
                    m = merged.get(host)
                    if m is None:
                        m = merged[host] = _Cell()
                    m.merge(cell)
                    total.merge(cell)
            per_window.append(merged)
            farm_cells.append(total)
        hosts = set(per_window[-1])
        if self.known_hosts is not None:
            hosts |= {h.lower() for h in self.known_hosts()}
        empty = _Cell()
        series_slots = range(current - SLOTS_KEPT + 1, current + 1)
        sites = {}
        for host in hosts:
            rps, p95s, s5s = [], [], []
            for s in series_slots:
                c = slots.get(s, {}).get(host)
                rps.append(round(c.requests / SLOT_S, 2) if c else 0.0)
                p95s.append(percentile(c.hist, c.requests, 0.95) if c else None)
                s5s.append(c.s5 if c else 0)
            five = per_window[-1].get(host, empty)
            sites[host] = SiteTraffic(
                host,
                figures(per_window[0].get(host, empty), spans[0], self.thresholds),
                figures(five, spans[-1], self.thresholds),
                tuple(rps), tuple(p95s), tuple(s5s),
                tuple(merge_top((p for p, _ in tops.get(host, [])), 10)),
                tuple(sorted(five.status.items(), key=lambda kv: kv[1], reverse=True)[:10]),
                tuple(merge_top((c for _, c in tops.get(host, [])), 10)),
            )
        farm = SiteTraffic("(farm)", figures(farm_cells[0], spans[0], self.thresholds),
                           figures(farm_cells[-1], spans[-1], self.thresholds))
        return TrafficSnapshot(source, farm, sites, self.probes, self.lines)


def _copy(cell: _Cell) -> _Cell:
    out = _Cell()
    out.merge(cell)
    return out


def _copy_top(top: TopK) -> TopK:
    out = TopK(top.k)
    out.counts, out.floor = dict(top.counts), top.floor
    return out


class TrafficSource:
    """The farm's access log followed on a thread, counted by a TrafficAggregator.

    Lab: the file Traefik writes, its writer checked with Traefik's /ping while the file
    is quiet. Swarm: the edge service's logs through the manager's Docker API."""

    def __init__(self, farm: Farm, clock: Callable[[], float] = time.monotonic,
                 known_hosts: Callable[[], Iterable[str]] | None = None):
        self.aggregator = TrafficAggregator(dict(farm.thresholds), clock, known_hosts)
        self.follower: AccessLogFollower | None = None
        self._traefik: TraefikClient | None = None
        ep = farm.endpoints.traefik
        if ep is None or not ep.access_log:
            self._why_not = "no endpoints.traefik.access_log in farm.yaml"
            return
        self._why_not = ""
        if ep.access_log.startswith("/"):
            self._traefik = TraefikClient(ep)
            tail = FileTail(Path(ep.access_log), alive=self._traefik.ping_error)
            opener: Callable[[], LogStream] = tail.open
        else:
            docker_ep = farm.endpoints.docker
            service = ep.access_log
            if docker_ep is None:
                self._why_not = "endpoints.docker: missing; the access log is a service's logs"
                return

            def opener() -> LogStream:
                return service_stream(farm_docker.client(docker_ep), service)

        self.follower = AccessLogFollower(opener, self.aggregator.add_line).start()

    def health(self) -> SourceHealth:
        if self.follower is None:
            return SourceHealth("traffic", "disabled", self._why_not)
        if self.follower.state == "ok":
            return SourceHealth("traffic", "ok")
        if self.follower.state == "starting":
            return SourceHealth("traffic", "slow", "opening the access log")
        return SourceHealth("traffic", "down", self.follower.error)

    def snapshot(self) -> TrafficSnapshot:
        return self.aggregator.snapshot(self.health())

    def close(self) -> None:
        if self.follower is not None:
            self.follower.close()
        if self._traefik is not None:
            self._traefik.close()
