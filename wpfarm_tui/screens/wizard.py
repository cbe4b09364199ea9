"""The first-time setup wizard: farm, nodes (checked over SSH), review, write.

Opens when no farm.yaml is found, or with `wpfarm init` and no arguments.
Node checks run in thread workers; a host key is trusted only after the
operator has seen its fingerprint and chosen Trust (Cancel is focused).
Nothing is written until the last step, and then atomically.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label, Select, Static

from wpfarm_tui.farm import ssh
from wpfarm_tui.inventory import Node, SshSettings
from wpfarm_tui.setup.node_check import check_node
from wpfarm_tui.setup.profiles import PROFILES, NodeFacts, shortfalls
from wpfarm_tui.setup.writer import (
    FarmAnswers,
    NodeAnswer,
    render_farm_yaml,
    validate_answers,
    write_farm_yaml,
)
from wpfarm_tui.themes import DARK, load_themes


class TrustKeyScreen(ModalScreen[bool]):
    """Shows a node's host key fingerprint; dismisses True only on Trust."""

    BINDINGS: ClassVar = [Binding("escape", "dismiss(False)", "Cancel")]

    def __init__(self, node_name: str, key: ssh.HostKey) -> None:
        super().__init__()
        self.node_name = node_name
        self.key = key

    def compose(self) -> ComposeResult:
        with Vertical(id="trust-dialog"):
            yield Label(f"Trust the host key of {self.node_name}?", id="trust-title")
            yield Static(
                f"{self.key.host_entry} offers a {self.key.key_type} key:\n\n"
                f"  {self.key.fingerprint}\n\n"
                "Compare it with the node's own (on the node: "
                "ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) before trusting it.",
                id="trust-body")
            with Horizontal(id="trust-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Trust", id="trust", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#trust")
    def trust(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def cancel(self) -> None:
        self.dismiss(False)


class FarmStep(Screen[None]):
    """Step 1: the farm's name, domain and topology profile."""

    def compose(self) -> ComposeResult:
        app: WizardApp = self.app  # type: ignore[assignment]
        yield Header()
        with VerticalScroll(classes="step"):
            yield Label("Step 1 of 3 · The farm", classes="step-title")
            yield Label("Farm name (short, lowercase)")
            yield Input(app.answers.name, id="name", placeholder="prod-eu1")
            yield Label("Base domain")
            yield Input(app.answers.domain, id="domain", placeholder="example.com")
            yield Label("Node topology (a starting point: edit the nodes next)")
            yield Select([(f"{p.title}: {p.description}", key) for key, p in PROFILES.items()],
                         value=app.profile_key, allow_blank=False, id="profile")
            yield Static("", id="errors", classes="errors")
            yield Button("Next: nodes", id="next", variant="primary")
        yield Footer()

    @on(Button.Pressed, "#next")
    def next_step(self) -> None:
        app: WizardApp = self.app  # type: ignore[assignment]
        name = self.query_one("#name", Input).value.strip()
        domain = self.query_one("#domain", Input).value.strip()
        profile = str(self.query_one("#profile", Select).value)
        probe = FarmAnswers(name, domain, PROFILES[profile].key,
                            (NodeAnswer("probe", "127.0.0.1"),))
        problems = [p for p in validate_answers(probe) if p.startswith(("name", "domain"))]
        if problems:
            self.query_one("#errors", Static).update("\n".join(problems))
            return
        app.set_farm(name, domain, profile)
        app.push_screen(NodesStep())


class NodesStep(Screen[None]):
    """Step 2: every node's address and SSH settings, each checked over SSH."""

    BINDINGS: ClassVar = [Binding("ctrl+k", "check", "Check node")]
    COLUMNS = ("Node", "Address", "User", "Port", "Key", "Roles", "Host key", "Check")

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(classes="step"):
            yield Label("Step 2 of 3 · The nodes (select a row, edit, Save, Check)",
                        classes="step-title")
            yield DataTable(id="nodes", cursor_type="row")
            with Horizontal(id="node-form"):
                yield Input(id="n-name", placeholder="name")
                yield Input(id="n-address", placeholder="address")
                yield Input(id="n-user", placeholder="user")
                yield Input(id="n-port", placeholder="port")
                yield Input(id="n-key", placeholder="key (empty: agent)")
                yield Input(id="n-roles", placeholder="roles: manager+db")
            with Horizontal(id="node-buttons"):
                yield Button("Save", id="save")
                yield Button("Check over SSH", id="check")
                yield Button("Back", id="back")
                yield Button("Next: review", id="next", variant="primary")
            yield Static("", id="errors", classes="errors")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#nodes", DataTable)
        for column in self.COLUMNS:
            table.add_column(column, key=column.lower())
        app: WizardApp = self.app  # type: ignore[assignment]
        for i in range(len(app.answers.nodes)):
            table.add_row(*self._cells(i), key=str(i))
        table.focus()
        self._load_form(0)

    def _cells(self, index: int) -> tuple[str, ...]:
        app: WizardApp = self.app  # type: ignore[assignment]
        n = app.answers.nodes[index]
        return (n.name, n.address or "—", n.user, str(n.port), n.key or "agent",
                "+".join(n.roles), app.host_key_state.get(n.name, "not checked"),
                app.check_result.get(n.name, ""))

    def _refresh_row(self, index: int) -> None:
        table = self.query_one("#nodes", DataTable)
        for column, value in zip(self.COLUMNS, self._cells(index), strict=True):
            table.update_cell(str(index), column.lower(), value, update_width=True)

    def _selected(self) -> int:
        return self.query_one("#nodes", DataTable).cursor_row

    def _load_form(self, index: int) -> None:
        app: WizardApp = self.app  # type: ignore[assignment]
        if not 0 <= index < len(app.answers.nodes):
            return
        n = app.answers.nodes[index]
        for field, value in (("name", n.name), ("address", n.address), ("user", n.user),
                             ("port", str(n.port)), ("key", n.key or ""),
                             ("roles", "+".join(n.roles))):
            self.query_one(f"#n-{field}", Input).value = value

    @on(DataTable.RowHighlighted, "#nodes")
    def row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._load_form(event.cursor_row)

    @on(Button.Pressed, "#save")
    def save(self) -> bool:
        app: WizardApp = self.app  # type: ignore[assignment]
        index = self._selected()
        port_text = self.query_one("#n-port", Input).value.strip()
        errors = self.query_one("#errors", Static)
        if not port_text.isdigit():
            errors.update(f"nodes[{index}].port: {port_text!r} is not a number. Fix: 1-65535")
            return False
        node = NodeAnswer(
            name=self.query_one("#n-name", Input).value.strip(),
            address=self.query_one("#n-address", Input).value.strip(),
            user=self.query_one("#n-user", Input).value.strip() or "root",
            port=int(port_text),
            key=self.query_one("#n-key", Input).value.strip() or None,
            roles=tuple(r for r in self.query_one("#n-roles", Input).value.split("+") if r),
        )
        trial = replace(app.answers, nodes=tuple(
            node if i == index else n for i, n in enumerate(app.answers.nodes)))
        problems = [p for p in validate_answers(trial) if p.startswith(f"nodes[{index}]")]
        if problems:
            errors.update("\n".join(problems))
            return False
        errors.update("")
        app.answers = trial
        self._refresh_row(index)
        return True

    @on(Button.Pressed, "#check")
    def action_check(self) -> None:
        if self.save():
            self._fetch_key(self._selected())

    @work(thread=True, exclusive=True)
    def _fetch_key(self, index: int) -> None:
        app: WizardApp = self.app  # type: ignore[assignment]
        node = app.answers.nodes[index]
        try:
            key = ssh.fetch_host_key(node.address, node.port, app.timeout)
            verdict = ssh.known_key(key, app.known_hosts)
        except ssh.SshError as exc:
            self.app.call_from_thread(self._checked, index, "unreachable", str(exc))
            return
        if verdict == "changed":
            self.app.call_from_thread(
                self._checked, index, "CHANGED",
                f"{node.name}: the host key CHANGED; refusing. If the node was rebuilt, "
                f"remove the old key (ssh-keygen -R '{key.host_entry}') and check again")
        elif verdict == "unknown":
            self.app.call_from_thread(self._ask_trust, index, key)
        else:
            self._read_facts(index, "trusted")

    def _ask_trust(self, index: int, key: ssh.HostKey) -> None:
        app: WizardApp = self.app  # type: ignore[assignment]
        node = app.answers.nodes[index]

        def decided(trusted: bool | None) -> None:
            if not trusted:
                self._checked(index, "not trusted", "host key not trusted: nothing checked")
                return
            try:
                ssh.trust_host_key(key, app.known_hosts)
            except ssh.SshError as exc:
                self._checked(index, "CHANGED", str(exc))
                return
            self._facts_worker(index)

        app.push_screen(TrustKeyScreen(node.name, key), decided)

    @work(thread=True, exclusive=True)
    def _facts_worker(self, index: int) -> None:
        self._read_facts(index, "trusted now")

    def _read_facts(self, index: int, key_state: str) -> None:
        """Runs in a worker thread."""
        app: WizardApp = self.app  # type: ignore[assignment]
        n = app.answers.nodes[index]
        node = Node(n.name, n.address, SshSettings(n.user, n.port,
                                                    Path(n.key).expanduser() if n.key else None),
                    frozenset(n.roles))
        try:
            facts = check_node(node, app.timeout, app.known_hosts)
        except ssh.SshError as exc:
            self.app.call_from_thread(self._checked, index, key_state, str(exc))
            return
        self.app.call_from_thread(self._checked, index, key_state, None, facts)

    def _checked(self, index: int, key_state: str, error: str | None,
                 facts: NodeFacts | None = None) -> None:
        app: WizardApp = self.app  # type: ignore[assignment]
        name = app.answers.nodes[index].name
        app.host_key_state[name] = key_state
        if facts is not None:
            warnings = shortfalls(facts, PROFILES[app.profile_key])
            docker = f"Docker {facts.docker}" if facts.docker else "no Docker"
            app.check_result[name] = (f"ok: {facts.cpus} CPU, {facts.ram_gb:.1f} GB, {docker}"
                                      + (f" · {len(warnings)} warning(s)" if warnings else ""))
            self.query_one("#errors", Static).update("\n".join(warnings))
        else:
            app.check_result[name] = "failed"
            self.query_one("#errors", Static).update(error or "")
        self._refresh_row(index)

    @on(Button.Pressed, "#back")
    def back(self) -> None:
        self.app.pop_screen()

    @on(Button.Pressed, "#next")
    def next_step(self) -> None:
        app: WizardApp = self.app  # type: ignore[assignment]
        problems = validate_answers(app.answers)
        if problems:
            self.query_one("#errors", Static).update("\n".join(problems))
            return
        app.push_screen(ReviewStep())


class ReviewStep(Screen[None]):
    """Step 3: the farm.yaml that will be written, and where."""

    def compose(self) -> ComposeResult:
        app: WizardApp = self.app  # type: ignore[assignment]
        yield Header()
        with Vertical(classes="step"):
            yield Label("Step 3 of 3 · Review and write", classes="step-title")
            unchecked = [n.name for n in app.answers.nodes
                         if not app.check_result.get(n.name, "").startswith("ok")]
            if unchecked:
                yield Static(f"Not checked over SSH: {', '.join(unchecked)}", classes="errors")
            with VerticalScroll(id="preview"):
                yield Static(render_farm_yaml(app.answers), id="yaml")
            yield Label("Write to")
            yield Input(str(app.output), id="output")
            with Horizontal():
                yield Button("Back", id="back")
                yield Button("Write farm.yaml", id="write", variant="primary")
            yield Static("", id="errors", classes="errors")
        yield Footer()

    @on(Button.Pressed, "#back")
    def back(self) -> None:
        self.app.pop_screen()

    @on(Button.Pressed, "#write")
    def write(self) -> None:
        app: WizardApp = self.app  # type: ignore[assignment]
        path = Path(self.query_one("#output", Input).value.strip()).expanduser()
        try:
            write_farm_yaml(app.answers, path)
        except (FileExistsError, OSError, ValueError) as exc:
            self.query_one("#errors", Static).update(str(exc))
            return
        app.exit(path)


class WizardApp(App[Path | None]):
    """Returns the path of the written farm.yaml, or None when abandoned."""

    CSS_PATH = "../wizard.tcss"
    TITLE = "wpfarm · new farm"
    BINDINGS: ClassVar = [Binding("ctrl+q", "quit", "Quit without writing")]

    def __init__(self, output: Path, known_hosts: Path | None = None, timeout: float = 10.0,
                 theme: str = DARK) -> None:
        super().__init__()
        for loaded in load_themes().values():
            self.register_theme(loaded)
        self.theme = theme
        self.output = output
        self.known_hosts = known_hosts
        self.timeout = timeout
        self.profile_key = "small"
        self.answers = FarmAnswers("", "", "small", ())
        self.host_key_state: dict[str, str] = {}
        self.check_result: dict[str, str] = {}
        self.set_farm("", "", "small")

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {"level-ok": "#5fd75f", "level-warning": "#ffd700", "level-critical": "#ff5f5f",
                "level-unknown": "#87afff", "level-critical-text": "#000000"}

    def set_farm(self, name: str, domain: str, profile_key: str) -> None:
        """Keep nodes already typed when the profile stays; start from its slots otherwise."""
        profile = PROFILES[profile_key]
        nodes = self.answers.nodes
        if profile_key != self.profile_key or not nodes:
            nodes = tuple(NodeAnswer(s.name, "", roles=s.roles) for s in profile.slots)
        self.profile_key = profile_key
        self.answers = FarmAnswers(name, domain, profile.key, nodes)

    def on_mount(self) -> None:
        self.push_screen(FarmStep())
