"""Enter on a site: its visitors over the last 5 minutes, as GoAccess shows them for one
site: the 1- and 5-minute figures, sparklines per 10 seconds (requests/s, p95, 5xx),
the top URLs, statuses and client addresses. `b` bans the selected client through the
CrowdSec ban action, `p` purges the site (both the action screens: plan, confirmation,
dry run, audit). The figures are the Sites collector's (status/traffic.py); this screen
only shows the latest of them, every refresh interval.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Sparkline, Static

from wpfarm_tui.status.model import SiteRow
from wpfarm_tui.status.traffic_model import TrafficFigures

Source = Callable[[], SiteRow | None]
OpenAction = Callable[[str, dict[str, str]], None]


def _n(value: float | None, fmt: str = "{:.1f}") -> str:
    return "—" if value is None else fmt.format(value)


def figures_line(label: str, f: TrafficFigures) -> str:
    return (f"{label}: {f.requests:,} requests, {f.rps:,.2f}/s · hit {_n(f.hit_pct)} % · "
            f"miss {_n(f.miss_pct)} % · pass {_n(f.pass_pct)} % · 4xx {_n(f.s4_pct)} % · "
            f"5xx {_n(f.s5_pct)} % · p50/p95/p99 {_n(f.p50_ms, '{:.0f}')}/"
            f"{_n(f.p95_ms, '{:.0f}')}/{_n(f.p99_ms, '{:.0f}')} ms · "
            f"{f.bytes_s / 1024:,.1f} KiB/s")


class SiteScreen(Screen[None]):
    DEFAULT_CSS = """
    SiteScreen #site-title { height: 1; background: $panel; }
    SiteScreen .site-figures { height: auto; padding: 0 1; }
    SiteScreen .spark-label { height: 1; padding: 0 1; color: $text-muted; }
    SiteScreen Sparkline { height: 2; margin: 0 1; }
    SiteScreen #site-tops { height: 1fr; }
    SiteScreen #site-tops DataTable { width: 1fr; height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("b", "ban", "Ban client"),
        Binding("p", "purge", "Purge site"),
    ]

    def __init__(self, domain: str, source: Source, open_action: OpenAction,
                 interval: float = 2.0) -> None:
        super().__init__()
        self.domain = domain
        self.source = source
        self.open_action = open_action
        self.interval = interval

    def compose(self) -> ComposeResult:
        yield Static(f" {self.domain}: its visitors over the last 5 minutes, from the edge's "
                     "access log", id="site-title", markup=False)
        yield Static("", id="site-m1", classes="site-figures", markup=False)
        yield Static("", id="site-m5", classes="site-figures", markup=False)
        for key, label in (("rps", "requests/s"), ("p95", "p95 ms"), ("s5", "5xx")):
            yield Static(f"{label}, per 10 s", classes="spark-label", id=f"label-{key}")
            yield Sparkline([], id=f"spark-{key}")
        with Horizontal(id="site-tops"):
            for key in ("paths", "status", "clients"):
                with Vertical():
                    yield DataTable(id=f"top-{key}", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        for key, first in (("paths", "Top URL"), ("status", "Top status"),
                           ("clients", "Top client")):
            self.query_one(f"#top-{key}", DataTable).add_columns(first, "Requests")
        self.redraw()
        self.set_interval(self.interval, self.redraw)
        self.query_one("#top-clients", DataTable).focus()

    def redraw(self) -> None:
        row = self.source()
        t = row.traffic if row else None
        m1, m5 = self.query_one("#site-m1", Static), self.query_one("#site-m5", Static)
        if t is None:
            m1.update("No traffic figures: the site is gone, or the farm has no "
                      "endpoints.traefik.access_log.")
            m5.update("")
            return
        m1.update(figures_line("last minute", t.m1))
        m5.update(figures_line("5 minutes", t.m5))
        self.query_one("#spark-rps", Sparkline).data = list(t.rps_series)
        self.query_one("#spark-p95", Sparkline).data = [v or 0.0 for v in t.p95_series]
        self.query_one("#spark-s5", Sparkline).data = [float(v) for v in t.s5_series]
        for key, rows in (("paths", t.top_paths), ("status", t.top_status),
                          ("clients", t.top_clients)):
            table = self.query_one(f"#top-{key}", DataTable)
            shown = [(str(k), f"{v:,}") for k, v in rows]
            current = [tuple(str(c) for c in table.get_row_at(i))
                       for i in range(table.row_count)]
            if shown != current:  # rebuilt only when it changed: the cursor stays put
                cursor = table.cursor_row
                table.clear()
                for k, v in shown:
                    table.add_row(k, v, key=k)
                if shown:
                    table.move_cursor(row=min(cursor, len(shown) - 1))

    def selected_client(self) -> str | None:
        table = self.query_one("#top-clients", DataTable)
        if table.row_count == 0:
            return None
        return str(table.get_row_at(table.cursor_row)[0])

    def action_ban(self) -> None:
        client = self.selected_client()
        if not client:
            self.app.bell()
            return
        self.open_action("ban", {"ip": client,
                                 "reason": f"manual: abuse of {self.domain} (site screen)"})

    def action_purge(self) -> None:
        self.open_action("cache-purge", {"domain": self.domain})
