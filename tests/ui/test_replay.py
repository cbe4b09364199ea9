"""The console on a recording: every pane as it was, stepped and sought on its timeline,
the incident view with it; read-only, and the incident journal left alone."""

from __future__ import annotations

from tests.ui.fixtures import CHECKED_AT, FARM, SNAPSHOTS, sites_down_snapshot
from wpfarm_tui.app import WpfarmApp
from wpfarm_tui.screens.replay import ReplayScreen
from wpfarm_tui.status.recording import Recorder, load
from wpfarm_tui.status.thresholds import Level

SIZE = (120, 40)


def _recording(tmp_path):
    """Every pane healthy at T, then the sites source down at T+30 (a fault recorded)."""
    rec = Recorder(tmp_path / "incident.gz", FARM.name)
    for pane, build in SNAPSHOTS.items():
        rec.write(pane, build(), at=CHECKED_AT)
    rec.write("sites", sites_down_snapshot(), at=CHECKED_AT + 30)
    rec.close()
    return load(tmp_path / "incident.gz")


async def test_replay_steps_through_the_recorded_fault(tmp_path, monkeypatch):
    # The incident journal lives beside the audit log: a replay must write neither.
    monkeypatch.setenv("WPFARM_AUDIT_LOG", str(tmp_path / "state" / "audit.log"))
    screen = ReplayScreen(FARM, _recording(tmp_path), "incident.gz")
    app = WpfarmApp(FARM, [], read_only=True, console=screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert set(app.snapshots) == set(SNAPSHOTS)
        assert app.snapshots["sites"] == SNAPSHOTS["sites"]()
        before = screen.incidents()
        await pilot.press("full_stop")  # step to the next recorded moment: the fault
        await pilot.pause()
        assert screen.now == CHECKED_AT + 30
        assert app.snapshots["sites"] == sites_down_snapshot()
        assert screen.pane_widget("sites").snapshot == sites_down_snapshot()
        assert "registry" in screen.status_bar.problem_text
        after = screen.incidents()
        assert len(after) > len(before) and max(i.level for i in after) is Level.CRITICAL
        assert " 30s of 30s " in screen.timeline_text()
        await pilot.press("comma")  # and back
        await pilot.pause()
        assert app.snapshots["sites"] == SNAPSHOTS["sites"]()
        await pilot.press("space")  # play: the timeline moves on its own
        await pilot.press("plus", "plus", "plus", "plus", "plus")  # 32x
        await pilot.pause(1.5)
        assert app.snapshots["sites"] == sites_down_snapshot()
        assert app.read_only
    assert not (tmp_path / "state").exists(), "a replay wrote the incident journal"
