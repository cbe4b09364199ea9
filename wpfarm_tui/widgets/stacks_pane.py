"""Stacks: each layer's services with desired vs running replicas, from the Docker API."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from wpfarm_tui.stacks.deploy import LAYERS, ServiceState

COLUMNS = ("Layer", "Service", "Running", "Desired", "Update", "Last error")


def layer_of(service: str) -> str:
    """`db_mariadb-1` -> `db` (the layer whose stack is the service's prefix)."""
    stack = service.split("_", 1)[0]
    for layer, stacks in LAYERS.items():
        if any(name == stack for name, _file in stacks):
            return layer
    return "-"


class StacksPane(Vertical):
    """Rows keyed by service name; `show(states)` updates them in place, `show_error` says
    why the Docker API could not be read (the rows stay, marked stale)."""

    DEFAULT_CSS = """
    StacksPane { height: 1fr; }
    StacksPane #stacks-error { color: $error; height: auto; }
    StacksPane DataTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="stacks-error", markup=False)
        table = DataTable(id="stacks-table", cursor_type="row", zebra_stripes=True)
        table.border_title = "Layers and services"
        yield table

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name.lower())

    def show(self, states: Sequence[ServiceState]) -> None:
        self.query_one("#stacks-error", Static).update("")
        table = self.query_one(DataTable)
        order = {layer: i for i, layer in enumerate(LAYERS)}
        rows = sorted(states, key=lambda s: (order.get(layer_of(s.name), 99), s.name))
        wanted = {s.name for s in rows}
        for key in [k.value for k in table.rows if k.value not in wanted]:
            table.remove_row(key)
        for s in rows:
            ok = s.desired > 0 and s.running == s.desired
            style = "green" if ok else ("yellow" if s.running else "bold red")
            cells = (layer_of(s.name), Text(s.name, style="bold"),
                     Text(str(s.running), style=style, justify="right"),
                     Text(str(s.desired), justify="right"), s.update_state or "",
                     Text((s.error or "")[:80], style="red" if s.error and not ok else "dim"))
            if s.name in {k.value for k in table.rows}:
                for col, value in zip(COLUMNS, cells, strict=True):
                    table.update_cell(s.name, col.lower(), value)
            else:
                table.add_row(*cells, key=s.name)

    def show_error(self, message: str) -> None:
        self.query_one("#stacks-error", Static).update(f"Docker API: {message} (rows stale)")
