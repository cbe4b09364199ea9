"""The console's App: the farm and its settings, themes, the command palette, and the
screens an operator opens from it (actions, restore, stacks, logs, shells, help).

The main screen, tabs, status bar and poll loop, is screens/console.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

from wpfarm_tui.actions import with_read_only
from wpfarm_tui.actions.catalog import BY_NAME, CATALOG, Context
from wpfarm_tui.contexts import contexts
from wpfarm_tui.inventory import Farm, InventoryError, load_farm
from wpfarm_tui.screens.action import ActionScreen
from wpfarm_tui.screens.console import Clock, ConsoleScreen
from wpfarm_tui.screens.help import HelpScreen
from wpfarm_tui.status.base import Collector
from wpfarm_tui.status.panes import PANES
from wpfarm_tui.themes import DARK, LIGHT, load_themes
from wpfarm_tui.widgets.backups_pane import BackupsPane
from wpfarm_tui.widgets.sites_pane import SitesPane

if TYPE_CHECKING:
    from wpfarm_tui.status.model import SiteRow
    from wpfarm_tui.status.recording import Recorder  # only --record loads it


class PaneCommands(Provider):
    """Command palette: "Go to <pane>", "Theme: dark/light", "Refresh all now"."""

    def _commands(self) -> Iterator[tuple[str, Callable[[], Any], str]]:
        app = self.app
        if not isinstance(app, WpfarmApp):
            return
        for spec in PANES:
            if spec.key in app.pane_ids:
                yield (f"Go to {spec.title}",
                       partial(app.console_screen.action_show_pane, spec.key),
                       f"Show the {spec.title} tab (key {spec.number})")
        yield "Theme: dark", partial(app.action_set_theme, DARK), "Dark theme"
        yield "Theme: light", partial(app.action_set_theme, LIGHT), "Light theme"
        yield "Refresh all now", app.console_screen.action_refresh, "Poll every pane now (key r)"
        yield ("Go to Alerts", partial(app.console_screen.action_show_pane, "alerts"),
               "Show the Alerts tab (key 7)")
        for entry in CATALOG:
            yield (f"Run: {entry.title}", partial(app.open_action, entry.name),
                   f"wpfarm {' '.join(entry.cli)}".replace("{", "<").replace("}", ">"))
        for context in contexts():
            if app.farm.source is None or context.path.resolve() != app.farm.source.resolve():
                yield (f"Farm: switch to {context.name}", partial(app.switch_farm, context.path),
                       f"Close this farm and open {context.path} (wpfarm --context "
                       f"{context.name})")

    async def discover(self) -> Hits:
        for text, command, help_text in self._commands():
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, command, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)


class WpfarmApp(App[Farm | None]):
    """The operations console of one farm."""

    CSS_PATH = "app.tcss"
    TITLE = "wpfarm"
    COMMANDS: ClassVar = App.COMMANDS | {PaneCommands}

    BINDINGS: ClassVar = [
        Binding("ctrl+t", "toggle_theme", "Theme"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        farm: Farm,
        collectors: Sequence[Collector],
        theme: str = DARK,
        poll: bool = True,
        *,
        clock: Clock | None = None,
        read_only: bool = False,
        action_context: Context | None = None,
        console: ConsoleScreen | None = None,
    ) -> None:
        """`clock` gives the time shown as "refreshed"; tests pass a fixed one.
        `read_only` (or farm.read_only) refuses every action; `action_context` gives the
        actions what the farm file does not say yet (default: `Context.for_farm`);
        `console` replaces the live console screen (a replay, a recording one)."""
        super().__init__()
        for loaded in load_themes().values():
            self.register_theme(loaded)
        self.theme = theme
        # The session's farm: --read-only folded in once, so every screen opened from here
        # (actions, restore, stacks and deploy, shells) reads one flag.
        self.farm = farm = with_read_only(farm, read_only)
        self.console_screen = console or ConsoleScreen(farm, collectors, poll=poll,
                                                       clock=clock)
        self.read_only = farm.read_only
        self._action_context = action_context

    # ------------------------------------------------------------ layout
    def get_theme_variable_defaults(self) -> dict[str, str]:
        # So app.tcss parses whatever the theme: a theme file overrides these.
        return {
            "level-ok": "#5fd75f",
            "level-warning": "#ffd700",
            "level-critical": "#ff5f5f",
            "level-unknown": "#87afff",
            "level-critical-text": "#000000",
        }

    def get_default_screen(self) -> Screen[Any]:
        return self.console_screen

    # What tests and the benchmarks read of the console, by their old names.
    @property
    def snapshots(self) -> dict[str, Any]:
        return self.console_screen.snapshots

    @property
    def pane_ids(self) -> list[str]:
        return self.console_screen.pane_ids

    # ------------------------------------------------------------ polling
    # ------------------------------------------------------------ alerts + actions
    @property
    def action_context(self) -> Context:
        if self._action_context is None:
            self._action_context = Context.for_farm(self.farm)
        return self._action_context

    def open_action(self, name: str, values: dict[str, str] | None = None) -> None:
        """Open the action screen of a catalog entry (palette, pane keys, Alerts' Enter)."""
        self.push_screen(ActionScreen(BY_NAME[name], self.farm, self.action_context,
                                      values=values))

    def on_sites_pane_site_opened(self, message: SitesPane.SiteOpened) -> None:
        from wpfarm_tui.screens.site import SiteScreen

        domain = message.domain

        def row() -> SiteRow | None:
            snapshot = self.console_screen.snapshots.get("sites")
            return next((s for s in getattr(snapshot, "sites", ()) if s.domain == domain),
                        None)

        self.push_screen(SiteScreen(domain, row, self.open_action,
                                    max(self.farm.refresh.interval, 1.0)))

    def on_backups_pane_restore_requested(self, message: BackupsPane.RestoreRequested) -> None:
        """The restore screen needs the site's snapshots: read them off the UI thread."""
        self.run_worker(partial(self._open_restore, message.domain), thread=True,
                        group="restore", exclusive=True)

    def _open_restore(self, domain: str) -> None:
        from wpfarm_tui.actions.restore import RestoreAction
        from wpfarm_tui.farm.restic import Restic, ResticError
        from wpfarm_tui.screens.restore import RestoreScreen

        if self.farm.backup is None:
            self.call_from_thread(self.notify, "no backup: section in farm.yaml", severity="error")
            return
        try:
            snapshots = Restic(self.farm.backup, self.farm).snapshots([f"site={domain}"])
        except ResticError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=10)
            return
        farm = self.farm

        def make_action(ids: list[str], drill: bool) -> RestoreAction:
            return RestoreAction(farm, domain, snapshots=ids, drill=drill)

        self.call_from_thread(self.push_screen, RestoreScreen(
            domain, snapshots, make_action=make_action, read_only=self.read_only))

    def action_stacks(self) -> None:
        """The Stacks screen: layers, replicas, deploy. The rendered farm lives in render/
        beside farm.yaml (`wpfarm render`); a lab's overrides under render/docker/."""
        from wpfarm_tui.screens.stacks import StacksScreen

        base = self.farm.source.parent if self.farm.source else Path.cwd()
        render_dir = base / "render"
        lab_dirs = [render_dir / "docker" / "compose" / "lab", render_dir / "docker" / "lab" /
                    "compose"]
        self.push_screen(StacksScreen(self.farm, render_dir,
                                      override_dirs=[d for d in lab_dirs if d.is_dir()],
                                      interval=max(self.farm.refresh.interval, 2.0)))

    def open_service_logs(self, service: str) -> None:
        from wpfarm_tui.actions.swarm import service_log_stream
        from wpfarm_tui.screens.logs import LogsScreen

        farm = self.farm
        self.push_screen(LogsScreen(f"service {service}", lambda: service_log_stream(
            farm, service, tail=200, follow=True)))

    def open_site_logs(self, domain: str) -> None:
        from wpfarm_tui.screens.logs import LogsScreen
        from wpfarm_tui.sites.runtime import site_log_stream

        farm = self.farm
        self.push_screen(LogsScreen(f"site {domain}", lambda: site_log_stream(
            farm, domain, tail=200, follow=True)))

    def open_shell(self, service: str) -> None:
        """A shell in a task of `service`, the console suspended until it exits. Refused in
        read-only mode: a shell can change anything."""
        from wpfarm_tui.actions import AuditLog, ReadOnlyError, guard_read_only

        try:
            guard_read_only("service-shell", {"service": service}, read_only=self.read_only,
                            audit=AuditLog())
        except ReadOnlyError as exc:
            self.notify(str(exc), severity="error")
            return
        self.run_worker(partial(self._find_task, service), thread=True, group="shell",
                        exclusive=True, exit_on_error=False)

    def _find_task(self, service: str) -> None:
        """Worker thread: the task lookup asks the Docker API; the shell runs on the UI
        thread, which is what suspending the console needs."""
        from wpfarm_tui.actions import ActionError
        from wpfarm_tui.actions.swarm import task_shell

        try:
            shell = task_shell(self.farm, service)
        except ActionError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=10)
            return
        self.call_from_thread(self._run_shell, shell)

    def _run_shell(self, shell: Any) -> None:
        from textual.app import SuspendNotSupported

        from wpfarm_tui.commands.swarm import run_shell

        try:
            with self.suspend():
                code = run_shell(shell)
        except SuspendNotSupported:
            self.notify(f"this terminal cannot hand over to a shell: run `wpfarm service shell "
                        f"{shell.service}` instead", severity="error", timeout=10)
            return
        self.notify(f"shell in {shell.service} ({shell.task}) ended: exit {code}")
        self.refresh(layout=True)

    # ------------------------------------------------------------ display helpers
    # ------------------------------------------------------------ actions
    def action_set_theme(self, name: str) -> None:
        self.theme = name

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def switch_farm(self, path: Path) -> None:
        """Leave this farm for another: run_console opens it once this app has closed. A farm
        file with problems is reported here and this farm stays open."""
        try:
            farm = load_farm(path)
        except InventoryError as exc:
            self.notify(str(exc), title=f"cannot open {path.name}", severity="error",
                        timeout=15)
            return
        self.exit(farm)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.console_screen.help_rows()))


def run_console(farm: Farm, collectors: Sequence[Collector], theme: str = DARK,
                read_only: bool = False, recorder: Recorder | None = None) -> None:
    """Open the console on this terminal until the operator quits; a farm switched to from
    the palette opens in its place (its own farm.yaml decides its read-only mode, and
    --read-only still holds). `recorder` (--record) gets the first farm's snapshots."""
    from wpfarm_tui.status.collectors import build_collectors, close_collectors

    while True:
        console = ConsoleScreen(with_read_only(farm, read_only), collectors,
                                recorder=recorder) if recorder else None
        recorder = None
        try:
            switch_to = WpfarmApp(farm, collectors, theme=theme, read_only=read_only,
                                  console=console).run()
        finally:
            close_collectors(collectors)  # the farm left behind keeps no connection open
        if switch_to is None:
            return
        farm, collectors = switch_to, build_collectors(switch_to, live=True)


__all__ = ["PaneCommands", "WpfarmApp", "run_console"]
