"""Backups: per site, the last database and files backup and their age against the RPO.

`Enter` on a site asks the app to open the restore screen for it (the
`RestoreRequested` message); the pane itself starts nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from wpfarm_tui.status.backups import (
    DB_RPO_S,
    FILES_MAX_AGE_S,
    BackupsSnapshot,
    SiteBackups,
    db_level,
    files_level,
)
from wpfarm_tui.widgets import cells as c
from wpfarm_tui.widgets.base_pane import BasePane, set_text
from wpfarm_tui.widgets.keyed_table import KeyedTable

COLUMNS = (
    ("level", "Lvl"),
    ("domain", "Site"),
    ("db", "DB snapshot"),
    ("db_age", "DB age", "right"),
    ("db_size", "DB size", "right"),
    ("files", "Files snapshot"),
    ("files_age", "Files age", "right"),
    ("files_size", "Files size", "right"),
    ("count", "Snaps", "right"),
    ("note", "Note"),
)


class BackupsPane(BasePane):
    PANE = "backups"

    BINDINGS = [*BasePane.BINDINGS, Binding("R", "restore", "Restore site")]

    class RestoreRequested(Message):
        def __init__(self, domain: str) -> None:
            super().__init__()
            self.domain = domain

    def __init__(self, *args, clock: Callable[[], float] = time.time, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock  # ages are shown as the collector measured them

    def compose_body(self) -> Iterator[Widget]:
        yield Static("", classes="pane-summary", id="backups-summary", markup=False)
        yield KeyedTable(COLUMNS, title="Site backups (RPO: db 1 h, files 24 h)",
                         id="backups-table")

    def render_snapshot(self, snapshot: BackupsSnapshot, degraded: bool) -> None:
        set_text(self.query_one("#backups-summary", Static), self._summary(snapshot))
        table = self.query_one("#backups-table", KeyedTable)
        self.sync_table(table, snapshot.sites, lambda r: r.domain, self._cells, degraded)

    def _summary(self, snap: BackupsSnapshot) -> Text:
        out = Text()
        out.append(f"{c.marker(snap.level)} {c.tag(snap.level)}  ",
                   style=f"bold {self.colour(snap.level)}")
        out.append(f"repository {snap.repository or c.DASH}   {snap.total_snapshots} snapshots")
        late_db = sum(1 for r in snap.sites if r.db_age_s is None or r.db_age_s > DB_RPO_S)
        late_files = sum(1 for r in snap.sites
                         if r.files_age_s is None or r.files_age_s > FILES_MAX_AGE_S)
        for n, what, level in ((late_db, "past the DB RPO", db_level(None)),
                               (late_files, "files older than 24 h", files_level(1e12))):
            if n:
                out.append(f"   {n} {what}", style=f"bold {self.colour(level)}")
        return out

    def _cells(self, row: SiteBackups) -> tuple[Text, ...]:
        return (
            c.level_cell(row.level, self.palette),
            c.text(row.domain, style="bold"),
            c.text(row.db_snapshot),
            c.duration(row.db_age_s, style=self.colour(db_level(row.db_age_s))),
            c.bytes_human(row.db_size),
            c.text(row.files_snapshot),
            c.duration(row.files_age_s, style=self.colour(files_level(row.files_age_s))),
            c.bytes_human(row.files_size),
            c.number(row.snapshots),
            c.clip(row.note, 40, style=self.colour(row.level) if row.note else ""),
        )

    def action_restore(self) -> None:
        table = self.query_one("#backups-table", KeyedTable)
        if table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key:
            self.post_message(self.RestoreRequested(str(key)))
