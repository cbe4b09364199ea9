"""Sites: one row per WordPress site, from the registry and the edge probe, with the
age of its last database backup joined in from the Backups collector's snapshot."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from rich.text import Text
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from wpfarm_tui.status.model import SiteRow, SitesSnapshot
from wpfarm_tui.status.thresholds import Level, site_backup_level
from wpfarm_tui.status.traffic_model import (
    TTFB_P95_TARGET_MS,
    TrafficFigures,
    traffic_p95_level,
)
from wpfarm_tui.widgets import cells as c
from wpfarm_tui.widgets.base_pane import BasePane
from wpfarm_tui.widgets.keyed_table import KeyedTable

if TYPE_CHECKING:  # status.backups brings the restic client: the pane needs only the type
    from wpfarm_tui.status.backups import BackupsSnapshot

# Visitors' figures over the last minute (the edge's access log), then the console's own
# blackbox probe (one request: its status and time to first byte), named as such. What
# does not fit 120 columns (p50, p99, 4xx, bytes/s, 5 minutes) is on the site's screen
# and in `wpfarm traffic`.
COLUMNS = (
    ("level", "Lvl"),
    ("domain", "Domain"),
    ("state", "State"),
    ("rps", "Req/s", "right"),
    ("hit", "Hit %", "right"),
    ("pass", "Pass %", "right"),
    ("s5", "5xx %", "right"),
    ("p95", "p95 ms", "right"),
    ("http", "Probe", "right"),
    ("ttfb", "Probe ms", "right"),
    ("db_size", "DB size", "right"),
    ("backup", "DB backup", "right"),
    ("error", "Error"),
)

# What the backup column shows: (text, sort value, level). Text, not seconds, so that a
# row's cells are rebuilt only when what is shown changes (minutes, hours), not every poll.
Backup = tuple[str, float | None, Level]
UNKNOWN_BACKUP: Backup = (c.DASH, None, Level.UNKNOWN)


class SitesPane(BasePane):
    PANE = "sites"

    class SiteOpened(Message):
        """Enter on a site: the app opens its traffic screen (screens/site.py)."""

        def __init__(self, domain: str) -> None:
            super().__init__()
            self.domain = domain

    def __init__(self, *args, clock: Callable[[], float] = time.time, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock
        # domain -> epoch of its last database backup (None: never); None: not known yet.
        self._backups: dict[str, float | None] | None = None

    def compose_body(self) -> Iterator[Widget]:
        # Every site's visitors together, the p95 held against the target (hidden when
        # the farm has no traffic source).
        yield Static("", classes="pane-summary", id="sites-traffic", markup=False)
        yield KeyedTable(COLUMNS, title="Sites", id="sites-table")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#sites-table", KeyedTable)

    def set_backups(self, snapshot: BackupsSnapshot) -> None:
        """Take each site's last database backup from a Backups snapshot (the app hands
        every one over; restic is asked by that collector only).

        A repository that did not answer leaves the times already known: they are absolute,
        so their ages keep growing, which errs on the safe side.
        """
        if not snapshot.sites and any(not s.ok for s in snapshot.sources):
            return
        self._backups = {row.domain: row.db_time for row in snapshot.sites}
        if self.snapshot is not None:
            self.show(self.snapshot)

    def render_snapshot(self, snapshot: SitesSnapshot, degraded: bool) -> None:
        summary = self.query_one("#sites-traffic", Static)
        summary.display = snapshot.traffic_farm is not None
        if snapshot.traffic_farm is not None:
            summary.update(self._farm_line(snapshot.traffic_farm.m1))
        now = self.clock()
        rows = [(site, self._backup(site, now)) for site in snapshot.sites]
        self.sync_table(self.table, rows, _key, self._cells, degraded)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row (DataTable's own binding)."""
        event.stop()
        if event.row_key.value:
            self.post_message(self.SiteOpened(str(event.row_key.value)))

    def _backup(self, site: SiteRow, now: float) -> Backup:
        if self._backups is None or site.domain not in self._backups:
            return UNKNOWN_BACKUP
        taken = self._backups[site.domain]
        if taken is None:
            return ("never", math.inf, site_backup_level(None, site.state))
        age = max(0.0, now - taken)
        # Sorted by -taken: the same order as the age, and it does not change every poll.
        return (c.duration(age).plain, -taken, site_backup_level(age, site.state))

    def _cells(self, item: tuple[SiteRow, Backup]) -> tuple[Text, ...]:
        site, (backup, backup_order, backup_level) = item
        row_colour = self.colour(site.level)
        http_level = _http_level(site.http_status)
        state_level = Level.OK if site.state == "active" else Level.WARNING
        t = site.traffic.m1 if site.traffic else None
        return (
            c.level_cell(site.level, self.palette),
            c.text(site.domain),
            c.text(site.state, style=self.colour(state_level)),
            *self._traffic_cells(t),
            c.number(site.http_status, "{}", style=self.colour(http_level)),
            c.number(site.ttfb_ms, "{:,.0f}", style=row_colour),
            c.bytes_human(site.db_size),
            c.valued(backup, backup_order,
                     style="" if backup_order is None else self.colour(backup_level)),
            c.clip(site.error, style=self.colour(Level.CRITICAL) if site.error else ""),
        )


    def _farm_line(self, t: TrafficFigures) -> Text:
        out = Text()
        out.append(f"{c.marker(t.level)} {c.tag(t.level)}  ", style=f"bold {self.colour(t.level)}")
        out.append(f"visitors, last minute: {t.rps:,.1f} req/s · hit {c.plain(c.ratio(t.hit_pct))}"
                   f" % · pass {c.plain(c.ratio(t.pass_pct))} % · 5xx "
                   f"{c.plain(c.ratio(t.s5_pct))} % · p95 ")
        p95_level = traffic_p95_level(t.p95_ms, self.thresholds)
        out.append(c.plain(c.number(t.p95_ms, "{:,.0f}")) + " ms",
                   style=self.colour(p95_level) if t.p95_ms is not None else "")
        out.append(f" (target {TTFB_P95_TARGET_MS:.0f} ms)")
        return out

    def _traffic_cells(self, t: TrafficFigures | None) -> tuple[Text, ...]:
        if t is None:
            return tuple(c.text(None) for _ in range(5))
        # Coloured only once there are visitors enough to judge (status/traffic.py).
        judged = t.level != Level.UNKNOWN
        p95_level = traffic_p95_level(t.p95_ms, self.thresholds) if judged else Level.UNKNOWN
        s5_level = self.threshold_level("error_rate", t.s5_pct) if judged else Level.UNKNOWN
        return (
            c.number(t.rps, "{:,.1f}"),
            c.ratio(t.hit_pct),
            c.ratio(t.pass_pct),
            c.ratio(t.s5_pct, style=self.colour(s5_level) if judged else ""),
            c.number(t.p95_ms, "{:,.0f}", style=self.colour(p95_level) if judged else ""),
        )


def _key(item: tuple[SiteRow, Backup]) -> str:
    return item[0].domain


def _http_level(status: int | None) -> Level:
    if status is None:
        return Level.UNKNOWN
    if status >= 500:
        return Level.CRITICAL
    if status >= 400:
        return Level.WARNING
    return Level.OK
