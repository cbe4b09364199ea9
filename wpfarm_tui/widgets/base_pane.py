"""What every pane shares: the red source-error line, the stale marking of
tables whose source is down, the `/` filter bar, and a per-row cell cache.

A pane only shows things: `show(snapshot)` is called on the UI thread (the
app does it inside `batch_update()`), with a snapshot a worker collected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from wpfarm_tui.status.model import SourceHealth
from wpfarm_tui.status.thresholds import DEFAULT_THRESHOLDS, Level, Threshold
from wpfarm_tui.widgets.cells import Palette
from wpfarm_tui.widgets.filter_bar import FilterBar
from wpfarm_tui.widgets.keyed_table import KeyedTable

STALE_NOTE = "STALE · source down, last rows kept"


def set_text(widget: Static, content: Text | str) -> None:
    """`widget.update(content)` unless it already shows exactly that: Static.update re-lays
    the whole screen out, and most polls change nothing in a summary line."""
    if widget.content != content:
        widget.update(content)


class BasePane(Vertical):
    """A tab's content. Subclasses compose their tables and fill them in `render_snapshot`."""

    PANE: ClassVar[str] = ""

    BINDINGS = [Binding("escape", "clear_filter", "Clear filter", show=False)]

    def __init__(
        self,
        thresholds: Mapping[str, Threshold] | None = None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, classes="pane")
        self.thresholds: Mapping[str, Threshold] = thresholds or DEFAULT_THRESHOLDS
        self.snapshot: Any = None
        self.palette = Palette()
        self._cell_cache: dict[str, dict[str, tuple[Any, tuple[Any, ...]]]] = {}

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static("", classes="pane-error", markup=False)
        yield from self.compose_body()
        yield FilterBar()

    def compose_body(self) -> Iterator[Widget]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def tables(self) -> list[KeyedTable]:
        return list(self.query(KeyedTable))

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one(FilterBar)

    @property
    def error_line(self) -> Static:
        return self.query_one(".pane-error", Static)

    @property
    def level(self) -> Level:
        return self.snapshot.level if self.snapshot is not None else Level.UNKNOWN

    # ------------------------------------------------------------ showing
    def on_mount(self) -> None:
        if self.snapshot is not None:  # arrived before the pane was composed
            self.show(self.snapshot)

    def show(self, snapshot: Any) -> None:
        """Show one snapshot; failing sources are named in red, old rows kept."""
        self.snapshot = snapshot
        if not self.query(".pane-error"):
            return  # not composed yet: on_mount shows it
        failing = [s for s in snapshot.sources if not s.ok and s.state != "disabled"]
        self._show_errors(failing)
        self.set_class(bool(failing), "-degraded")
        self.render_snapshot(snapshot, degraded=bool(failing))

    def set_palette(self, palette: Palette) -> None:
        """A theme change: rebuild the coloured cells from the last snapshot."""
        if palette == self.palette:
            return
        self.palette = palette
        self._cell_cache.clear()
        if self.snapshot is not None:
            self.show(self.snapshot)

    def render_snapshot(self, snapshot: Any, degraded: bool) -> None:  # pragma: no cover
        raise NotImplementedError

    def _show_errors(self, failing: list[SourceHealth]) -> None:
        line = self.error_line
        if not failing:
            set_text(line, "")
            line.display = False
            return
        text = Text()
        for i, source in enumerate(failing):
            if i:
                text.append("   ")
            text.append(f"✖ {source.name} {source.state.upper()}", style="bold")
            if source.error:
                text.append(f": {source.error}")
        set_text(line, text)
        line.tooltip = text.plain
        line.display = True

    def sync_table(
        self,
        table: KeyedTable,
        rows: Iterable[Any],
        key: Callable[[Any], str],
        cells: Callable[[Any], tuple[Any, ...]],
        degraded: bool,
    ) -> None:
        """Sync `table` from model rows, reusing the cells of rows that did not change.

        When the pane's sources are failing and the snapshot brought no rows for
        this table, the last rows are kept and marked stale instead of vanishing.
        """
        rows = list(rows)
        if not rows and degraded and table.all_row_count:
            table.set_stale(True, STALE_NOTE)
            return
        cache = self._cell_cache.setdefault(table.id or "", {})
        fresh: dict[str, tuple[Any, tuple[Any, ...]]] = {}
        out = []
        for row in rows:
            k = key(row)
            hit = cache.get(k)
            built = hit[1] if hit is not None and (hit[0] is row or hit[0] == row) else cells(row)
            fresh[k] = (row, built)
            out.append((k, built))
        self._cell_cache[table.id or ""] = fresh
        table.sync(out)
        table.set_stale(False)

    def threshold_level(self, name: str, value: float | None) -> Level:
        threshold = self.thresholds.get(name) or DEFAULT_THRESHOLDS.get(name)
        return threshold.level(value) if threshold else Level.UNKNOWN

    def colour(self, level: Level) -> str:
        return self.palette.of(level)

    # ------------------------------------------------------------ filter
    def open_filter(self) -> None:
        """`/`: filter the focused table of this pane, or its first one."""
        tables = self.tables
        if not tables:
            return
        focused = self.screen.focused
        target = focused if isinstance(focused, KeyedTable) and focused in tables else None
        bar = self.filter_bar
        if target is None and bar.target_id:
            target = next((t for t in tables if t.id == bar.target_id), None)
        target = target or tables[0]
        bar.open(target.id)
        if target.filter_text:
            bar.value = target.filter_text

    def _target(self, bar: FilterBar) -> KeyedTable | None:
        return next((t for t in self.tables if t.id == bar.target_id), None)

    def on_filter_bar_filter_changed(self, event: FilterBar.FilterChanged) -> None:
        event.stop()
        if (table := self._target(event.bar)) is not None:
            table.set_filter(event.value)

    def on_filter_bar_filter_kept(self, event: FilterBar.FilterKept) -> None:
        event.stop()
        if (table := self._target(event.bar)) is not None:
            table.set_filter(event.value)
            table.focus()

    def on_filter_bar_filter_cleared(self, event: FilterBar.FilterCleared) -> None:
        event.stop()
        if (table := self._target(event.bar)) is not None:
            table.set_filter("")
            table.focus()

    def action_clear_filter(self) -> None:
        """Escape on a table: drop its pane's filter."""
        bar = self.filter_bar
        if bar.is_open or any(t.filter_text for t in self.tables):
            bar.action_clear_filter()
