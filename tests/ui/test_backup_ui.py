"""Looks and behaviour of the Backups pane and the restore screen, with fixed data.

The app here is a minimal host (app.py is wired by the lead, see the report);
the snapshots are fixed, so the SVGs do not depend on the clock or the lab.
Update with `pytest tests/ui --snapshot-update` after an intended change.
"""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import App, ComposeResult

from wpfarm_tui.actions.base import Step, StepEvent, Verdict
from wpfarm_tui.farm.restic import Snapshot
from wpfarm_tui.screens.restore import RestoreScreen
from wpfarm_tui.status.backups import BackupsSnapshot, site_rows
from wpfarm_tui.status.model import SourceHealth
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.themes import load_themes
from wpfarm_tui.widgets.backups_pane import BackupsPane

SIZE = (120, 32)
NOW = datetime(2026, 3, 1, 3, 12, 4, tzinfo=UTC)
T = NOW.timestamp()


def snap(sid: str, hours_ago: float, kind: str, site: str = "site1.test",
         part: str | None = None) -> Snapshot:
    tags = [f"site={site}", f"type={kind}"] + ([f"part={part}"] if part else [])
    path = f"/{site}.sql" if (part or kind) == "db" else f"/var/opt/sites/{site}"
    return Snapshot(sid * 8, sid * 8, datetime.fromtimestamp(T - hours_ago * 3600, UTC),
                    tuple(tags), (path,), "backup1")


SNAPSHOTS = [snap("a", 0.3, "db"), snap("b", 5, "files"), snap("c", 1.3, "db"),
             snap("d", 2, "safety", part="db"), snap("e", 0.5, "db", "site2.test"),
             snap("f", 30, "files", "site2.test")]


def backups_snapshot() -> BackupsSnapshot:
    sizes = {s.id: 1_234_567 * (i + 1) for i, s in enumerate(SNAPSHOTS)}
    rows = site_rows(["site1.test", "site2.test", "site3.test"], SNAPSHOTS, T, sizes)
    return BackupsSnapshot((SourceHealth("site-registry", "ok", checked_at=T),
                            SourceHealth("repository", "ok", checked_at=T)), tuple(rows),
                           "s3:https://spaces.example/backups", len(SNAPSHOTS))


class Host(App[None]):
    def __init__(self, screen: RestoreScreen | None = None):
        super().__init__()
        for theme in load_themes().values():
            self.register_theme(theme)
        self.theme = "wpfarm-dark"
        self.restore_screen = screen

    def compose(self) -> ComposeResult:
        yield BackupsPane(id="backups")

    def on_mount(self) -> None:
        self.query_one(BackupsPane).show(backups_snapshot())
        if self.restore_screen is not None:
            self.push_screen(self.restore_screen)


def test_rows_levels():
    rows = {r.domain: r for r in backups_snapshot().sites}
    assert rows["site1.test"].level == Level.OK
    assert rows["site2.test"].level == Level.WARNING  # files 30 h old
    assert rows["site3.test"].level == Level.CRITICAL and rows["site3.test"].note
    stale = site_rows(["x.test"], [snap("g", 1.5, "db", "x.test"), snap("h", 1, "files",
                                                                            "x.test")], T, {})
    assert stale[0].level == Level.CRITICAL  # DB past the 1 h RPO


def test_backups_pane_snapshot(snap_compare):
    assert snap_compare(Host(), terminal_size=SIZE)


def test_restore_screen_snapshot(snap_compare):
    screen = RestoreScreen("site1.test", [s for s in SNAPSHOTS if s.site == "site1.test"])

    async def run_before(pilot) -> None:
        await pilot.pause()
        screen.show_item(Step("safety backup", "back up the current db of site1.test"))
        screen.show_item(StepEvent("done", "safety backup", "db dddddddd (42 bytes)", at=T))
        screen.show_item(StepEvent("done", "restore db", "12 tables from aaaaaaaa", at=T))
        screen.show_item(Verdict(True, "restored site1.test (db) in 3.2 s",
                                 ("took 3.2 s; RTO target 4 h (met)",)))
        await pilot.pause()

    assert snap_compare(Host(screen), terminal_size=SIZE, run_before=run_before)


async def test_restore_screen_runs_action_with_confirmation(tmp_path):
    from wpfarm_tui.actions.base import AuditLog

    calls: list[tuple[list[str], bool]] = []

    class Fake:
        """A real in-memory action standing in for RestoreAction (no lab here)."""

        name = "restore"

        def __init__(self, ids, drill):
            calls.append((ids, drill))
            self.destructive = not drill

        def describe(self):
            return {}

        def plan(self):
            return [Step("restore db", destructive=self.destructive)]

        def run(self):
            yield StepEvent("started", "restore db")
            yield StepEvent("done", "restore db", "ok")

        def verify(self):
            return Verdict(True, "restored")

    screen = RestoreScreen("site1.test", [s for s in SNAPSHOTS if s.site == "site1.test"],
                           make_action=Fake, audit=AuditLog(tmp_path / "a.log"))
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.focused.id == "restore-cancel"
        await pilot.click("#restore-run")
        await pilot.pause()
        assert calls == []  # the first press only arms
        assert screen.armed == "a" * 8
        await pilot.pause(0.3)  # not a double click
        await pilot.click("#restore-run")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert calls == [(["a" * 8], False)]
        assert screen.verdict is not None and screen.verdict.ok
        await pilot.click("#restore-drill")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert calls[-1][1] is True


async def test_a_restore_that_cannot_be_built_is_a_failed_verdict_not_a_crash(tmp_path):
    """An error building the action (a repository that vanished, a disk gone) is shown as
    the verdict; the console stays up."""
    from wpfarm_tui.actions.base import AuditLog

    def broken(ids, drill):
        raise OSError(28, "No space left on device")

    screen = RestoreScreen("site1.test", [s for s in SNAPSHOTS if s.site == "site1.test"],
                           make_action=broken, audit=AuditLog(tmp_path / "a.log"))
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.click("#restore-drill")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.is_running
        assert screen.verdict is not None and not screen.verdict.ok
        assert "No space left on device" in screen.verdict.summary
        assert not screen.running
