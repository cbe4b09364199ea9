"""CrowdSec: the active decisions (bans and captchas) from the LAPI."""

from __future__ import annotations

from collections.abc import Iterator

from rich.text import Text
from textual.widget import Widget

from wpfarm_tui.status.model import Ban, BansSnapshot
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.widgets import cells as c
from wpfarm_tui.widgets.base_pane import BasePane
from wpfarm_tui.widgets.keyed_table import KeyedTable

COLUMNS = (
    ("id", "ID", "right"),
    ("value", "Value"),
    ("scope", "Scope"),
    ("type", "Type"),
    ("origin", "Origin"),
    ("reason", "Reason"),
    ("expires", "Expires in", "right"),
)


class BansPane(BasePane):
    PANE = "bans"

    def compose_body(self) -> Iterator[Widget]:
        yield KeyedTable(COLUMNS, title="Decisions", id="bans-table")

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#bans-table", KeyedTable)

    def render_snapshot(self, snapshot: BansSnapshot, degraded: bool) -> None:
        rate = snapshot.new_per_minute
        if rate is not None and rate.value is not None:
            self.table.set_title(f"Decisions · {rate.value:.0f} new/min ·")
        self.sync_table(self.table, snapshot.bans, _key, self._cells, degraded)

    def _cells(self, ban: Ban) -> tuple[Text, ...]:
        kind = Level.CRITICAL if ban.type == "ban" else Level.WARNING
        return (
            c.number(ban.id, "{}"),
            c.text(ban.value, style="bold"),
            c.text(ban.scope),
            c.text(ban.type, style=self.colour(kind)),
            c.text(ban.origin),
            c.clip(ban.reason, 40),
            _right(ban.expires_in),
        )


def _key(ban: Ban) -> str:
    return str(ban.id)


def _right(value: str | None) -> Text:
    out = c.text(value)
    out.justify = "right"
    return out
