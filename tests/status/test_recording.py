"""Recordings: every pane's snapshot written and read back equal, a recording cut off
mid-write still opens, and a file that is not one is refused by name."""

from __future__ import annotations

import gzip

import pytest

from tests.ui.fixtures import CHECKED_AT, SNAPSHOTS, ok, sites_down_snapshot
from wpfarm_tui.status.backups import BackupsSnapshot, SiteBackups
from wpfarm_tui.status.recording import Recorder, RecordingError, load
from wpfarm_tui.status.thresholds import Level


def _backups() -> BackupsSnapshot:
    return BackupsSnapshot((ok("repository"),), (
        SiteBackups("site1.test", db_time=CHECKED_AT - 600, files_time=CHECKED_AT - 7200,
                    db_snapshot="abc123", db_size=4096, level=Level.WARNING),
        SiteBackups("site2.test", note="never backed up")), "/srv/restic", 3)


def test_every_pane_round_trips(tmp_path):
    snapshots = {pane: build() for pane, build in SNAPSHOTS.items()}
    snapshots["backups"] = _backups()
    rec = Recorder(tmp_path / "r.gz", "lab")
    for i, (pane, snap) in enumerate(snapshots.items()):
        rec.write(pane, snap, at=CHECKED_AT + i)
    rec.write("sites", sites_down_snapshot(), at=CHECKED_AT + 10)
    rec.close()
    recording = load(tmp_path / "r.gz")
    assert recording.farm == "lab"
    back = {f.pane: f.snapshot for f in recording.frames[:len(snapshots)]}
    assert back == snapshots
    last = recording.frames[-1]
    assert (last.pane, last.at, last.snapshot) == ("sites", CHECKED_AT + 10,
                                                   sites_down_snapshot())
    assert last.snapshot.level is Level.CRITICAL  # levels come back as levels


def test_a_recording_cut_off_mid_write_opens_with_what_was_flushed(tmp_path):
    path = tmp_path / "r.gz"
    rec = Recorder(path, "lab", flush_s=0)
    for i in range(50):
        rec.write("nodes", SNAPSHOTS["nodes"](), at=CHECKED_AT + i)
    rec._file.flush()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 7])  # the writer died: no gzip trailer
    frames = load(path).frames
    assert 0 < len(frames) <= 50
    assert all(f.snapshot == SNAPSHOTS["nodes"]() for f in frames)


@pytest.mark.parametrize("content", [b"", b"not gzip at all",
                                     gzip.compress(b'{"something": "else"}\n')])
def test_what_is_not_a_recording_is_refused_by_name(tmp_path, content):
    path = tmp_path / "x.gz"
    path.write_bytes(content)
    with pytest.raises(RecordingError) as caught:
        load(path)
    assert str(path) in str(caught.value)
