"""Caches pane: Varnish counters, Redis INFO and what each Sentinel believes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from wpfarm_tui.farm import redis as farm_redis
from wpfarm_tui.farm import varnish as farm_varnish
from wpfarm_tui.inventory import Farm, HostPort, RedisEndpoint, VarnishInstance
from wpfarm_tui.status.base import SourcePoll, probe, slow_health
from wpfarm_tui.status.model import (
    CachesSnapshot,
    RedisStats,
    SentinelView,
    SourceHealth,
    VarnishStats,
)
from wpfarm_tui.status.rates import FIVE_MINUTES, MINUTE, GraphSeries, Histories, Rate
from wpfarm_tui.status.thresholds import Level, Threshold, worst

# Below this many lookups a hit ratio says nothing (a fresh cache is all misses).
MIN_LOOKUPS_FOR_RATIO = 100


def ratio(hits: int | None, misses: int | None) -> float | None:
    if hits is None or misses is None or hits + misses == 0:
        return None
    return round(100.0 * hits / (hits + misses), 1)


def _ratio_level(hits: int, misses: int, value: float | None, threshold: Threshold) -> Level:
    if hits + misses < MIN_LOOKUPS_FOR_RATIO:
        return Level.OK
    return threshold.level(value)


VARNISH_COUNTERS = ("client_req", "cache_hit", "cache_miss", "s_pass", "backend_fail",
                    "n_lru_nuked")
REDIS_COUNTERS = ("total_commands_processed", "keyspace_hits", "keyspace_misses",
                  "evicted_keys")


def _windowed_level(now: Rate, threshold: Threshold) -> Level:
    # Too few lookups in the window (None) says nothing: a quiet cache is not a bad one.
    return Level.OK if now.value is None else threshold.level(now.value)


def varnish_stats(name: str, counters: dict[str, int], thresholds: dict[str, Threshold],
                  history: Histories | None = None) -> VarnishStats:
    """One instance's counters; with `history` (the collector's, this poll recorded in it)
    the rates over windows too, and the hit-ratio threshold applies to the last minute."""
    hits, misses = counters.get("cache_hit", 0), counters.get("cache_miss", 0)
    hit_ratio = ratio(hits, misses)
    stats = VarnishStats(
        name=name, reachable=True, error=None, hits=hits, misses=misses, hit_ratio=hit_ratio,
        objects=counters.get("n_object"), uptime_s=counters.get("uptime"),
        backend_failures=counters.get("backend_fail"),
        level=_ratio_level(hits, misses, hit_ratio, thresholds["cache_hit_ratio"]),
    )
    if history is None:
        return stats
    key = ("varnish", name)
    minute = history.ratio(key, "cache_hit", "cache_miss", MINUTE, MIN_LOOKUPS_FOR_RATIO)
    return dataclasses.replace(
        stats,
        requests_per_s=history.rate(key, "client_req"),
        hit_ratio_1m=minute,
        hit_ratio_5m=history.ratio(key, "cache_hit", "cache_miss", FIVE_MINUTES,
                                   MIN_LOOKUPS_FOR_RATIO),
        pass_per_s=history.rate(key, "s_pass"),
        backend_failures_per_s=history.rate(key, "backend_fail"),
        lru_evictions_per_s=history.rate(key, "n_lru_nuked"),
        level=_windowed_level(minute, thresholds["cache_hit_ratio"]),
    )


def redis_stats(node: HostPort, info: dict[str, Any], thresholds: dict[str, Threshold],
                history: Histories | None = None) -> RedisStats:
    hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
    used, maxmemory = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
    memory_pct = round(100.0 * used / maxmemory, 1) if maxmemory else None
    hit_ratio = ratio(hits, misses)
    role = info.get("role")
    link = info.get("master_link_status") if role == "slave" else None
    key = ("redis", node.name)
    minute = (history.ratio(key, "keyspace_hits", "keyspace_misses", MINUTE,
                            MIN_LOOKUPS_FOR_RATIO) if history is not None else None)
    levels = [
        (_windowed_level(minute, thresholds["cache_hit_ratio"]) if minute is not None
         else _ratio_level(hits, misses, hit_ratio, thresholds["cache_hit_ratio"])),
        thresholds["cache_memory"].level(memory_pct),
        Level.CRITICAL if link == "down" else Level.OK,
    ]
    return RedisStats(
        name=node.name, address=node.address, reachable=True, error=None, role=role,
        hits=hits, misses=misses, hit_ratio=hit_ratio, used_memory=used, maxmemory=maxmemory,
        memory_pct=memory_pct, connected_clients=info.get("connected_clients"),
        master_link=link, level=worst([lv for lv in levels if lv is not Level.UNKNOWN]),
        ops_per_s=history.rate(key, "total_commands_processed") if history else None,
        hit_ratio_1m=minute,
        evicted_per_s=history.rate(key, "evicted_keys") if history else None,
    )


def sentinel_view(node: HostPort, master: dict[str, Any],
                  master_address: str | None = None) -> SentinelView:
    flags = str(master.get("flags", ""))
    level = Level.OK
    if "o_down" in flags:
        level = Level.CRITICAL
    elif "s_down" in flags:
        level = Level.WARNING
    return SentinelView(
        name=node.name, address=node.address, reachable=True, error=None,
        master_name=master.get("name"),
        master_address=master_address or f"{master.get('ip')}:{master.get('port')}",
        master_flags=flags, replicas=_opt_int(master.get("num-slaves")),
        other_sentinels=_opt_int(master.get("num-other-sentinels")),
        quorum=_opt_int(master.get("quorum")), level=level,
    )


def _opt_int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


class CachesCollector:
    pane = "caches"

    def __init__(self, farm: Farm, patience: float | None = None):
        """`patience`: how long a poll waits for its slowest source (status/base.py
        SourcePoll); None waits for every answer."""
        self.farm = farm
        self.patience = patience
        self.thresholds = dict(farm.thresholds)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="caches")
        self.history = Histories()  # counters between polls, for rates over windows
        redis_endpoint = farm.endpoints.redis
        self._redis_clients = (farm_redis.RedisClients(redis_endpoint) if redis_endpoint
                               else None)
        self._poll: SourcePoll[tuple[str, str], tuple[Any, SourceHealth]] = SourcePoll(
            self._pool)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._redis_clients is not None:
            self._redis_clients.close()

    def _varnish(self, instance: VarnishInstance) -> tuple[VarnishStats, SourceHealth]:
        endpoint = self.farm.endpoints.varnish
        assert endpoint is not None
        counters, health = probe(
            instance.name,
            lambda: farm_varnish.counters(self.farm, instance, endpoint.timeout),
            endpoint.timeout)
        if counters is None:
            return VarnishStats(instance.name, False, health.error, level=Level.CRITICAL), health
        self.history.record(("varnish", instance.name),
                            {k: counters.get(k) for k in VARNISH_COUNTERS})
        return varnish_stats(instance.name, counters, self.thresholds, self.history), health

    def _redis(self, endpoint: RedisEndpoint, node: HostPort) -> tuple[RedisStats, SourceHealth]:
        clients = self._redis_clients
        assert clients is not None
        info, health = probe(node.name, lambda: clients.info(node), endpoint.timeout)
        if info is None:
            return RedisStats(node.name, node.address, False, health.error,
                              level=Level.CRITICAL, health=health.state), health
        self.history.record(("redis", node.name),
                            {k: _opt_int(info.get(k)) for k in REDIS_COUNTERS})
        return redis_stats(node, info, self.thresholds, self.history), health

    def _sentinel(self, endpoint: RedisEndpoint, node: HostPort
                  ) -> tuple[SentinelView, SourceHealth]:
        clients = self._redis_clients
        assert clients is not None
        master, health = probe(node.name, lambda: clients.sentinel_master(node),
                               endpoint.timeout)
        if master is None:
            return SentinelView(node.name, node.address, False, health.error,
                                level=Level.CRITICAL), health
        return sentinel_view(node, master, farm_redis.master_address(endpoint, master)), health

    def graphs(self) -> list[GraphSeries]:
        """The last 30 minutes of what the pane shows now, for its graph view."""
        h, out = self.history, []
        for instance in self.farm.endpoints.varnish.instances if self.farm.endpoints.varnish \
                else ():
            key = ("varnish", instance.name)
            out += [GraphSeries(f"{instance.name} requests", "/s",
                                h.rate_series(key, "client_req")),
                    GraphSeries(f"{instance.name} hit ratio", "%",
                                h.ratio_series(key, "cache_hit", "cache_miss"),
                                "cache_hit_ratio")]
        for node in self.farm.endpoints.redis.instances if self.farm.endpoints.redis else ():
            key = ("redis", node.name)
            out += [GraphSeries(f"{node.name} ops", "/s",
                                h.rate_series(key, "total_commands_processed")),
                    GraphSeries(f"{node.name} hit ratio", "%",
                                h.ratio_series(key, "keyspace_hits", "keyspace_misses"),
                                "cache_hit_ratio")]
        return out

    def _slow(self, key: tuple[str, str], address: str, seconds: float
              ) -> tuple[Any, SourceHealth]:
        """A source still running after the patience: its previous row (or an empty one),
        at least a warning, with a health saying how long it has been silent."""
        kind, name = key
        health = slow_health(name, seconds)
        previous = self._poll.last.get(key)
        if previous is not None:
            row = previous[0]
            return dataclasses.replace(row, level=max(row.level, Level.WARNING)), health
        if kind == "varnish":
            return VarnishStats(name, False, health.error, level=Level.WARNING), health
        if kind == "redis":
            return RedisStats(name, address, False, health.error, level=Level.WARNING,
                              health="slow"), health
        return SentinelView(name, address, False, health.error, level=Level.WARNING), health

    def collect(self) -> CachesSnapshot:
        endpoints = self.farm.endpoints
        calls: dict[tuple[str, str], Callable[[], tuple[Any, SourceHealth]]] = {}
        addresses: dict[tuple[str, str], str] = {}
        for i in endpoints.varnish.instances if endpoints.varnish else ():
            calls[("varnish", i.name)] = partial(self._varnish, i)
            addresses[("varnish", i.name)] = ""
        if endpoints.redis:
            for n in endpoints.redis.instances:
                calls[("redis", n.name)] = partial(self._redis, endpoints.redis, n)
                addresses[("redis", n.name)] = n.address
            for n in endpoints.redis.sentinels:
                calls[("sentinel", n.name)] = partial(self._sentinel, endpoints.redis, n)
                addresses[("sentinel", n.name)] = n.address
        done, pending = self._poll.gather(calls, self.patience)
        rows = {key: done[key] if key in done else self._slow(key, addresses[key], pending[key])
                for key in calls}
        varnish = [r for (kind, _), r in rows.items() if kind == "varnish"]
        redis = [r for (kind, _), r in rows.items() if kind == "redis"]
        sentinels = [r for (kind, _), r in rows.items() if kind == "sentinel"]
        sources = tuple(h for _, h in (*varnish, *redis, *sentinels))
        if not sources:
            sources = (SourceHealth("caches", "disabled", "no endpoints.varnish or .redis"),)
        return CachesSnapshot(sources, tuple(v for v, _ in varnish), tuple(r for r, _ in redis),
                              tuple(s for s, _ in sentinels))
