"""Traefik's access log: parsing its JSON lines, following a file (appends, half lines,
rotation, truncation, a stopped writer) and a follower that reopens a stream."""

from __future__ import annotations

import json
import threading
import time

import pytest

from wpfarm_tui.farm.access_log import (
    NO_SITE,
    AccessLogFollower,
    FileTail,
    SourceDown,
    parse,
)

# A line as the lab's Traefik 3.7 writes it (fields trimmed to those read and a few more).
LINE = json.dumps({
    "ClientAddr": "127.0.0.1:44906", "ClientHost": "127.0.0.1", "DownstreamContentSize": 13118,
    "DownstreamStatus": 200, "Duration": 1192394, "OriginDuration": 877865,
    "RequestHost": "Site1.Test", "RequestMethod": "GET", "RequestPath": "/a?b=1",
    "RouterName": "site1@file", "downstream_X-Cache": "HIT", "entryPointName": "web",
    "request_User-Agent": "curl/7.88.1", "level": "info", "time": "2026-11-29T01:29:05Z"})


def test_parse_a_visitor_request():
    r = parse(LINE)
    assert r is not None
    assert (r.host, r.status, r.size, r.cache, r.path, r.client, r.user_agent) == (
        "site1.test", 200, 13118, "HIT", "/a?b=1", "127.0.0.1", "curl/7.88.1")
    assert r.duration_ms == pytest.approx(1.192394)


def test_parse_swarm_line_and_cloudflare_client():
    d = json.loads(LINE)
    d["request_Cf-Connecting-Ip"] = "203.0.113.9"
    d["entryPointName"] = "websecure"
    r = parse("2026-11-29T01:29:05.1Z " + json.dumps(d))  # docker service logs -t
    assert r is not None and r.client == "203.0.113.9"


@pytest.mark.parametrize("line", [
    LINE.replace('"web"', '"sites"'),  # Varnish's fetch through Traefik: not a visitor
    LINE.replace('"web"', '"traefik"'),
    '{"level":"info","msg":"Configuration loaded","time":"x"}',
    LINE[:80],  # cut
    "plain text",
])
def test_parse_leaves_out_what_is_not_a_visit(line):
    assert parse(line) is None


def test_a_host_no_router_matched_is_not_a_site():
    d = json.loads(LINE)
    del d["RouterName"]  # Traefik's 404 for a Host it has no router for
    d["RequestHost"] = "random-4711.example"
    r = parse(json.dumps(d))
    assert r is not None and r.host == NO_SITE and r.status == 200


def _reader(stream) -> tuple[list[str], threading.Thread]:
    got: list[str] = []
    lines = stream.lines()  # the file's end is taken here, before the thread starts
    t = threading.Thread(target=lambda: got.extend(lines), daemon=True)
    t.start()
    return got, t


def _wait(cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_file_tail_appends_rotation_truncation(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("before\n")
    tail = FileTail(log, poll_s=0.02)
    stream = tail.open()
    got, t = _reader(stream)
    with log.open("a") as f:
        f.write("one\nhal")
    _wait(lambda: got == ["one"])
    time.sleep(0.1)
    assert got == ["one"]  # history is not replayed; a half line waits
    with log.open("a") as f:
        f.write("f\n")
    _wait(lambda: len(got) == 2)
    assert got[1] == "half"
    log.rename(tmp_path / "access.log.1")  # rotation: a new file, read from its start
    log.write_text("rotated\n")
    _wait(lambda: len(got) == 3)
    _wait(lambda: tail.position == (log.stat().st_ino, 8))
    # Truncated (copytruncate) and grown past the old offset before the next poll: the
    # size alone does not show it, the byte before the offset does.
    log.write_text("after truncate\n")
    _wait(lambda: len(got) == 4)
    assert got[2:] == ["rotated", "after truncate"]
    stream.close()
    t.join(2)
    assert not t.is_alive()


def test_file_tail_missing_file_and_stopped_writer(tmp_path):
    with pytest.raises(SourceDown, match="No such file"):
        FileTail(tmp_path / "nope.log").open().lines()
    log = tmp_path / "access.log"
    log.write_text("")
    with pytest.raises(SourceDown, match="traefik down"):
        FileTail(log, alive=lambda: "traefik down").open().lines()


def test_follower_reopens_and_resumes_where_it_stopped(tmp_path, monkeypatch):
    """The writer stops (down, shown), writes meanwhile, comes back: nothing is lost."""
    monkeypatch.setattr("wpfarm_tui.farm.access_log.ALIVE_EVERY_S", 0.1)
    monkeypatch.setattr("wpfarm_tui.farm.access_log.RECONNECT_S", (0.1,))
    log = tmp_path / "access.log"
    log.write_text("")
    why: list[str | None] = [None]
    tail = FileTail(log, alive=lambda: why[0], poll_s=0.02)
    got: list[str] = []
    follower = AccessLogFollower(tail.open, got.append).start()
    try:
        _wait(lambda: follower.state == "ok")
        with log.open("a") as f:
            f.write("a\n")
        _wait(lambda: got == ["a"])
        why[0] = "traefik /ping: connection refused"
        _wait(lambda: follower.state == "down")
        assert follower.state == "down" and "refused" in (follower.error or "")
        with log.open("a") as f:
            f.write("b\n")  # written while the follower thought it down
        why[0] = None
        _wait(lambda: got == ["a", "b"])
        assert got == ["a", "b"] and follower.state == "ok" and follower.reconnects >= 1
    finally:
        follower.close()


def test_follower_shows_a_failing_opener_as_down():
    def opener():
        raise ConnectionError("endpoints.docker: ssh://m1 does not answer")

    follower = AccessLogFollower(opener, lambda _line: None).start()
    try:
        _wait(lambda: follower.state == "down")
        assert follower.error == "endpoints.docker: ssh://m1 does not answer"
    finally:
        follower.close()
