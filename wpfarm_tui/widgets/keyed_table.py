"""A DataTable kept in step with a list of keyed rows, Dolphie style.

`sync(rows)` diffs by row key: it updates only the cells whose value changed,
adds new rows and removes vanished ones; it never clears and rebuilds, so the
cursor, the scroll position and the render caches survive a refresh.

`set_filter(text)` hides the rows whose cells do not contain `text`
(case-insensitive); the filter is remembered and applied to every later sync.

`sort_by(column)` orders the rows by a column's values (numbers as numbers,
"—" last whichever the direction); `o` cycles the column, `O` flips the
direction, a header click does either. A sync re-sorts only when a row came or
a sort-column cell changed, and the cursor stays on its row, not its index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from wpfarm_tui.widgets.cells import Clipped, plain, signature, sort_value

Row = tuple[str, Sequence[Any]]


class KeyedTable(DataTable):
    """A DataTable whose rows are identified by a stable key (a domain, a node id)."""

    DEFAULT_CSS = """
    KeyedTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("o", "sort_next", "Sort by next column", show=False),
        Binding("O", "sort_reverse", "Reverse the sort", show=False),
    ]

    def __init__(
        self,
        columns: Sequence[tuple[str, str] | tuple[str, str, str]],
        *,
        title: str = "",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """`columns` are (key, label) or (key, label, "right") for numeric columns;
        the key names the column in `update_cell`."""
        super().__init__(
            id=id,
            classes=classes,
            cursor_type="row",
            show_row_labels=False,
            zebra_stripes=False,
        )
        self._column_spec = tuple(columns)
        self._column_keys = tuple(spec[0] for spec in columns)
        self._all: dict[str, tuple[Any, ...]] = {}  # every row, in the order last synced
        self._haystacks: dict[str, str] = {}  # lower-cased text of a row, for the filter
        self._filter = ""
        self._sort: str | None = None  # column key; None: the order rows were synced in
        self._descending = False
        self._columns_added = False
        self._title = title
        self.border_title = Text(title)
        self._stale = False
        self._stale_note: str | None = None
        self._shown_title: str | None = title  # what border_title shows (None: nothing)

    # ------------------------------------------------------------ properties
    @property
    def filter_text(self) -> str:
        return self._filter

    @property
    def all_row_count(self) -> int:
        """Rows known to the table, shown or hidden by the filter."""
        return len(self._all)

    @property
    def row_keys(self) -> list[str]:
        """Keys of the rows shown, top to bottom."""
        return [row.key.value for row in self.ordered_rows if row.key.value is not None]

    @property
    def stale(self) -> bool:
        return self._stale

    @property
    def sort_column(self) -> str | None:
        return self._sort

    @property
    def sort_descending(self) -> bool:
        return self._descending

    # ------------------------------------------------------------ life cycle
    def on_mount(self) -> None:
        self._ensure_columns()

    def _ensure_columns(self) -> None:
        if not self._columns_added:
            for key, label, *align in self._column_spec:
                justify = "right" if align and align[0] == "right" else "left"
                self.add_column(Text(label, justify=justify), key=key)
            self._columns_added = True

    # ------------------------------------------------------------ sync
    def sync(self, rows: Iterable[Row]) -> None:
        """Make the table show `rows` (key, cells), touching only what changed."""
        self._ensure_columns()
        width = len(self._column_keys)
        new_all: dict[str, tuple[Any, ...]] = {}
        for key, cells in rows:
            cells = tuple(cells)
            if len(cells) != width:
                raise ValueError(f"row {key!r} has {len(cells)} cells, the table {width}")
            new_all[key] = cells
        old_all = self._all
        shown = self.rows

        for key in old_all.keys() - new_all.keys():
            self._haystacks.pop(key, None)
            if key in shown:
                self.remove_row(key)

        self._all = new_all
        reorder = False  # a row came, or a cell of the sort column changed
        for key, cells in new_all.items():
            old = old_all.get(key)
            if old is not None and old is not cells:
                self._haystacks.pop(key, None)
            wanted = self._matches(key, cells)
            if key in shown:
                if not wanted:
                    self.remove_row(key)
                elif old is not cells and old is not None:
                    reorder |= self._update_row(key, old, cells)
            elif wanted:
                self.add_row(*cells, key=key)
                reorder = True
        if reorder and self._sort is not None:
            self._apply_sort()
        self._refresh_title()

    def _update_row(self, key: str, old: tuple[Any, ...], new: tuple[Any, ...]) -> bool:
        """Update the changed cells; True when one of them is in the sort column."""
        columns = self.columns
        sort_changed = False
        for column_key, before, after in zip(self._column_keys, old, new, strict=True):
            if before is after or signature(before) == signature(after):
                continue
            # Measure only when the new value may widen the column: a narrower
            # value would make DataTable re-measure the whole column.
            grows = _width(after) > columns[column_key].content_width  # type: ignore[index]
            self.update_cell(key, column_key, after, update_width=grows)
            sort_changed |= column_key == self._sort
        return sort_changed

    # ------------------------------------------------------------ filter
    def _matches(self, key: str, cells: tuple[Any, ...]) -> bool:
        if not self._filter:
            return True
        hay = self._haystacks.get(key)
        if hay is None:
            hay = self._haystacks[key] = "\t".join(plain(c) for c in (key, *cells)).lower()
        return self._filter in hay

    def set_filter(self, text: str) -> None:
        """Show only rows containing `text` (any case, any column); "" shows all.

        A filter change is the one time the shown rows are re-laid: rows coming
        back must take their place in order. Syncs never do this.
        """
        self._ensure_columns()
        needle = text.strip().lower()
        if needle == self._filter:
            return
        self._filter = needle
        wanted = [key for key, cells in self._all.items() if self._matches(key, cells)]
        if wanted == self.row_keys:
            self._refresh_title()
            return
        self._relay(wanted)
        self._refresh_title()

    def _relay(self, keys: list[str]) -> None:
        """Show exactly `keys`, in order (then sorted, if sorted), keeping the cursor's row."""
        current = self.cursor_key()
        self.clear()
        for key in keys:
            self.add_row(*self._all[key], key=key)
        if self._sort is not None:
            self.sort(self._sort, key=self._sort_key, reverse=self._descending)
        self._restore_cursor(current)

    def _restore_cursor(self, key: str | None) -> None:
        if key is not None and key in self.rows:
            self.move_cursor(row=self.get_row_index(key), animate=False)

    def cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # noqa: BLE001 - an out-of-range cursor just means "none"
            return None

    # ------------------------------------------------------------ sort
    def sort_by(self, column: str | None, descending: bool = False) -> None:
        """Order the shown rows by `column` (a column key); None: back to the synced order."""
        self._ensure_columns()
        if column is not None and column not in self._column_keys:
            raise ValueError(f"no column {column!r} in this table")
        descending = descending and column is not None
        if (column, descending) == (self._sort, self._descending):
            return  # a re-lay of every row is what it would cost otherwise
        self._sort, self._descending = column, descending
        if column is None:
            self._relay([k for k, cells in self._all.items() if self._matches(k, cells)])
        else:
            self._apply_sort()
        self._refresh_title()

    def _apply_sort(self) -> None:
        # DataTable.sort only re-indexes the rows it holds: no row is rebuilt.
        current = self.cursor_key()
        self.sort(self._sort, key=self._sort_key, reverse=self._descending)
        self._restore_cursor(current)

    def _sort_key(self, cell: Any) -> tuple[int, int, Any]:
        """(missing, kind, value): "—" last in both directions, numbers never compared
        with text."""
        value = sort_value(cell)
        if value is None:
            return (-1 if self._descending else 1, 0, 0)
        if isinstance(value, str):
            return (0, 1, value)
        return (0, 0, value)

    def action_sort_next(self) -> None:
        """`o`: sort by the next column; after the last, back to the synced order."""
        keys = self._column_keys
        if self._sort is None:
            self.sort_by(keys[0])
        else:
            i = keys.index(self._sort) + 1
            self.sort_by(keys[i] if i < len(keys) else None)

    def action_sort_reverse(self) -> None:
        """`O`: flip the direction (sorts by the first column when unsorted)."""
        self.sort_by(self._sort or self._column_keys[0], not self._descending)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """A header click sorts by that column; a second click flips the direction."""
        event.stop()
        column = event.column_key.value
        if column == self._sort:
            self.sort_by(column, not self._descending)
        else:
            self.sort_by(column)

    # ------------------------------------------------------------ stale marking
    def set_stale(self, stale: bool, note: str = "STALE") -> None:
        """Mark the rows as old data (the source is down); they stay on screen."""
        # Setting a border title repaints the whole table, even to the same text: only
        # when it changed (a sync sets both on every poll).
        if (stale, note if stale else None) == (self._stale, self._stale_note):
            return
        self._stale, self._stale_note = stale, note if stale else None
        self.set_class(stale, "-stale")
        self.border_subtitle = Text(note) if stale else None

    def set_title(self, title: str) -> None:
        self._title = title
        self._refresh_title()

    def _refresh_title(self) -> None:
        if self._filter:
            shown = f"{self._title} · {self.row_count}/{len(self._all)} match /{self._filter}"
        else:
            shown = f"{self._title} · {len(self._all)}" if self._title else ""
        if shown and self._sort is not None:
            label = self.columns[self._sort].label.plain  # type: ignore[index]
            shown += f" · by {label} {'↓' if self._descending else '↑'}"
        if (shown or None) != self._shown_title:
            self._shown_title = shown or None
            self.border_title = Text(shown) if shown else None

    # ------------------------------------------------------------ tooltips
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Clipped cells (long errors) show their full text in the tooltip."""
        key = event.row_key.value
        cells = self._all.get(key) if key is not None else None
        full = [c.full for c in cells or () if isinstance(c, Clipped) and c.full != c.plain]
        self.tooltip = "\n".join(full) if full else None


def _width(cell: Any) -> int:
    if isinstance(cell, Text):
        return cell.cell_len
    return cell_len(str(cell))
