"""Every screen that runs an action shows its events and verdict one way, the way the CLI
prints them: the action screen, the restore screen and the deploy screen used to word
(and colour) the same event three ways."""

from __future__ import annotations

from textual.app import App
from textual.screen import Screen
from textual.widgets import RichLog, Static

from tests.ui.action_fixtures import action_app, settled
from tests.ui.test_stacks_screen import Rollout
from wpfarm_tui.actions import Step, StepEvent, Verdict
from wpfarm_tui.screens.action import ActionScreen
from wpfarm_tui.screens.restore import RestoreScreen
from wpfarm_tui.screens.stacks import DeployItem, DeployScreen
from wpfarm_tui.widgets.action_log import event_text, verdict_text

SIZE = (120, 40)
EVENTS = [StepEvent("started", "restore db"), StepEvent("done", "restore db", "12 tables"),
          StepEvent("skipped", "flush cache", "already empty"),
          StepEvent("failed", "verify", "HTTP 502")]
# What `wpfarm <verb>` prints for them (commands/runner.py).
CLI_LINES = ["[started] restore db", "[done   ] restore db  12 tables",
             "[skipped] flush cache  already empty", "[failed ] verify  HTTP 502"]
VERDICT = Verdict(False, "failed at verify: HTTP 502", ("site1.test answers 502",))


class Host(App[None]):
    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.first = screen

    def on_mount(self) -> None:
        self.push_screen(self.first)


def lines(log: RichLog) -> list[str]:
    return [strip.text.rstrip() for strip in log.lines]


def test_event_lines_have_one_colour_per_kind():
    styles = {str(event_text(event).style) for event in EVENTS}
    assert len(styles) == len(EVENTS)
    assert str(verdict_text(VERDICT)) == "FAILED: failed at verify: HTTP 502\n" \
        "  site1.test answers 502"
    assert str(verdict_text(VERDICT, details=False)) == "FAILED: failed at verify: HTTP 502"


async def test_restore_screen_shows_events_as_the_cli_does():
    screen = RestoreScreen("site1.test", [])
    async with Host(screen).run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = screen.query_one("#restore-log", RichLog)
        log.clear()  # the "no snapshots" hint
        screen.show_item(Step("restore db", "from aaaaaaaa", destructive=True))
        for event in EVENTS:
            screen.show_item(event)
        screen.show_item(VERDICT)
        await pilot.pause()
        assert lines(log) == ["plan  restore db [destructive]: from aaaaaaaa", *CLI_LINES]
        verdict = str(screen.query_one("#restore-verdict", Static).render())
        assert verdict == str(verdict_text(VERDICT))


async def test_deploy_screen_shows_events_as_the_cli_does(tmp_path, monkeypatch):
    monkeypatch.setenv("WPFARM_AUDIT_LOG", str(tmp_path / "audit.log"))
    screen = DeployScreen(Rollout(), read_only=False)
    async with Host(screen).run_test(size=SIZE) as pilot:
        await pilot.pause()
        await screen.workers.wait_for_complete()
        await pilot.pause()
        for event in EVENTS:
            screen.post_message(DeployItem(event))
        screen.post_message(DeployItem(VERDICT))
        await pilot.pause()
        log = screen.query_one("#deploy-log", RichLog)
        # The details go to the log: a deploy has one per service.
        assert lines(log) == [*CLI_LINES, "  site1.test answers 502"]
        status = str(screen.query_one("#deploy-status", Static).render())
        assert status == "FAILED: failed at verify: HTTP 502"


async def test_action_screen_shows_events_as_the_cli_does(tmp_path, monkeypatch):
    monkeypatch.setenv("WPFARM_AUDIT_LOG", str(tmp_path / "audit.log"))
    app = action_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        app.open_action("galera-desync", {"node": "galera-2"})
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ActionScreen)
        await settled(pilot, screen)
        for item in (*EVENTS, VERDICT):
            screen.post_message(ActionScreen.Item(item))
        await pilot.pause()
        assert lines(screen.query_one("#action-log", RichLog)) == CLI_LINES
        verdict = str(screen.query_one("#verdict", Static).render())
        assert verdict == str(verdict_text(VERDICT))
