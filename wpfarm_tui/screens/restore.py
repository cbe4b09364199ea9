"""The restore screen of one site: its snapshots, pick one, drill or restore it, watch.

The action runs in a thread worker through `execute` (read-only refusal,
confirmation, audit); its plan, events and verdict reach the log through
`call_from_thread`, never by touching widgets from the worker. Restoring
over the live site takes two presses (the first shows the plan and arms
the button); Cancel is focused first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Static

from wpfarm_tui.actions.base import Action, ActionError, AuditLog, Step, StepEvent, Verdict, execute
from wpfarm_tui.farm.restic import Snapshot
from wpfarm_tui.widgets.action_log import ActionLog, verdict_text

# (snapshot ids, drill) -> the action; the app passes one built from the farm.
ActionFactory = Callable[[list[str], bool], Action]

_KIND_STYLE = {"db": "bold", "files": "", "safety": "italic"}


class RestoreScreen(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "close", "Close")]

    DEFAULT_CSS = """
    RestoreScreen { align: center middle; }
    #restore-box { width: 96%; height: 92%; border: round $accent; padding: 0 1; }
    #restore-snapshots { height: 1fr; }
    #restore-log { height: 1fr; border: round $panel; }
    #restore-buttons { height: 3; }
    #restore-buttons Button { margin-right: 2; }
    #restore-verdict { height: auto; }
    """

    def __init__(self, domain: str, snapshots: Sequence[Snapshot],
                 make_action: ActionFactory | None = None, audit: AuditLog | None = None,
                 read_only: bool = False) -> None:
        super().__init__()
        self.domain = domain
        self.snapshots = sorted(snapshots, key=lambda s: s.time, reverse=True)
        self.make_action = make_action
        self.audit = audit or AuditLog()
        self.read_only = read_only
        self.armed: str | None = None  # the snapshot a second press restores
        self.running = False
        self.verdict: Verdict | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="restore-box") as box:
            box.border_title = f"Restore {self.domain}"
            box.border_subtitle = "Enter picks · Esc closes"
            yield DataTable(id="restore-snapshots", cursor_type="row", zebra_stripes=False)
            with Horizontal(id="restore-buttons"):
                yield Button("Cancel", id="restore-cancel", variant="primary")
                yield Button("Drill (scratch copy)", id="restore-drill")
                yield Button("Restore over live site", id="restore-run", variant="error",
                             disabled=self.read_only)
            yield Static("", id="restore-verdict", markup=False)
            yield ActionLog(id="restore-log")

    def on_mount(self) -> None:
        table = self.query_one("#restore-snapshots", DataTable)
        table.add_columns("Time", "Snapshot", "Type", "Part", "Host", "Paths")
        for snap in self.snapshots:
            kind = snap.kind or "?"
            table.add_row(
                snap.time.strftime("%Y-%m-%d %H:%M:%S %Z").strip(),
                Text(snap.short_id, style="bold"), Text(kind, style=_KIND_STYLE.get(kind, "")),
                snap.part or "?", snap.hostname, " ".join(snap.paths), key=snap.id)
        if not self.snapshots:
            self._log(Text(f"no snapshots of {self.domain}: back it up first "
                           f"(wpfarm backup {self.domain})"))
        self.query_one("#restore-cancel", Button).focus()

    # ------------------------------------------------------------ selection
    def selected(self) -> Snapshot | None:
        table = self.query_one("#restore-snapshots", DataTable)
        if not self.snapshots or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((s for s in self.snapshots if s.id == key), None)

    @on(DataTable.RowSelected, "#restore-snapshots")
    def _picked(self, event: DataTable.RowSelected) -> None:
        self.armed = None
        self.query_one("#restore-run", Button).label = "Restore over live site"
        self.query_one("#restore-run", Button).focus()

    # ------------------------------------------------------------ buttons
    @on(Button.Pressed, "#restore-cancel")
    def _cancel(self) -> None:
        self.action_close()

    @on(Button.Pressed, "#restore-drill")
    def _drill(self) -> None:
        snap = self.selected()
        if snap is not None:
            self._start([snap.id], drill=True)

    @on(Button.Pressed, "#restore-run")
    def _restore(self) -> None:
        snap = self.selected()
        if snap is None or self.running:
            return
        button = self.query_one("#restore-run", Button)
        if self.armed != snap.id:
            self.armed = snap.id
            button.label = f"Confirm: overwrite {self.domain}"
            self._log(Text(f"press again to overwrite the live {snap.part or ''} of "
                           f"{self.domain} with {snap.short_id} (a safety backup is taken "
                           "first)", style="bold"))
            return
        self.armed = None
        button.label = "Restore over live site"
        self._start([snap.id], drill=False)

    def _start(self, ids: list[str], drill: bool) -> None:
        if self.make_action is None or self.running:
            return
        self.running = True
        self.query_one("#restore-verdict", Static).update("running…")
        self.run_worker(lambda: self._work(ids, drill), thread=True, exclusive=True,
                        group="restore")

    def _work(self, ids: list[str], drill: bool) -> None:
        """Worker thread: run the action, post every item to the UI thread."""
        post = self.app.call_from_thread
        try:
            assert self.make_action is not None
            action = self.make_action(ids, drill)
            for item in execute(action, audit=self.audit, read_only=self.read_only,
                                confirmed=True):
                post(self.show_item, item)
        except ActionError as exc:
            post(self.show_item, Verdict(False, str(exc)))
        except Exception as exc:  # noqa: BLE001 - shown as the verdict: the console stays up
            post(self.show_item, Verdict(False, f"{type(exc).__name__}: {exc}"))
        finally:
            post(self._finished)

    def _finished(self) -> None:
        self.running = False

    # ------------------------------------------------------------ showing (UI thread)
    def show_item(self, item: Step | StepEvent | Verdict) -> None:
        if isinstance(item, (Step, StepEvent)):
            self.query_one("#restore-log", ActionLog).show(item)
        else:
            self.verdict = item
            self.query_one("#restore-verdict", Static).update(verdict_text(item))

    def _log(self, text: Text) -> None:
        self.query_one("#restore-log", ActionLog).write(text)

    def action_close(self) -> None:
        if not self.running:
            self.dismiss(self.verdict is not None and self.verdict.ok)
