"""Nodes & services: the Swarm's nodes with their CPU, memory, load, disk and network from
the metrics source, and its services' desired vs running replicas."""

from __future__ import annotations

from collections.abc import Iterator

from rich.text import Text
from textual.widget import Widget

from wpfarm_tui.status.model import NodeMetrics, NodeRow, NodesSnapshot, ServiceRow
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.widgets import cells as c
from wpfarm_tui.widgets.base_pane import BasePane
from wpfarm_tui.widgets.keyed_table import KeyedTable

NODE_COLUMNS = (
    ("level", "Lvl"),
    ("hostname", "Hostname"),
    ("role", "Role"),
    ("state", "State"),
    ("availability", "Availability"),
    ("cpu", "CPU %", "right"),
    ("memory", "Mem %", "right"),
    ("load", "Load/core", "right"),
    ("disk", "Disk %", "right"),
    ("full", "Full in", "right"),
    ("net_in", "Net in", "right"),
    ("net_out", "Net out", "right"),
    ("address", "Address"),
    ("leader", "Leader"),
    ("engine", "Engine"),
    ("id", "ID"),
)
SERVICE_COLUMNS = (
    ("level", "Lvl"),
    ("name", "Service"),
    ("mode", "Mode"),
    ("running", "Running", "right"),
    ("desired", "Desired", "right"),
    ("image", "Image"),
    ("updated", "Updated"),
)


class NodesPane(BasePane):
    PANE = "nodes"

    def compose_body(self) -> Iterator[Widget]:
        yield KeyedTable(NODE_COLUMNS, title="Swarm nodes", id="nodes-table", classes="compact")
        yield KeyedTable(SERVICE_COLUMNS, title="Services", id="services-table")

    def render_snapshot(self, snapshot: NodesSnapshot, degraded: bool) -> None:
        nodes = self.query_one("#nodes-table", KeyedTable)
        services = self.query_one("#services-table", KeyedTable)
        # Series no Swarm node matched (every node's, while Docker is down) follow the nodes.
        # With its note ("metrics down"...): a row's cells are reused while both are equal.
        rows = [(r, snapshot.metrics_note(r.metrics if isinstance(r, NodeRow) else r))
                for r in (*snapshot.nodes, *snapshot.unmatched)]
        self.sync_table(nodes, rows, lambda pair: self._key(pair[0]),
                        lambda pair: self._row_cells(*pair), degraded)
        self.sync_table(services, snapshot.services, lambda s: s.id, self._service_cells,
                        degraded)

    @staticmethod
    def _key(row: NodeRow | NodeMetrics) -> str:
        return row.id if isinstance(row, NodeRow) else f"metrics:{row.instance}"

    def _row_cells(self, row: NodeRow | NodeMetrics, note: str | None) -> tuple[Text, ...]:
        if isinstance(row, NodeMetrics):
            return (c.level_cell(row.level, self.palette), c.text(row.name, style="bold"),
                    c.text(None), c.text("not in the Swarm", style="italic"), c.text(None),
                    *self._metric_cells(row, note), c.text(row.instance), c.text(None),
                    c.text(None), c.text(None))
        return self._node_cells(row, note)

    def _metric_cells(self, m: NodeMetrics | None, note: str | None) -> tuple[Text, ...]:
        if m is None:
            style = self.colour(Level.CRITICAL) if note and note.startswith("metrics ") else ""
            return (c.text(note, style=style), *(c.number(None) for _ in range(6)))

        def coloured(value: float | None, threshold: str, fmt: str) -> Text:
            return c.number(value, fmt, style=self.colour(m.levels.get(threshold, Level.OK)))

        return (
            coloured(m.cpu_pct, "cpu", "{:.0f}"),
            coloured(m.memory_pct, "memory", "{:.0f}"),
            c.number(m.load_per_core, "{:.2f}"),
            coloured(m.disk_pct, "disk", "{:.0f}"),
            coloured(m.days_until_full, "disk_days_until_full", "{:.1f} d"),
            c.bytes_per_s(m.net_in_bps),
            c.bytes_per_s(m.net_out_bps),
        )

    def _node_cells(self, node: NodeRow, note: str | None) -> tuple[Text, ...]:
        state = Level.OK if node.state == "ready" else Level.CRITICAL
        avail = Level.OK if node.availability == "active" else Level.WARNING
        return (
            c.level_cell(node.level, self.palette),
            c.text(node.hostname, style="bold"),
            c.text(node.role),
            c.text(node.state, style=self.colour(state)),
            c.text(node.availability, style=self.colour(avail)),
            *self._metric_cells(node.metrics, note),
            c.text(node.address),
            c.text("leader" if node.leader else ""),
            c.text(node.engine_version),
            c.text(node.id[:12]),
        )

    def _service_cells(self, svc: ServiceRow) -> tuple[Text, ...]:
        colour = self.colour(svc.level)
        return (
            c.level_cell(svc.level, self.palette),
            c.text(svc.name, style="bold"),
            c.text(svc.mode),
            c.number(svc.running, "{}", style=colour),
            c.number(svc.desired, "{}"),
            c.clip(svc.image, 56),
            c.text(svc.updated_at[:19].replace("T", " ") if svc.updated_at else None),
        )
