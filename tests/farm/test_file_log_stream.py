"""FileLogStream: `tail -F` of a lab site's log files (history, appends, rotation)."""

from __future__ import annotations

import threading
import time

from wpfarm_tui.farm.logs import FileLogStream


def _collect(stream: FileLogStream) -> tuple[list[str], threading.Thread]:
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.extend(stream.lines()), daemon=True)
    reader.start()
    return got, reader


def _wait(got: list[str], count: int) -> None:
    deadline = time.monotonic() + 5
    while len(got) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_tail_then_appends_then_rotation(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("".join(f"old {i}\n" for i in range(10)))
    stream = FileLogStream("t", [log, tmp_path / "missing.log"], tail=3)
    got, reader = _collect(stream)
    _wait(got, 3)
    assert got == ["a.log: old 7", "a.log: old 8", "a.log: old 9"]
    with log.open("a") as f:
        f.write("new 1\nhalf")  # a line still being written is not shown yet
    _wait(got, 4)
    time.sleep(0.4)
    assert got[3:] == ["a.log: new 1"]
    with log.open("a") as f:
        f.write(" done\n")
    _wait(got, 5)
    assert got[4] == "a.log: half done"
    # Rotation: the file is replaced by a new, shorter one; it is read from its start.
    log.rename(tmp_path / "a.log.1")
    log.write_text("rotated\n")
    _wait(got, 6)
    assert got[5] == "a.log: rotated"
    stream.close()
    reader.join(2)
    assert not reader.is_alive()


def test_without_follow_it_ends(tmp_path):
    log = tmp_path / "b.log"
    log.write_text("one\ntwo\n")
    assert list(FileLogStream("t", [log], tail=10, follow=False).lines()) == [
        "b.log: one", "b.log: two"]
