"""Nodes & services: the Swarm's nodes, and its services' desired vs running replicas."""

from __future__ import annotations

from collections.abc import Iterator

from rich.text import Text
from textual.widget import Widget

from wpfarm_tui.status.model import NodeRow, NodesSnapshot, ServiceRow
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
        self.sync_table(nodes, snapshot.nodes, lambda n: n.id, self._node_cells, degraded)
        self.sync_table(services, snapshot.services, lambda s: s.id, self._service_cells,
                        degraded)

    def _node_cells(self, node: NodeRow) -> tuple[Text, ...]:
        state = Level.OK if node.state == "ready" else Level.CRITICAL
        avail = Level.OK if node.availability == "active" else Level.WARNING
        return (
            c.level_cell(node.level, self.palette),
            c.text(node.hostname, style="bold"),
            c.text(node.role),
            c.text(node.state, style=self.colour(state)),
            c.text(node.availability, style=self.colour(avail)),
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
