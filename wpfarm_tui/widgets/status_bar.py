"""The bottom line: farm name and profile (production marked so that it cannot be taken for
staging or the lab, k9s's habit), read-only, time of the last refresh, and every source
that is down / timed out / failing, with its error. Nothing about sources
when all are ok: at 3 a.m. an empty bar means "no source problem"."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import Static

from wpfarm_tui.status.model import SourceHealth
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.widgets.cells import Palette


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: auto; max-height: 4; }
    """

    def __init__(self, farm_name: str, profile: str = "production", read_only: bool = False,
                 *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.farm_name = farm_name
        self.profile = profile
        self.read_only = read_only
        self.refreshed_at: str | None = None
        self.problems: tuple[SourceHealth, ...] = ()
        self.palette = Palette()
        self._shape: tuple[tuple[tuple[Level, str], ...], int] | None = None

    def on_mount(self) -> None:
        self._render_bar()

    def set_status(
        self,
        refreshed_at: str | None,
        sources: Iterable[SourceHealth],
        palette: Palette | None = None,
    ) -> None:
        """`sources` are all the farm's sources; only the failing ones are shown."""
        self.refreshed_at = refreshed_at
        self.problems = tuple(s for s in sources if not s.ok and s.state != "disabled")
        if palette is not None:
            self.palette = palette
        self._render_bar()

    @property
    def problem_text(self) -> str:
        """The failing sources as plain text, e.g. "galera-3 down: connection refused"."""
        return "  ·  ".join(_describe(s) for s in self.problems)

    def _render_bar(self) -> None:
        line = Text()
        line.append(f" {self.farm_name} ", style="bold reverse")
        if self.profile == "production":
            # The one farm where a slip costs: marked in the critical colour, in capitals.
            line.append(" PRODUCTION ", style=f"bold #000000 on {self.palette.critical}")
        else:
            line.append(f" {self.profile} ", style="bold")
        if self.read_only:
            line.append(" read-only ", style="bold reverse")
        line.append("  refreshed ")
        line.append(self.refreshed_at or "—", style="bold")
        if self.problems:
            line.append("   ")
            for i, source in enumerate(self.problems):
                if i:
                    line.append("  ·  ")
                colour = self.palette.of(source.level)  # slow is a warning, down critical
                mark = "▲" if source.level is Level.WARNING else "✖"
                line.append(f"{mark} {source.name} {source.state}", style=f"bold {colour}")
                if source.error:
                    line.append(f": {source.error}", style=colour)
        # The clock ticks every poll, in the same width: re-lay the screen out (Static.update
        # does by default) only when the bar may wrap to another height.
        shape = (tuple((s.level, _describe(s)) for s in self.problems),
                 len(self.refreshed_at or ""))
        if line != self.content:
            self.update(line, layout=shape != self._shape)
        self._shape = shape
        self.tooltip = self.problem_text or None


def _describe(source: SourceHealth) -> str:
    return f"{source.name} {source.state}" + (f": {source.error}" if source.error else "")
