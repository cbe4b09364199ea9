"""Alerts: incidents, each a probable cause with the alerts it explains folded under it
(status/incidents.py decides the grouping), worst and newest first. Enter on an incident
or on one of its symptoms opens the cause's procedure, or says that none fits."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from wpfarm_tui.actions.catalog import BY_NAME
from wpfarm_tui.status.incidents import AlertLike, Incident
from wpfarm_tui.widgets import cells as c
from wpfarm_tui.widgets.cells import Palette
from wpfarm_tui.widgets.keyed_table import KeyedTable

COLUMNS = (
    ("level", "Lvl"),
    ("at", "Checked"),
    ("cause", "Incident / symptom"),
    ("what", "What"),
    ("procedure", "Procedure (Enter)"),
)
SHOWN_SYMPTOMS = 5  # rows folded under an incident; the rest are counted
SYMPTOM = "::"  # a symptom row's key: <incident key>::<alert key>


def procedure_title(incident: Incident) -> str:
    return BY_NAME[incident.procedure].title if incident.procedure in BY_NAME else ""


class AlertsPane(Vertical):

    class OpenProcedure(Message):
        def __init__(self, incident: Incident) -> None:
            super().__init__()
            self.incident = incident

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane")
        self.incidents: list[Incident] = []
        self.palette = Palette()

    def compose(self) -> ComposeResult:
        yield Static("", classes="pane-summary", id="alerts-summary")
        yield KeyedTable(COLUMNS, title="Incidents, worst and newest first", id="alerts-table")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#alerts-table", KeyedTable)

    def show(self, incidents: Sequence[Incident], palette: Palette | None = None) -> None:
        self.incidents = list(incidents)
        if palette is not None:
            self.palette = palette
        if not self.query("#alerts-table"):
            return
        rows: list[tuple[str, tuple[Text, ...]]] = []
        for inc in self.incidents:
            rows.append((inc.key, self._incident_cells(inc)))
            if len(inc.symptoms) < 2:
                continue  # its one alert is what the incident row says
            shown = inc.symptoms[:SHOWN_SYMPTOMS]
            for i, a in enumerate(shown):
                last = i == len(shown) - 1 and len(inc.symptoms) <= SHOWN_SYMPTOMS
                rows.append((f"{inc.key}{SYMPTOM}{a.key}", self._symptom_cells(a, last)))
            if len(inc.symptoms) > SHOWN_SYMPTOMS:
                more = len(inc.symptoms) - SHOWN_SYMPTOMS
                rows.append((f"{inc.key}{SYMPTOM}more", (
                    Text(""), Text(""), c.text(f"  └ … and {more} more", style="dim"),
                    Text(""), Text(""))))
        table = self.table
        table.sync(rows)
        if table.sort_column is None:
            # A sync appends new rows; here the order is the meaning (worst first, the
            # symptoms under their cause): re-lay when it changed.
            wanted = [key for key, _ in rows if key in table.rows]
            if wanted != table.row_keys:
                table._relay(wanted)
        alerts = sum(len(i.symptoms) for i in self.incidents)
        fixable = sum(1 for i in self.incidents if i.procedure)
        summary = (f"{len(self.incidents)} incident(s) from {alerts} alert(s); {fixable} with "
                   "a procedure: select one and press Enter" if self.incidents else
                   "No alerts: every value is within its thresholds and every source "
                   "answers.")
        self.query_one("#alerts-summary", Static).update(summary)

    def on_mount(self) -> None:
        self.show(self.incidents)

    def _incident_cells(self, inc: Incident) -> tuple[Text, ...]:
        colour = self.palette.of(inc.level)
        n = len(inc.symptoms)
        if n == 1:
            what = inc.symptoms[0].message
        else:
            what = f"{n} alerts" + (f": {inc.evidence[0]}" if inc.evidence else "")
        return (
            c.level_cell(inc.level, self.palette),
            c.text(time.strftime("%H:%M:%SZ", time.gmtime(inc.at)) if inc.at else None),
            c.clip(inc.cause, style=f"bold {colour}"),
            c.clip(what),
            c.text(procedure_title(inc) or "none: see the evidence",
                   style="" if inc.procedure else "dim"),
        )

    def _symptom_cells(self, a: AlertLike, last: bool) -> tuple[Text, ...]:
        return (
            c.level_cell(a.level, self.palette),
            Text(""),
            c.text(f"  {'└' if last else '├'} {a.subject}"),
            c.clip(a.message, style=self.palette.of(a.level)),
            Text(""),
        )

    def selected(self) -> Incident | None:
        """The incident of the row under the cursor (a symptom row selects its incident)."""
        key = self.table.cursor_key()
        if key is None:
            return None
        key = key.split(SYMPTOM, 1)[0]
        return next((i for i in self.incidents if i.key == key), None)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row (DataTable's own binding) opens the incident's procedure."""
        event.stop()
        self.action_open_procedure()

    def action_open_procedure(self) -> None:
        incident = self.selected()
        if incident is None:
            self.app.bell()
            return
        if not incident.procedure:
            # Say so rather than guess: the evidence and what to do by hand.
            hint = "; ".join((*incident.evidence[:3], *incident.advice)) or "see the symptoms"
            self.app.notify(f"No procedure fits {incident.cause}: {hint}",
                            title="No procedure", severity="warning", timeout=8)
            return
        self.post_message(self.OpenProcedure(incident))
