"""Alerts: everything past a warning/critical threshold and every source down, from the
snapshots the console already has, newest first; Enter opens the procedure that fits."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from wpfarm_tui.actions.catalog import Alert
from wpfarm_tui.widgets import cells as c
from wpfarm_tui.widgets.cells import Palette
from wpfarm_tui.widgets.keyed_table import KeyedTable

COLUMNS = (
    ("level", "Lvl"),
    ("at", "Checked"),
    ("pane", "Pane"),
    ("subject", "Subject"),
    ("message", "What"),
    ("procedure", "Procedure (Enter)"),
)


class AlertsPane(Vertical):
    DEFAULT_TITLE = "Alerts"

    class OpenProcedure(Message):
        def __init__(self, alert: Alert) -> None:
            super().__init__()
            self.alert = alert

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane")
        self.alerts: list[Alert] = []
        self.palette = Palette()

    def compose(self) -> ComposeResult:
        yield Static("", classes="pane-summary", id="alerts-summary")
        yield KeyedTable(COLUMNS, title="Alerts, newest first", id="alerts-table")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#alerts-table", KeyedTable)

    def show(self, alerts: Sequence[Alert], palette: Palette | None = None) -> None:
        self.alerts = list(alerts)
        if palette is not None:
            self.palette = palette
        if not self.query("#alerts-table"):
            return
        rows = [(a.key, self._cells(a)) for a in self.alerts]
        self.table.sync(rows)
        fixable = sum(1 for a in self.alerts if a.procedure)
        summary = (f"{len(self.alerts)} alert(s); {fixable} with a procedure: select one and "
                   "press Enter" if self.alerts else "No alerts: every value is within its "
                   "thresholds and every source answers.")
        self.query_one("#alerts-summary", Static).update(summary)

    def on_mount(self) -> None:
        self.show(self.alerts)

    def _cells(self, a: Alert) -> tuple[Text, ...]:
        colour = self.palette.of(a.level)
        return (
            c.level_cell(a.level, self.palette),
            c.text(time.strftime("%H:%M:%SZ", time.gmtime(a.at)) if a.at else None),
            c.text(a.pane),
            c.text(a.subject, style="bold"),
            c.clip(a.message, style=colour),
            c.text(a.procedure_title or None),
        )

    def selected(self) -> Alert | None:
        key = self.table._cursor_key()
        return next((a for a in self.alerts if a.key == key), None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row (DataTable's own binding) opens the row's procedure."""
        event.stop()
        self.action_open_procedure()

    def action_open_procedure(self) -> None:
        alert = self.selected()
        if alert is None or not alert.procedure:
            self.app.bell()
            return
        self.post_message(self.OpenProcedure(alert))
