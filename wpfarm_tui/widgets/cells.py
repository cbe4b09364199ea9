"""How values become table cells: None is "—", numbers are right-aligned,
long text is clipped (the full text stays on the cell for a tooltip), and
levels are coloured from the current theme's level variables. Numbers, sizes,
durations and levels keep the value they show, so a table sorts them by value
("2.0 KiB" before "1.5 MiB"), not by their text.

Not a widget: plain helpers shared by the panes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import JustifyMethod
from rich.text import Text

from wpfarm_tui.status.rates import Rate
from wpfarm_tui.status.thresholds import Level

DASH = "—"
ERROR_WIDTH = 48

_MARKERS = {Level.OK: "●", Level.WARNING: "▲", Level.CRITICAL: "✖", Level.UNKNOWN: "○"}
_TAGS = {Level.OK: "OK", Level.WARNING: "WARN", Level.CRITICAL: "CRIT", Level.UNKNOWN: "?"}


@dataclass(frozen=True)
class Palette:
    """The four level colours of a theme, as hex strings."""

    ok: str = "#5fd75f"
    warning: str = "#ffd700"
    critical: str = "#ff5f5f"
    unknown: str = "#87afff"

    @classmethod
    def from_variables(cls, variables: Mapping[str, str]) -> Palette:
        default = cls()
        return cls(
            ok=variables.get("level-ok", default.ok),
            warning=variables.get("level-warning", default.warning),
            critical=variables.get("level-critical", default.critical),
            unknown=variables.get("level-unknown", default.unknown),
        )

    def of(self, level: Level) -> str:
        return {
            Level.OK: self.ok,
            Level.WARNING: self.warning,
            Level.CRITICAL: self.critical,
        }.get(level, self.unknown)


class Clipped(Text):
    """A Text cut to fit a cell; `full` keeps the whole value for a tooltip."""

    full: str = ""


class Valued(Text):
    """A cell that sorts by the value it shows, not by its text; None sorts last."""

    __slots__ = ("sort_value",)  # no __dict__: a big table holds tens of thousands

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sort_value: float | None = None


def valued(shown: str, value: float | None, style: str = "",
           justify: JustifyMethod | None = "right") -> Valued:
    out = Valued(shown, style=style, justify=justify)
    out.sort_value = value
    return out


def marker(level: Level) -> str:
    return _MARKERS.get(level, "○")


def tag(level: Level) -> str:
    return _TAGS.get(level, "?")


def level_cell(level: Level, palette: Palette) -> Text:
    """The first column of a row: a coloured tag that also reads without colour."""
    return valued(tag(level), int(level), f"bold {palette.of(level)}", justify=None)


def text(value: object, style: str = "") -> Text:
    """Plain text; None becomes a dash. Never interpreted as markup."""
    if value is None or value == "":
        return Text(DASH, style=style)
    return Text(str(value), style=style)


def clip(value: object, width: int = ERROR_WIDTH, style: str = "") -> Text:
    """Text cut to `width` cells with an ellipsis; the full value stays in `.full`."""
    if value is None or value == "":
        return Text(DASH, style=style)
    full = " ".join(str(value).split())  # one line: newlines would break the row
    cut = full if len(full) <= width else full[: width - 1] + "…"
    out = Clipped(cut, style=style)
    out.full = full
    return out


def number(value: float | int | None, fmt: str = "{:,}", style: str = "") -> Text:
    """A right-aligned number; None becomes a right-aligned dash."""
    if value is None:
        return valued(DASH, None, style)
    try:
        shown = fmt.format(value)
    except (ValueError, TypeError):
        shown = str(value)
    return valued(shown, value if isinstance(value, int | float) else None, style)


def ratio(value: float | None, style: str = "") -> Text:
    """A percentage with one decimal, right-aligned."""
    return number(value, "{:.1f}", style)


def rate(value: Rate | None, fmt: str = "{:,.1f}", style: str = "") -> Text:
    """A windowed figure (status/rates.py): "reset" when the counter went back in the
    window (a restarted server), a dash until there are two samples."""
    if value is not None and value.reset:
        return valued("reset", None, style)
    return number(None if value is None else value.value, fmt, style)


def yes_no(value: bool | None, palette: Palette, good: bool = True) -> Text:
    """yes/no coloured: the `good` answer in ok, the other in critical."""
    if value is None:
        return Text(DASH)
    colour = palette.ok if value == good else palette.critical
    return Text("yes" if value else "no", style=colour)


def bytes_human(value: int | None, style: str = "") -> Text:
    if value is None:
        return number(None, style=style)
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            shown = f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
            return valued(shown, value, style)
        size /= 1024
    return valued(str(value), value, style)  # pragma: no cover


def bytes_per_s(value: float | None, style: str = "") -> Text:
    """A byte rate as 812 B/s, 3.4 MiB/s, right-aligned."""
    if value is None:
        return number(None, style=style)
    cell = bytes_human(int(value), style)
    return valued(f"{cell.plain}/s", value, style)


def duration(seconds: int | float | None, style: str = "") -> Text:
    """Uptime as 3d 04h, 5h 12m or 42s, right-aligned."""
    if seconds is None:
        return number(None, style=style)
    s = int(seconds)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        shown = f"{days}d {hours:02d}h"
    elif hours:
        shown = f"{hours}h {minutes:02d}m"
    elif minutes:
        shown = f"{minutes}m {secs:02d}s"
    else:
        shown = f"{secs}s"
    return valued(shown, seconds, style)


def signature(cell: object) -> object:
    """What makes two cells look the same: text, style, spans and alignment.

    rich's Text.__eq__ ignores the base style, so a colour change alone would
    go unnoticed without this.
    """
    if isinstance(cell, Text):
        return (cell.plain, str(cell.style), cell.justify, tuple(cell.spans))
    return cell


def sort_value(cell: object) -> float | str | None:
    """What a table sorts a cell by: its value, or its lower-cased text; None for "—"."""
    if isinstance(cell, Valued):
        return cell.sort_value
    shown = plain(cell)
    return None if shown in ("", DASH) else shown.lower()


def plain(cell: object) -> str:
    if isinstance(cell, Clipped):
        return cell.full
    if isinstance(cell, Text):
        return cell.plain
    return str(cell)
