"""Edge: Traefik's routers and a summary line (version, services in error)."""

from __future__ import annotations

from collections.abc import Iterator

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from wpfarm_tui.status.model import EdgeSnapshot, Router
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.widgets import cells as c
from wpfarm_tui.widgets.base_pane import BasePane, set_text
from wpfarm_tui.widgets.keyed_table import KeyedTable

COLUMNS = (
    ("level", "Lvl"),
    ("name", "Router"),
    ("req", "Req/s", "right"),
    ("4xx", "4xx/s", "right"),
    ("5xx", "5xx/s", "right"),
    ("mean", "ms 1m", "right"),
    ("p95", "p95 1m", "right"),
    ("rule", "Rule"),
    ("service", "Service"),
    ("entrypoints", "Entrypoints"),
    ("status", "Status"),
    ("provider", "Provider"),
    ("error", "Error"),
)


class EdgePane(BasePane):
    PANE = "edge"

    def compose_body(self) -> Iterator[Widget]:
        yield Static("", classes="pane-summary", id="edge-summary", markup=False)
        yield KeyedTable(COLUMNS, title="Traefik routers", id="routers-table")

    def render_snapshot(self, snapshot: EdgeSnapshot, degraded: bool) -> None:
        set_text(self.query_one("#edge-summary", Static), self._summary(snapshot))
        table = self.query_one("#routers-table", KeyedTable)
        self.sync_table(table, snapshot.routers, lambda r: r.name, self._cells, degraded)

    def _summary(self, snap: EdgeSnapshot) -> Text:
        out = Text()
        out.append(f"{c.marker(snap.level)} {c.tag(snap.level)}  ",
                   style=f"bold {self.colour(snap.level)}")
        out.append(f"Traefik {snap.version or c.DASH}")
        enabled = sum(1 for r in snap.routers if r.status == "enabled")
        out.append(f"   routers {enabled} / {len(snap.routers)} enabled")
        total = c.DASH if snap.services_total is None else str(snap.services_total)
        out.append(f"   services {total}")
        errors = snap.services_errors
        if errors is not None:
            level = Level.WARNING if errors else Level.OK
            out.append(f"   {errors} with errors", style=f"bold {self.colour(level)}")
        return out

    def _cells(self, router: Router) -> tuple[Text, ...]:
        status_level = {"enabled": Level.OK, "warning": Level.WARNING}.get(
            router.status, Level.CRITICAL)
        return (
            c.level_cell(router.level, self.palette),
            c.text(router.name, style="bold"),
            c.rate(router.requests_per_s),
            c.rate(router.errors_4xx_per_s),
            c.rate(router.errors_5xx_per_s, style=self.colour(Level.CRITICAL) if (
                router.errors_5xx_per_s and router.errors_5xx_per_s.value) else ""),
            c.number(router.latency_ms_1m, "{:.0f}"),
            c.number(router.p95_ms_1m, "{:.0f}", style=self.colour(
                self.threshold_level("response_time_ms", router.p95_ms_1m))
                if router.p95_ms_1m is not None else ""),
            c.clip(router.rule, 32),
            c.text(router.service),
            c.text(",".join(router.entrypoints)),
            c.text(router.status, style=self.colour(status_level)),
            c.text(router.provider),
            c.clip(router.error, 40,
                   style=self.colour(Level.CRITICAL) if router.error else ""),
        )
