"""Galera: the cluster summary and one row per node as that node sees it."""

from __future__ import annotations

from collections.abc import Iterator

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from wpfarm_tui.status.model import GaleraNode, GaleraSnapshot
from wpfarm_tui.status.rates import Rate
from wpfarm_tui.status.texts import credentials_fix
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.widgets import cells as c
from wpfarm_tui.widgets.base_pane import BasePane, set_text
from wpfarm_tui.widgets.keyed_table import KeyedTable

COLUMNS = (
    ("level", "Lvl"),
    ("name", "Node"),
    ("address", "Address"),
    ("reachable", "Reach"),
    ("state", "State"),
    ("status", "Status"),
    ("size", "Size", "right"),
    ("commits", "Commit/s", "right"),
    ("fc", "FC% 1m", "right"),
    ("sendq", "SendQ", "right"),
    ("recvq", "RecvQ", "right"),
    ("cert", "Cert/s", "right"),
    ("bf", "BF/s", "right"),
    ("committed", "Committed", "right"),
    ("conns", "Conn %", "right"),
    ("error", "Error"),
)


class GaleraPane(BasePane):
    PANE = "galera"
    DEFAULT_TITLE = "Galera"

    def compose_body(self) -> Iterator[Widget]:
        yield Static("", classes="pane-summary", id="galera-summary", markup=False)
        yield KeyedTable(COLUMNS, title="Galera nodes", id="galera-table")

    def render_snapshot(self, snapshot: GaleraSnapshot, degraded: bool) -> None:
        set_text(self.query_one("#galera-summary", Static), self._summary(snapshot))
        table = self.query_one("#galera-table", KeyedTable)
        self.sync_table(table, snapshot.nodes, lambda n: n.name, self._cells, degraded)

    def _summary(self, snap: GaleraSnapshot) -> Text:
        primary = snap.cluster_status == "Primary"
        size_ok = snap.cluster_size is not None and snap.cluster_size >= snap.expected_size > 0
        out = Text()
        out.append(f"{c.marker(snap.level)} {c.tag(snap.level)}  ",
                   style=f"bold {self.colour(snap.level)}")
        out.append("Cluster ")
        out.append(snap.cluster_status or c.DASH,
                   style=f"bold {self.colour(Level.OK if primary else Level.CRITICAL)}")
        out.append("   size ")
        size = "?" if snap.cluster_size is None else str(snap.cluster_size)
        out.append(f"{size} / {snap.expected_size} expected",
                   style=f"bold {self.colour(Level.OK if size_ok else Level.CRITICAL)}")
        reachable = sum(1 for n in snap.nodes if n.reachable)
        out.append(f"   reachable {reachable} / {len(snap.nodes)}")
        if snap.denied:  # up but unread: say so, and the fix (not a recovery)
            out.append(f"   credentials refused by {', '.join(snap.denied)}: "
                       f"{credentials_fix('galera')}",
                       style=f"bold {self.colour(Level.CRITICAL)}")
        return out

    def _cells(self, node: GaleraNode) -> tuple[Text, ...]:
        synced = node.local_state == "Synced"
        primary = node.cluster_status == "Primary"
        # The last minute when there is history; else the fraction since start (one-shot).
        fc = node.flow_control_1m or Rate(
            None if node.flow_control_paused is None else node.flow_control_paused * 100, 0, 0)
        fc_level = self.threshold_level("galera_flow_control_paused", fc.value)
        conn_level = self.threshold_level("db_connections", node.connections_pct)
        error_style = self.colour(Level.CRITICAL) if node.error else ""
        return (
            c.level_cell(node.level, self.palette),
            c.text(node.name, style="bold"),
            c.text(node.address),
            (Text("denied", style=self.colour(Level.CRITICAL)) if node.denied
             else c.yes_no(node.reachable, self.palette)),
            c.text(node.local_state,
                   style=self.colour(Level.OK if synced else Level.WARNING)
                   if node.local_state else ""),
            c.text(node.cluster_status,
                   style=self.colour(Level.OK if primary else Level.CRITICAL)
                   if node.cluster_status else ""),
            c.number(node.cluster_size, "{}"),
            c.rate(node.commits_per_s),
            c.rate(fc, style=self.colour(fc_level) if fc.value is not None else ""),
            c.number(node.send_queue),
            c.number(node.recv_queue),
            c.rate(node.cert_failures_per_s),
            c.rate(node.bf_aborts_per_s),
            c.number(node.last_committed),
            c.ratio(node.connections_pct, style=self.colour(conn_level)),
            c.clip(node.error, 36, style=error_style),
        )
