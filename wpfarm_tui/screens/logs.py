"""Following a log inside the console: a service's tasks (Nodes pane) or a site (Sites pane).

The stream is read in a daemon thread (a quiet service blocks its reader; a Textual
thread worker would hold up the app's exit), into a bounded queue that a timer drains
into the log widget a few times a second: a chatty service cannot flood the event loop.
Leaving the screen closes the stream, which ends the thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from wpfarm_tui.farm.logs import LogStream

MAX_LINES = 5000  # kept in the widget; older lines scroll away
DRAIN_S = 0.2
BACKLOG = 20_000  # lines waiting for the widget; past that the oldest are dropped


class LogsScreen(Screen[None]):
    DEFAULT_CSS = """
    LogsScreen #logs-title { height: auto; background: $panel; }
    LogsScreen #logs-lines { height: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("q", "close", "Back", show=False),
        Binding("p", "toggle_pause", "Pause"),
        Binding("c", "clear", "Clear"),
    ]

    def __init__(self, title: str, open_stream: Callable[[], LogStream]) -> None:
        super().__init__()
        self.title_text = title
        self.open_stream = open_stream
        self.stream: LogStream | None = None
        self.pending: deque[str] = deque(maxlen=BACKLOG)
        self.paused = False
        self.ended: str | None = None
        self.received = 0
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        yield Static(self._header(), id="logs-title")
        yield RichLog(max_lines=MAX_LINES, wrap=False, markup=False, highlight=False,
                      auto_scroll=True, id="logs-lines")
        yield Footer()

    def on_mount(self) -> None:
        threading.Thread(target=self._read, name=f"logs {self.title_text}", daemon=True).start()
        self.set_interval(DRAIN_S, self._drain)
        self.query_one("#logs-lines", RichLog).focus()

    def on_unmount(self) -> None:
        self._stop.set()
        if self.stream is not None:
            self.stream.close()

    def _read(self) -> None:
        """The reader thread: never touches widgets, only the queue."""
        try:
            self.stream = self.open_stream()
            if self._stop.is_set():
                self.stream.close()
                return
            for line in self.stream.lines():
                self.pending.append(line)
            self.ended = "the log ended"
        except Exception as exc:  # noqa: BLE001 - shown in the screen, never raised
            self.ended = f"cannot read the log: {str(exc).splitlines()[0][:200]}"

    def _header(self) -> Text:
        text = Text(f" Logs: {self.title_text}", style="bold")
        state = "paused" if self.paused else ("ended" if self.ended else "following")
        text.append(f"  [{state}] {self.received} line(s)  Esc back · p pause · c clear")
        if self.ended and self.ended != "the log ended":
            text.append(f"\n {self.ended}", style="bold red")
        return text

    def _drain(self) -> None:
        log = self.query_one("#logs-lines", RichLog)
        if not self.paused and self.pending:
            batch = [self.pending.popleft() for _ in range(len(self.pending))]
            self.received += len(batch)
            # Text, not markup: a log line's brackets are data.
            log.write(Text("\n".join(batch)))
        self.query_one("#logs-title", Static).update(self._header())

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self._drain()

    def action_clear(self) -> None:
        self.query_one("#logs-lines", RichLog).clear()

    def action_close(self) -> None:
        self.app.pop_screen()
