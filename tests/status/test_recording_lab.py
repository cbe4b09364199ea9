"""A recording of the real lab during a fault (CrowdSec stopped), replayed: the CrowdSec
pane and the incident view show it as it was, after the fault has been repaired."""

from __future__ import annotations

import subprocess
import sys

import pytest

from wpfarm_tui.app import WpfarmApp
from wpfarm_tui.screens.replay import ReplayScreen
from wpfarm_tui.status.panes import BY_KEY
from wpfarm_tui.status.recording import load

pytestmark = pytest.mark.lab


async def test_a_recorded_fault_replays_after_the_repair(lab, lab_farm, tmp_path):
    path = tmp_path / "crowdsec-down.gz"
    lab.stop("crowdsec")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "wpfarm_tui", "--farm", str(lab.farm_file), "record",
             str(path), "--seconds", "3"], capture_output=True, text=True, timeout=120)
    finally:
        lab.start("crowdsec", lambda _m: None)
    assert done.returncode == 0, done.stderr
    recording = load(path)
    assert set(recording.panes) == set(BY_KEY)  # every pane of the lab, backups included
    assert {type(f.snapshot) for f in recording.frames} <= {p.snapshot for p in BY_KEY.values()}
    bans = [f.snapshot for f in recording.frames if f.pane == "bans"]
    assert bans and all(not s.sources[0].ok for s in bans), bans[0].sources

    screen = ReplayScreen(lab_farm, recording, path.name)
    app = WpfarmApp(lab_farm, [], read_only=True, console=screen)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert "crowdsec" in screen.status_bar.problem_text
        assert any("crowdsec" in (i.cause + " ".join(a.subject for a in i.symptoms)).lower()
                   for i in screen.incidents())
