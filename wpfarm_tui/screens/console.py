"""The console's main screen: one tab per pane, polled in thread workers, Dolphie style.

Flow: a timer starts `collector.collect()` in a thread worker; the worker
posts `SnapshotReady(pane, snapshot)`; the handler shows it (inside
`batch_update()`), updates the status bar, and only then re-arms that pane's
timer with its `Backoff`. So polls never pile up, panes poll concurrently,
and a slow source holds up nothing but its own pane. Workers never touch
widgets. The App (app.py) owns what outlives this screen: the farm and its
settings, themes, the palette and the screens actions open.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.theme import Theme
from textual.timer import Timer
from textual.widgets import Footer, TabbedContent, TabPane

from wpfarm_tui import keys
from wpfarm_tui.inventory import Farm
from wpfarm_tui.screens.graphs import GraphScreen
from wpfarm_tui.status.alerts import alerts_from
from wpfarm_tui.status.backups import BackupsSnapshot
from wpfarm_tui.status.base import Collector
from wpfarm_tui.status.incidents import Incident, incidents_from, maintenance_flags
from wpfarm_tui.status.model import GaleraSnapshot, SourceHealth
from wpfarm_tui.status.panes import BY_KEY, PANES, pane_list
from wpfarm_tui.status.schedule import Backoff
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.widgets import cells
from wpfarm_tui.widgets.alerts_pane import AlertsPane
from wpfarm_tui.widgets.base_pane import BasePane
from wpfarm_tui.widgets.sites_pane import SitesPane
from wpfarm_tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from wpfarm_tui.app import WpfarmApp
    from wpfarm_tui.status.recording import Recorder

Clock = Callable[[], datetime]


def pane_widget_class(pane: str) -> type[BasePane]:
    """The widget a pane's row in status/panes.py names."""
    module, _, name = BY_KEY[pane].widget.partition(":")
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, BasePane), cls
    return cls


Clock = Callable[[], datetime]


def failed_snapshot(pane: str, source: str, message: str) -> Any:
    """An empty snapshot of `pane`'s type whose one source is in error."""
    health = SourceHealth(source, "error", message)
    if pane == "galera":
        return GaleraSnapshot(sources=(health,), level=Level.CRITICAL)
    return BY_KEY[pane].snapshot(sources=(health,))


class SnapshotReady(Message):
    """Posted by a poll worker (from its thread) with what the collector returned."""

    def __init__(self, pane: str, snapshot: Any) -> None:
        super().__init__()
        self.pane = pane
        self.snapshot = snapshot


class ConsoleScreen(Screen[None]):
    """The tabs, the status bar and the poll loop of one farm."""

    BINDINGS: ClassVar = [
        *(Binding(p.number, f"show_pane('{p.key}')", p.key.capitalize(), show=False)
          for p in PANES),
        Binding("7", "show_pane('alerts')", "Alerts", show=False),
        Binding("s", "app.stacks", "Stacks"),  # here, so the footer keeps its order
        Binding("b", "pane_key('b')", "Ban", show=False),
        Binding("u", "pane_key('u')", "Unban", show=False),
        Binding("p", "pane_key('p')", "Purge", show=False),
        Binding("l", "pane_key('l')", "Logs", show=False),
        Binding("x", "pane_key('x')", "Shell", show=False),
        Binding("n", "pane_key('n')", "New site", show=False),
        Binding("d", "pane_key('d')", "Delete site", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("g", "graphs", "Graphs"),
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, farm: Farm, collectors: Sequence[Collector], *, poll: bool = True,
                 clock: Clock | None = None, recorder: Recorder | None = None,
                 journal: bool = True) -> None:
        """`clock` gives the time shown as "refreshed"; tests pass a fixed one. `recorder`
        gets every snapshot a poll brings (--record); `journal` False keeps the incident
        journal untouched (a replay is not the farm now)."""
        super().__init__()
        self.farm = farm
        self.poll = poll
        self.recorder = recorder
        self.journal = journal
        self.clock: Clock = clock or (lambda: datetime.now().astimezone())
        self.collectors: dict[str, Collector] = {}
        for collector in collectors:
            if collector.pane in BY_KEY:
                self.collectors[collector.pane] = collector
        self.pane_ids: list[str] = [p.key for p in PANES if p.key in self.collectors]
        # A source that is costly to ask (restic derives its key on every call) sets
        # `min_interval`: it is polled no faster than that, whatever farm.refresh says.
        self.backoffs = {
            p: Backoff(max(farm.refresh.interval,
                           getattr(self.collectors[p], "min_interval", 0.0)),
                       max(farm.refresh.max_backoff,
                           getattr(self.collectors[p], "min_interval", 0.0)))
            for p in self.pane_ids
        }
        self.snapshots: dict[str, Any] = {}
        self.last_delay: dict[str, float] = {}
        self.refreshed_at: datetime | None = None
        self._polling: set[str] = set()
        self._poll_timers: dict[str, Timer] = {}

    @property
    def wpfarm(self) -> WpfarmApp:
        return cast("WpfarmApp", self.app)

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs"):
            for pane in self.pane_ids:
                with TabPane(Content.from_rich_text(self._tab_label(pane)), id=pane):
                    yield pane_widget_class(pane)(self.farm.thresholds, id=f"{pane}-pane")
            with TabPane(Content.from_rich_text(self._alerts_label()), id="alerts"):
                yield AlertsPane(id="alerts-pane")
        yield StatusBar(self.farm.name, self.farm.profile, self.farm.read_only, id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._on_theme_changed)
        for pane, early in list(self.snapshots.items()):
            self.apply_snapshot(pane, early)
        self._apply_palette()
        if self.pane_ids:
            self._focus_pane(self.pane_ids[0])
        if self.poll:
            for pane in self.pane_ids:
                self._start_poll(pane)

    def pane_title(self, pane: str) -> str:
        return BY_KEY[pane].title

    def pane_widget(self, pane: str) -> BasePane | None:
        if pane not in self.pane_ids:
            return None
        # Query from the default screen: a modal (help, palette) may be on top,
        # and during shutdown the pane may already be gone.
        found = self.query(f"#{pane}-pane")
        return next((w for w in found if isinstance(w, BasePane)), None)

    @property
    def current_pane(self) -> str | None:
        active = self.query_one("#tabs", TabbedContent).active
        return active or None

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    @property
    def palette(self) -> cells.Palette:
        return cells.Palette.from_variables(self.app.current_theme.variables)

    def _start_poll(self, pane: str) -> None:
        """Start one poll of `pane` unless one is already running."""
        if pane in self._polling or pane not in self.collectors:
            return
        timer = self._poll_timers.pop(pane, None)
        if timer is not None:
            timer.stop()
        self._polling.add(pane)
        self.run_worker(
            partial(self._collect, self.collectors[pane]),
            name=f"poll-{pane}",
            group=f"poll-{pane}",
            exclusive=True,
            thread=True,
            exit_on_error=False,
        )

    def _collect(self, collector: Collector) -> None:
        """Runs in a worker thread: collect, and post the result. Never raises."""
        pane = collector.pane
        try:
            snapshot = collector.collect()
            if not isinstance(snapshot, BY_KEY[pane].snapshot):
                raise TypeError(f"collector returned {type(snapshot).__name__}")
        except Exception as exc:  # noqa: BLE001 - a broken collector is shown, not fatal
            name = BY_KEY[pane].title
            message = f"collector failed: {type(exc).__name__}: {exc}"
            snapshot = failed_snapshot(pane, name, message)
        self.post_message(SnapshotReady(pane, snapshot))

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        pane = message.pane
        self._polling.discard(pane)
        self.apply_snapshot(pane, message.snapshot)
        if self.recorder is not None:
            try:
                self.recorder.write(pane, message.snapshot)
            except OSError as exc:  # a full disk stops the recording, not the console
                self.app.notify(f"recording stopped: {exc}", severity="error")
                self.recorder = None
        if self.poll and pane in self.backoffs:
            ok = all(s.ok for s in message.snapshot.sources)
            delay = self.backoffs[pane].next_delay(ok)
            self.last_delay[pane] = delay
            self._poll_timers[pane] = self.set_timer(delay, partial(self._start_poll, pane))

    def apply_snapshot(self, pane: str, snapshot: Any) -> None:
        """Show `snapshot` in `pane` and update the tab marker and the status bar.

        The poll handler calls this; tests call it directly (with poll=False). One that
        arrives before the panes are composed is kept and shown when they are (on_mount).
        """
        widget = self.pane_widget(pane)
        if widget is None:
            if pane in self.pane_ids and not self.is_mounted:
                self.snapshots[pane] = snapshot
            return
        with self.app.batch_update():
            try:
                widget.show(snapshot)
            except Exception as exc:  # noqa: BLE001 - odd data must not kill the console
                self.app.log.error(f"pane {pane}: cannot show snapshot: {exc!r}")
                snapshot = failed_snapshot(pane, self.pane_title(pane),
                                           f"cannot display: {type(exc).__name__}: {exc}")
                try:
                    widget.show(snapshot)
                except Exception as again:  # noqa: BLE001
                    self.app.log.error(f"pane {pane}: cannot show the error either: {again!r}")
            self.snapshots[pane] = snapshot
            sites = self.pane_widget("sites") if pane == "backups" else None
            if isinstance(sites, SitesPane) and isinstance(snapshot, BackupsSnapshot):
                sites.set_backups(snapshot)  # its backup-age column: restic asked once
            self.refreshed_at = self.clock()
            try:
                self._update_tab(pane)
                self._update_status()
                self._update_alerts()
            except NoMatches:
                # A poll that lands while the console closes: its widgets are going away
                # one by one (a CI run caught the status bar gone, the pane still there).
                return

    @property
    def alerts_pane(self) -> AlertsPane:
        return self.query_one("#alerts-pane", AlertsPane)

    def incidents(self) -> list[Incident]:
        """The Alerts tab's rows: the alerts of the current snapshots grouped by cause
        (status/incidents.py; `wpfarm alerts` prints the same)."""
        flags = maintenance_flags(self.wpfarm.action_context.maintenance_dir)
        return incidents_from(self.snapshots, alerts_from(self.snapshots), flags)

    def _alerts_label(self, incidents: list[Incident] | None = None) -> Text:
        incidents = self.incidents() if incidents is None else incidents
        level = max((i.level for i in incidents), default=Level.OK)
        colour = self.palette.of(level)
        label = Text()
        label.append(cells.marker(level), style=f"bold {colour}")
        label.append(" Alerts")
        if incidents:
            label.append(f" {len(incidents)}", style=f"bold {colour}")
        return label

    def _update_alerts(self) -> None:
        if not self.is_attached:
            return
        incidents = self.incidents()
        self._journal(incidents)
        # Most polls change nothing an operator sees: skip the redraw then (it was the
        # largest share of the console's idle CPU).
        seen = (tuple((i.key, i.level, i.cause, tuple((a.key, a.level, a.message)
                                                      for a in i.symptoms))
                      for i in incidents), self.wpfarm.theme)
        if seen == getattr(self, "_alerts_seen", None):
            return
        self._alerts_seen = seen
        self.alerts_pane.show(incidents, self.palette)
        self._set_tab_label("alerts", self._alerts_label(incidents))

    def _journal(self, incidents: list[Incident]) -> None:
        """The incident journal (actions/journal.py), once every pane has answered: a
        half-polled farm would open incidents the next pane explains (a site's 503 before
        the Caches pane says Varnish is down)."""
        if not self.journal or not all(p in self.snapshots for p in self.pane_ids):
            return
        if getattr(self, "_incident_journal", None) is None:
            from wpfarm_tui.actions.journal import IncidentJournal

            self._incident_journal = IncidentJournal()
        try:
            self._incident_journal.observe(incidents)
        except OSError as exc:  # a full disk must not take the console down
            self.app.log.warning(f"incident journal: {exc}")

    def on_alerts_pane_open_procedure(self, message: AlertsPane.OpenProcedure) -> None:
        incident = message.incident
        if incident.procedure:
            self.wpfarm.open_action(incident.procedure, dict(incident.values))

    def action_pane_key(self, key: str) -> None:
        """b/u on the CrowdSec pane (ban, unban the selected row); on Sites p purges the
        selected site, l follows its logs, n opens the create form, d the delete (Cancel
        focused); on Nodes l follows the selected service's logs, x opens a shell in it."""
        if self.app.screen is not self:
            return
        pane = self.current_pane
        widget = self.pane_widget(pane) if pane else None
        selected = widget.tables[0].cursor_key() if widget and widget.tables else None
        if pane == "bans" and key == "b":
            self.wpfarm.open_action("ban")
        elif pane == "bans" and key == "u" and widget is not None:
            ban = next((b for b in getattr(widget.snapshot, "bans", ())
                        if str(b.id) == selected), None)
            self.wpfarm.open_action("unban", {"ip": ban.value} if ban else None)
        elif pane == "sites" and key == "p" and selected:
            self.wpfarm.open_action("cache-purge", {"domain": selected})
        elif pane == "sites" and key == "n":
            self.wpfarm.open_action("site-create")
        elif pane == "sites" and key == "d" and selected:
            self.wpfarm.open_action("site-delete", {"domain": selected})
        elif pane == "sites" and key == "l" and selected:
            self.wpfarm.open_site_logs(selected)
        elif pane == "nodes" and key in "lx" and (service := self._selected_service(widget)):
            if key == "l":
                self.wpfarm.open_service_logs(service)
            else:
                self.wpfarm.open_shell(service)
        else:
            self.app.bell()

    @staticmethod
    def _selected_service(widget: BasePane | None) -> str | None:
        if widget is None or len(widget.tables) < 2:
            return None
        service_id = widget.tables[1].cursor_key()
        row = next((s for s in getattr(widget.snapshot, "services", ()) if s.id == service_id),
                   None)
        return row.name if row else None

    def _tab_label(self, pane: str) -> Text:
        snapshot = self.snapshots.get(pane)
        level = snapshot.level if snapshot is not None else Level.UNKNOWN
        colour = self.palette.of(level)
        label = Text()
        label.append(cells.marker(level), style=f"bold {colour}")
        label.append(f" {self.pane_title(pane)}")
        if snapshot is not None and level != Level.OK:
            label.append(f" {cells.tag(level)}", style=f"bold {colour}")
        return label

    def _update_tab(self, pane: str) -> None:
        self._set_tab_label(pane, self._tab_label(pane))

    def _set_tab_label(self, pane: str, label: Text) -> None:
        """Only when it changed: a new label re-lays the whole tab bar out."""
        labels: dict[str, Text] = self.__dict__.setdefault("_tab_labels", {})
        if labels.get(pane) == label:
            return
        tabs = self.query_one("#tabs", TabbedContent)
        try:
            tab = tabs.get_tab(pane)
        except NoMatches:  # the tab bar is not composed yet: compose used the label
            return
        labels[pane] = label
        tab.label = Content.from_rich_text(label)

    def _update_status(self) -> None:
        sources = [s for p in self.pane_ids for s in getattr(self.snapshots.get(p), "sources", ())]
        when = self.refreshed_at.strftime("%H:%M:%S %Z").strip() if self.refreshed_at else None
        self.status_bar.set_status(when, sources, self.palette)

    def _apply_palette(self) -> None:
        palette = self.palette
        with self.app.batch_update():
            for pane in self.pane_ids:
                widget = self.pane_widget(pane)
                if widget is not None:
                    widget.set_palette(palette)
                self._update_tab(pane)
            self._update_status()
            self._update_alerts()

    def _on_theme_changed(self, _theme: Theme) -> None:
        self._apply_palette()

    def _focus_pane(self, pane: str) -> None:
        if pane == "alerts":
            self.alerts_pane.table.focus()
            return
        widget = self.pane_widget(pane)
        if widget is not None and widget.tables:
            widget.tables[0].focus()

    def help_rows(self) -> list[tuple[str, str]]:
        return keys.help_rows(pane_list(self.pane_ids))

    def action_show_pane(self, pane: str) -> None:
        if pane not in self.pane_ids and pane != "alerts":
            self.app.bell()
            return
        self.query_one("#tabs", TabbedContent).active = pane
        self._focus_pane(pane)

    def action_filter(self) -> None:
        pane = self.current_pane
        widget = self.pane_widget(pane) if pane else None
        if widget is not None:
            widget.open_filter()

    def action_refresh(self) -> None:
        for pane in self.pane_ids:
            self._start_poll(pane)

    def action_graphs(self) -> None:
        """The current pane's last 30 minutes, when its collector keeps history."""
        pane = self.current_pane
        collector = self.collectors.get(pane) if pane else None
        graphs = getattr(collector, "graphs", None)
        if pane is None or graphs is None:
            self.notify("this pane keeps no history to graph (Nodes, Galera, Caches and "
                        "CrowdSec do)",
                        severity="warning")
            return
        self.app.push_screen(GraphScreen(self.pane_title(pane), graphs, self.farm.thresholds,
                                     max(self.farm.refresh.interval, 1.0)))
