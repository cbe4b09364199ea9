"""`?`: a modal listing the keys. Escape (or ? or q) closes it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """The bindings, as (keys, what they do) rows given by the app."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, rows: Sequence[tuple[str, str]], title: str = "Keys") -> None:
        super().__init__()
        self.rows = tuple(rows)
        self.title_text = title

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 3))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for keys, what in self.rows:
            table.add_row(Text(keys), Text(what))
        with VerticalScroll(id="help-box") as box:
            box.border_title = self.title_text
            box.border_subtitle = "Esc closes"
            yield Static(table, id="help-keys")

    def action_close(self) -> None:
        self.dismiss(None)
