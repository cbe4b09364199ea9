"""The one screen every action runs in: its inputs (when it has some), the plan, a
confirmation (Cancel focused when the action is destructive), a live log of step events
and the verdict. Read-only mode shows a refusal and nothing else.

Building the action and reading its plan ask the farm (a registry row, a Docker node
list...), so they run in a thread worker too: a dead database makes the screen say
"Planning…" for its timeout, never freezes the console. The action runs through
`execute` in a thread worker, which posts one message per item; workers never touch a
widget.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Input, Label, Static

from wpfarm_tui.actions import (
    Action,
    ActionError,
    AuditLog,
    ReadOnlyError,
    Step,
    StepEvent,
    Verdict,
    execute,
    guard_read_only,
)
from wpfarm_tui.actions.catalog import Context, Entry
from wpfarm_tui.inventory import Farm
from wpfarm_tui.widgets.action_log import ActionLog, verdict_text


class ActionScreen(Screen[Verdict | None]):
    """Inputs -> plan -> confirm -> events -> verdict, for one catalog entry."""

    BINDINGS = [Binding("escape", "close", "Close")]

    class Planned(Message):
        """Posted by the plan worker: the built action and its plan, or why not."""

        def __init__(self, action: Action | None, plan: list[Step], error: Text | None,
                     ) -> None:
            super().__init__()
            self.action = action
            self.plan = plan
            self.error = error

    class Item(Message):
        """Posted by the worker for every event, the verdict, or a refusal (str)."""

        def __init__(self, item: StepEvent | Verdict | str) -> None:
            super().__init__()
            self.item = item

    def __init__(self, entry: Entry, farm: Farm, context: Context, *,
                 values: Mapping[str, str] | None = None,
                 audit: AuditLog | None = None) -> None:
        super().__init__()
        self.entry = entry
        self.farm = farm
        self.context = context
        self.values = dict(values or {})
        self.read_only = farm.read_only  # the session's: the App folded --read-only in
        self.audit = audit or AuditLog()
        self.action: Action | None = None
        self.state = "input"  # input | planning | planned | running | finished | refused
        self.verdict: Verdict | None = None
        self.events: list[StepEvent] = []

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        with Vertical(id="action-box"):
            yield Static(Text(self.entry.title, style="bold"), id="action-title")
            with Vertical(id="action-form"):
                for field in self.entry.fields:
                    yield Label(field.label)
                    yield Input(self.values.get(field.key, field.default),
                                placeholder=field.label, id=f"field-{field.key}")
                yield Button("Show plan", id="show-plan")
            yield Static("", id="action-note")
            yield DataTable(id="plan", cursor_type="none", zebra_stripes=False)
            with Horizontal(id="action-buttons"):
                yield Button("Run", id="run")
                yield Button("Cancel", id="cancel")
            yield ActionLog(id="action-log")
            yield Static("", id="verdict")

    def on_mount(self) -> None:
        table = self.query_one("#plan", DataTable)
        table.add_columns("#", "Step", "What exactly")
        self.query_one("#action-form").display = bool(self.entry.fields)
        self.query_one("#action-buttons").display = False
        if self.read_only:
            self._refuse()
            return
        if not self.entry.fields or all(self.values.get(f.key) for f in self.entry.fields):
            self._build()
        elif self.entry.fields:
            self.query_one(f"#field-{self.entry.fields[0].key}", Input).focus()

    # ------------------------------------------------------------ steps of the screen
    def _refuse(self) -> None:
        """Read-only: refused by the same guard as `execute`, audited with the inputs the
        operator gave; the action is not built (that can ask the farm)."""
        self.state = "refused"
        self.query_one("#action-form").display = False
        try:
            guard_read_only(self.entry.name, self._inputs(), read_only=True, audit=self.audit)
        except ReadOnlyError as exc:
            self._note(Text("REFUSED  ", style="bold red") + Text(str(exc)), "refused")
        self.query_one("#plan").display = False
        self.query_one("#action-log").display = False

    def _inputs(self) -> dict[str, str]:
        values = dict(self.values)
        for field in self.entry.fields:
            found = self.query(f"#field-{field.key}")
            if found:
                values[field.key] = found.first(Input).value.strip()
        return values

    def _build(self) -> None:
        if self.state == "planning":
            return
        self.state = "planning"
        self.action = None
        self.query_one("#action-buttons").display = False
        # Shown again with its rows: a table drawn before them keeps a header sized for
        # no rows (DataTable caches the rendered header).
        self.query_one("#plan").display = False
        self._note(Text("Planning… (asking the farm)"), "info")
        self._plan_worker(self._inputs())

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def _plan_worker(self, inputs: dict[str, str]) -> None:
        try:
            action = self.entry.build(self.farm, self.context, inputs)
            plan = action.plan()
        except ActionError as exc:
            self.post_message(self.Planned(None, [], Text(str(exc), style="bold red")))
            return
        except Exception as exc:  # noqa: BLE001 - a plan that cannot be read is shown
            self.post_message(self.Planned(None, [], Text(
                f"cannot plan: {type(exc).__name__}: {exc}", style="bold red")))
            return
        self.post_message(self.Planned(action, plan, None))

    def on_action_screen_planned(self, message: ActionScreen.Planned) -> None:
        if message.error is not None or message.action is None:
            self.state = "input"
            # No plan to show: an empty table only adds a header (whose width raced the
            # layout and made the screen differ from run to run).
            self.query_one("#plan").display = False
            self._note(message.error or Text("cannot plan"), "error")
            return
        self.action = message.action
        plan = message.plan
        table = self.query_one("#plan", DataTable)
        table.clear()
        for i, step in enumerate(plan, start=1):
            name = Text(step.name, style="bold red" if step.destructive else "")
            table.add_row(str(i), name, step.detail)
        table.display = True
        self.state = "planned"
        destructive = self.action.destructive
        if destructive:
            self._note(Text("DESTRUCTIVE: read the plan. Cancel is the default; choose Run "
                            "to go ahead.", style="bold red"), "warning")
        else:
            self._note(Text("Read the plan, then Run (or Cancel)."), "info")
        buttons = self.query_one("#action-buttons")
        buttons.display = True
        run = self.query_one("#run", Button)
        run.variant = "error" if destructive else "primary"
        cancel = self.query_one("#cancel", Button)
        (cancel if destructive else run).focus()

    def _note(self, text: Text, kind: str) -> None:
        note = self.query_one("#action-note", Static)
        note.update(text)
        note.set_classes(f"-{kind}")

    # ------------------------------------------------------------ events
    @on(Button.Pressed, "#show-plan")
    @on(Input.Submitted)
    def _show_plan(self) -> None:
        if self.state in ("input", "planned"):
            self._build()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#run")
    def _run(self) -> None:
        if self.state != "planned" or self.action is None:
            return
        self.state = "running"
        self.query_one("#action-buttons").display = False
        self.query_one("#action-form").display = False
        self._note(Text("Running…", style="bold"), "info")
        self._worker(self.action)

    @work(thread=True, exclusive=True, group="action", exit_on_error=False)
    def _worker(self, action: Action) -> None:
        try:
            for item in execute(action, audit=self.audit, read_only=self.read_only,
                                confirmed=True):
                if not isinstance(item, Step):
                    self.post_message(self.Item(item))
        except ActionError as exc:
            self.post_message(self.Item(str(exc)))
        except Exception as exc:  # noqa: BLE001 - shown, never raised into the UI
            self.post_message(self.Item(f"{type(exc).__name__}: {exc}"))

    def on_action_screen_item(self, message: ActionScreen.Item) -> None:
        item = message.item
        if isinstance(item, StepEvent):
            self.events.append(item)
            self.query_one("#action-log", ActionLog).show(item)
            return
        self.state = "finished"
        if isinstance(item, Verdict):
            self.verdict = item
            self.query_one("#verdict", Static).update(verdict_text(item))
            self.query_one("#verdict").set_classes("-ok" if item.ok else "-failed")
            self._note(Text("Finished. Esc closes."), "info")
        else:
            self.query_one("#verdict", Static).update(Text("REFUSED  ", style="bold red")
                                                      + Text(item))
            self._note(Text("Nothing was run. Esc closes."), "info")

    def action_close(self) -> None:
        if self.state == "running":
            self.app.bell()  # the procedure is half done: watch it finish
            return
        self.dismiss(self.verdict)

