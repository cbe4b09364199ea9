"""Sites: one row per WordPress site, from the registry and the edge probe."""

from __future__ import annotations

from collections.abc import Iterator

from rich.text import Text
from textual.widget import Widget

from wpfarm_tui.status.model import SiteRow, SitesSnapshot
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.widgets import cells as c
from wpfarm_tui.widgets.base_pane import BasePane
from wpfarm_tui.widgets.keyed_table import KeyedTable

COLUMNS = (
    ("level", "Lvl"),
    ("domain", "Domain"),
    ("state", "State"),
    ("http", "HTTP", "right"),
    ("ttfb", "TTFB ms", "right"),
    ("cache", "Cache"),
    ("hit", "Hit %", "right"),
    ("db_size", "DB size", "right"),
    ("error", "Error"),
)


class SitesPane(BasePane):
    PANE = "sites"
    DEFAULT_TITLE = "Sites"

    def compose_body(self) -> Iterator[Widget]:
        yield KeyedTable(COLUMNS, title="Sites", id="sites-table")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#sites-table", KeyedTable)

    def render_snapshot(self, snapshot: SitesSnapshot, degraded: bool) -> None:
        self.sync_table(self.table, snapshot.sites, _key, self._cells, degraded)

    def _cells(self, site: SiteRow) -> tuple[Text, ...]:
        row_colour = self.colour(site.level)
        http_level = _http_level(site.http_status)
        state_level = Level.OK if site.state == "active" else Level.WARNING
        return (
            c.level_cell(site.level, self.palette),
            c.text(site.domain),
            c.text(site.state, style=self.colour(state_level)),
            c.number(site.http_status, "{}", style=self.colour(http_level)),
            c.number(site.ttfb_ms, "{:,.0f}", style=row_colour),
            c.text(site.cache),
            c.ratio(site.hit_ratio, style=row_colour),
            c.bytes_human(site.db_size),
            c.clip(site.error, style=self.colour(Level.CRITICAL) if site.error else ""),
        )


def _key(site: SiteRow) -> str:
    return site.domain


def _http_level(status: int | None) -> Level:
    if status is None:
        return Level.UNKNOWN
    if status >= 500:
        return Level.CRITICAL
    if status >= 400:
        return Level.WARNING
    return Level.OK
