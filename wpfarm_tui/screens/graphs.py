"""`g`: a pane's last 30 minutes as graphs, with its thresholds drawn as lines.

Drawn with textual-plotext (Textualize's widget around plotext, the library Dolphie draws
its graphs with): line plots with axes and horizontal threshold lines in a terminal, which
Textual's Sparkline cannot draw. The series come from the collector's history; this screen
only draws them, every refresh interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual_plotext import PlotextPlot

from wpfarm_tui.status.rates import GraphSeries
from wpfarm_tui.status.thresholds import Threshold

Source = Callable[[], Sequence[GraphSeries]]


class GraphScreen(Screen[None]):
    DEFAULT_CSS = """
    GraphScreen #graphs-title { height: 1; background: $panel; }
    GraphScreen #graphs { grid-size: 2; grid-gutter: 0 1; height: 1fr; }
    GraphScreen PlotextPlot { height: 1fr; min-height: 10; }
    GraphScreen #graphs-empty { height: 1fr; content-align: center middle; }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("g", "app.pop_screen", "Back", show=False),
    ]

    def __init__(self, title: str, source: Source, thresholds: Mapping[str, Threshold],
                 interval: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.title_text = title
        self.source = source
        self.thresholds = thresholds
        self.interval = interval
        self.clock = clock
        self.series: list[GraphSeries] = list(source())

    def compose(self) -> ComposeResult:
        yield Static(f" {self.title_text}: the last 30 minutes (x: minutes ago; dashed "
                     "lines: warning and critical thresholds). Esc goes back.",
                     id="graphs-title", markup=False)
        if not self.series:
            yield Static("This pane keeps no history to graph.", id="graphs-empty")
        else:
            with Grid(id="graphs"):
                for i, _ in enumerate(self.series):
                    yield PlotextPlot(id=f"graph-{i}")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(self.interval, self.redraw)

    def redraw(self) -> None:
        self.series = list(self.source())
        now = self.clock()
        for i, series in enumerate(self.series):
            try:
                widget = self.query_one(f"#graph-{i}", PlotextPlot)
            except NoMatches:  # a series that appeared since the screen opened: next visit
                continue
            self._draw(widget, series, now)

    def _draw(self, widget: PlotextPlot, series: GraphSeries, now: float) -> None:
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"{series.title} ({series.unit})")
        plt.xlabel("minutes ago")
        if series.points:
            xs = [(t - now) / 60.0 for t, _ in series.points]
            plt.plot(xs, [v for _, v in series.points], marker="braille")
            plt.xlim(min(xs[0], -1.0), 0)
        threshold = self.thresholds.get(series.threshold) if series.threshold else None
        if threshold is not None:
            plt.hline(threshold.warning, "yellow")
            plt.hline(threshold.critical, "red")
        widget.refresh()

    def plotted(self) -> list[str]:
        """The series titles on screen (for tests and the CLI's sake)."""
        return [s.title for s in self.series]
