"""The Stacks screen (layers, desired/running replicas) and the Deploy screen (plan,
confirmation, per-service progress, verdict). Workers never touch widgets: they post
messages; the screens hold no deploy logic (wpfarm_tui/stacks/deploy.py does)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from wpfarm_tui.actions import Action, AuditLog, Step, StepEvent, Verdict, execute
from wpfarm_tui.inventory import Farm
from wpfarm_tui.stacks.deploy import DeployAction, ServiceState, service_states
from wpfarm_tui.widgets.action_log import ActionLog, verdict_text
from wpfarm_tui.widgets.stacks_pane import StacksPane


class StatesRead(Message):
    def __init__(self, states: Sequence[ServiceState] | None, error: str | None) -> None:
        super().__init__()
        self.states = states
        self.error = error


class StacksScreen(Screen[None]):
    """`d` opens the deploy screen for every layer; `r` refreshes now."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "refresh", "Refresh"),
        Binding("d", "deploy", "Deploy…"),
    ]

    def __init__(self, farm: Farm, render_dir: Path, override_dirs: Sequence[Path] = (),
                 interval: float = 2.0,
                 client_factory: Callable[[], object] | None = None) -> None:
        super().__init__()
        self.farm = farm
        self.render_dir = Path(render_dir)
        self.override_dirs = tuple(override_dirs)
        self.interval = interval
        self.client_factory = client_factory

    def compose(self) -> ComposeResult:
        yield Header()
        yield StacksPane()
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh()

    def _client(self):
        if self.client_factory:
            return self.client_factory()
        from wpfarm_tui.farm.docker import client

        return client(self.farm.endpoints.docker)

    def action_refresh(self) -> None:
        self._poll()

    @work(thread=True, exclusive=True, group="stacks-poll")
    def _poll(self) -> None:
        try:
            cli = self._client()
            try:
                states = service_states(cli.api)
            finally:
                cli.close()
            self.post_message(StatesRead(states, None))
        except Exception as exc:  # noqa: BLE001 - a failed source becomes a value
            self.post_message(StatesRead(None, f"{type(exc).__name__}: {exc}"))

    def on_states_read(self, message: StatesRead) -> None:
        pane = self.query_one(StacksPane)
        if message.states is not None:
            pane.show(message.states)
        else:
            pane.show_error(message.error or "unknown error")
        # Re-arm only after this poll finished: polls never pile up.
        self.set_timer(self.interval, self.action_refresh)

    def action_deploy(self) -> None:
        # self.farm is the session's (the App folded --read-only into it).
        self.app.push_screen(DeployScreen(DeployAction(
            self.farm, self.render_dir, (), override_dirs=self.override_dirs),
            read_only=self.farm.read_only))


class DeployItem(Message):
    def __init__(self, item: Step | StepEvent | Verdict | Exception) -> None:
        super().__init__()
        self.item = item


class DeployScreen(Screen[None]):
    """Plan first; once it is shown, Enter runs it, Esc leaves. A read-only session is
    refused by `execute` (audited) and shows the refusal instead of a plan."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        # Priority: the plan table has the focus and would take Enter for itself (select
        # a row), so the operator's first Enter deployed nothing.
        Binding("enter", "run", "Deploy", priority=True),
    ]

    def __init__(self, action: Action, *, read_only: bool,
                 audit: AuditLog | None = None) -> None:
        super().__init__()
        self.action_obj = action
        self.audit = audit or AuditLog()
        self.read_only = read_only
        self.state = "planning"  # planning | planned | running | finished | failed

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Deploy: reading the plan…", id="deploy-status")
        plan = DataTable(id="deploy-plan", cursor_type="row")
        plan.border_title = "Plan"
        yield plan
        progress = DataTable(id="deploy-progress")
        progress.border_title = "Services"
        yield progress
        yield ActionLog(id="deploy-log", max_lines=500)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#deploy-plan", DataTable).add_columns("Step", "Detail")
        self.query_one("#deploy-progress", DataTable).add_columns("Service", "State")
        self._execute(dry_run=True)

    def action_run(self) -> None:
        if self.state != "planned":  # no plan shown yet (or refused, or done): nothing runs
            self.app.bell()
            return
        self.state = "running"
        self.query_one("#deploy-status", Static).update("Deploying…")
        self._execute(dry_run=False)

    @work(thread=True, exclusive=True, group="deploy")
    def _execute(self, dry_run: bool) -> None:
        try:
            for item in execute(self.action_obj, audit=self.audit, read_only=self.read_only,
                                dry_run=dry_run, confirmed=True):
                if dry_run or not isinstance(item, Step):
                    self.post_message(DeployItem(item))
        except Exception as exc:  # noqa: BLE001 - shown, never raised into the UI
            self.post_message(DeployItem(exc))
            return
        if dry_run:
            self.post_message(DeployItem(Verdict(True, "plan ready: Enter deploys, Esc "
                                                       "leaves")))

    def on_deploy_item(self, message: DeployItem) -> None:
        item = message.item
        status = self.query_one("#deploy-status", Static)
        if isinstance(item, Step):
            self.query_one("#deploy-plan", DataTable).add_row(item.name, item.detail)
        elif isinstance(item, StepEvent):
            self.query_one("#deploy-log", ActionLog).show(item)
            table = self.query_one("#deploy-progress", DataTable)
            if "_" in item.step and not item.step.startswith(("converge", "network",
                                                              "config", "stack")):
                text = item.message or item.kind
                if item.step in {k.value for k in table.rows}:
                    table.update_cell(item.step, table.ordered_columns[1].key, text)
                else:
                    table.add_row(item.step, text, key=item.step)
        elif isinstance(item, Verdict):
            self.state = "planned" if self.state == "planning" else "finished"
            status.update(verdict_text(item, details=False))
            self.query_one("#deploy-log", ActionLog).show_details(item)
        else:
            self.state = "failed"
            status.update(Text(f"deploy refused: {item}", style="bold red"))
