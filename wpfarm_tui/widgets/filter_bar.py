"""The `/` filter input shown at the bottom of a pane.

It posts messages and never touches the table itself: the pane applies the
filter. Typing filters live, Enter keeps the filter (the bar stays visible
to show it), Escape clears the filter and hides the bar.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    BINDINGS = [Binding("escape", "clear_filter", "Clear filter", show=True)]

    DEFAULT_CSS = """
    FilterBar { display: none; }
    FilterBar.-open { display: block; }
    """

    class FilterChanged(Message):
        """The filter text changed (live, on every key)."""

        def __init__(self, bar: FilterBar, value: str) -> None:
            super().__init__()
            self.bar = bar
            self.value = value

    class FilterKept(Message):
        """Enter: keep the filter, give the focus back to the table."""

        def __init__(self, bar: FilterBar, value: str) -> None:
            super().__init__()
            self.bar = bar
            self.value = value

    class FilterCleared(Message):
        """Escape: the filter is gone and the bar hidden."""

        def __init__(self, bar: FilterBar) -> None:
            super().__init__()
            self.bar = bar

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="filter rows…  Enter keep · Esc clear", id=id)
        self.target_id: str | None = None  # the table this bar filters

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def open(self, target_id: str | None) -> None:
        self.target_id = target_id
        self.add_class("-open")
        self.focus()

    def close(self) -> None:
        self.remove_class("-open")
        with self.prevent(Input.Changed):
            self.value = ""

    def action_clear_filter(self) -> None:
        self.close()
        self.post_message(self.FilterCleared(self))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.FilterChanged(self, event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.action_clear_filter()
            return
        self.post_message(self.FilterKept(self, event.value))
