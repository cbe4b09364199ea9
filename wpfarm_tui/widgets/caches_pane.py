"""Caches: Varnish instances, Redis instances and the Sentinels' view of the master."""

from __future__ import annotations

from collections.abc import Iterator

from rich.text import Text
from textual.widget import Widget

from wpfarm_tui.status.model import CachesSnapshot, RedisStats, SentinelView, VarnishStats
from wpfarm_tui.status.rates import Rate
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.widgets import cells as c
from wpfarm_tui.widgets.base_pane import BasePane
from wpfarm_tui.widgets.keyed_table import KeyedTable

VARNISH_COLUMNS = (
    ("level", "Lvl"),
    ("name", "Varnish"),
    ("reachable", "Up"),
    ("req", "Req/s", "right"),
    ("hit_1m", "Hit% 1m", "right"),
    ("hit_5m", "Hit% 5m", "right"),
    ("hit", "Hit% all", "right"),
    ("pass", "Pass/s", "right"),
    ("backend_fail", "Bfail/s", "right"),
    ("lru", "LRU/s", "right"),
    ("objects", "Objects", "right"),
    ("uptime", "Uptime", "right"),
    ("error", "Error"),
)
REDIS_COLUMNS = (
    ("level", "Lvl"),
    ("name", "Redis"),
    ("address", "Address"),
    ("role", "Role"),
    ("ops", "Ops/s", "right"),
    ("hit_1m", "Hit% 1m", "right"),
    ("hit", "Hit% all", "right"),
    ("evicted", "Evict/s", "right"),
    ("used", "Memory", "right"),
    ("mem", "Mem %", "right"),
    ("clients", "Clients", "right"),
    ("link", "Link"),
    ("error", "Error"),
)
SENTINEL_COLUMNS = (
    ("level", "Lvl"),
    ("name", "Sentinel"),
    ("address", "Address"),
    ("master", "Master name"),
    ("master_address", "Master at"),
    ("flags", "Flags"),
    ("replicas", "Replicas", "right"),
    ("sentinels", "Sentinels", "right"),
    ("quorum", "Quorum", "right"),
    ("error", "Error"),
)


class CachesPane(BasePane):
    PANE = "caches"

    def compose_body(self) -> Iterator[Widget]:
        yield KeyedTable(VARNISH_COLUMNS, title="Varnish", id="varnish-table", classes="compact")
        yield KeyedTable(REDIS_COLUMNS, title="Redis", id="redis-table", classes="compact")
        yield KeyedTable(SENTINEL_COLUMNS, title="Sentinels", id="sentinels-table")

    def render_snapshot(self, snapshot: CachesSnapshot, degraded: bool) -> None:
        q = self.query_one
        self.sync_table(q("#varnish-table", KeyedTable), snapshot.varnish, _name,
                        self._varnish_cells, degraded)
        self.sync_table(q("#redis-table", KeyedTable), snapshot.redis, _name,
                        self._redis_cells, degraded)
        self.sync_table(q("#sentinels-table", KeyedTable), snapshot.sentinels, _name,
                        self._sentinel_cells, degraded)

    def _error(self, error: str | None) -> Text:
        return c.clip(error, 40, style=self.colour(Level.CRITICAL) if error else "")

    def _hit_style(self, value: Rate | None) -> str:
        return self.colour(self.threshold_level("cache_hit_ratio", value.value)) if (
            value is not None and value.value is not None) else ""

    def _varnish_cells(self, v: VarnishStats) -> tuple[Text, ...]:
        failing = v.backend_failures_per_s is not None and bool(v.backend_failures_per_s.value)
        return (
            c.level_cell(v.level, self.palette),
            c.text(v.name, style="bold"),
            c.yes_no(v.reachable, self.palette),
            c.rate(v.requests_per_s),
            c.rate(v.hit_ratio_1m, style=self._hit_style(v.hit_ratio_1m)),
            c.rate(v.hit_ratio_5m, style=self._hit_style(v.hit_ratio_5m)),
            c.ratio(v.hit_ratio),  # since start: context, not the threshold's input
            c.rate(v.pass_per_s),
            c.rate(v.backend_failures_per_s,
                   style=self.colour(Level.WARNING) if failing else ""),
            c.rate(v.lru_evictions_per_s),
            c.number(v.objects),
            c.duration(v.uptime_s),
            self._error(v.error),
        )

    def _redis_cells(self, r: RedisStats) -> tuple[Text, ...]:
        link_level = Level.OK if r.master_link in (None, "up") else Level.CRITICAL
        return (
            c.level_cell(r.level, self.palette),
            c.text(r.name, style="bold"),
            c.text(r.address),
            c.text(r.role, style="bold" if r.role == "master" else ""),
            c.rate(r.ops_per_s),
            c.rate(r.hit_ratio_1m, style=self._hit_style(r.hit_ratio_1m)),
            c.ratio(r.hit_ratio),
            c.rate(r.evicted_per_s),
            c.bytes_human(r.used_memory),
            c.ratio(r.memory_pct, style=self.colour(self.threshold_level("cache_memory",
                                                                          r.memory_pct))),
            c.number(r.connected_clients),
            c.text(r.master_link, style=self.colour(link_level) if r.master_link else ""),
            self._error(r.error),
        )

    def _sentinel_cells(self, s: SentinelView) -> tuple[Text, ...]:
        flags_level = Level.OK if s.master_flags == "master" else Level.CRITICAL
        return (
            c.level_cell(s.level, self.palette),
            c.text(s.name, style="bold"),
            c.text(s.address),
            c.text(s.master_name),
            c.text(s.master_address),
            c.text(s.master_flags, style=self.colour(flags_level) if s.master_flags else ""),
            c.number(s.replicas),
            c.number(s.other_sentinels),
            c.number(s.quorum),
            self._error(s.error),
        )


def _name(row: VarnishStats | RedisStats | SentinelView) -> str:
    return row.name
