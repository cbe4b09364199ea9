"""Traefik's JSON access log: every visitor's request, followed as it is written.

Why Traefik's log and not Varnish's (varnishncsa): it is one stream per edge replica that
the console already reaches (the manager's Docker API gives the service's logs; the lab
writes a file), it sees every request, including those refused before any cache (CrowdSec,
the deny rules) and those Varnish never had (its own 5xx), and it carries what a visitor
got: host, path, status, bytes, duration, client address, and Varnish's verdict through the
X-Cache response header it keeps (`downstream_X-Cache`). varnishncsa would need a process
per cache node run over SSH and misses the edge.

`parse` turns one line into a `Request` tuple, or None for what is not a visitor's request
(Traefik's own log lines, the internal entry points: Varnish's fetches through `sites`, the
API, the metrics). `AccessLogFollower` reads a stream on a thread, opens it again when it
ends or fails (a restarted Traefik), and says whether it is up.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from wpfarm_tui.farm.logs import LogStream, ServiceLogStream

# Only these entry points are visitors: `sites` is Varnish's backend fetch (each miss and
# pass would count twice), `traefik` the API and ping, `metrics` Prometheus.
VISITOR_ENTRY_POINTS = frozenset({"web", "websecure"})
# A Host no router matched (a scanner's random names, a bare IP): not a site; counted
# together so that a visitor cannot make the console keep figures for any name it sends.
NO_SITE = "(no site)"
FILE_POLL_S = 0.25
ALIVE_EVERY_S = 2.0
RECONNECT_S = (1.0, 2.0, 5.0, 10.0)
_loads = json.loads


class Request(NamedTuple):
    host: str
    status: int
    duration_ms: float  # Traefik's Duration: until the response was written out
    size: int  # bytes sent to the client
    cache: str  # HIT | MISS | PASS | "" (no cache spoke: a redirect, a refusal)
    path: str
    client: str
    user_agent: str


def parse(line: str) -> Request | None:
    """One access-log line (a JSON object, maybe after a Docker timestamp) -> Request."""
    start = line.find("{")
    if start < 0:
        return None
    try:
        d: dict[str, Any] = _loads(line[start:] if start else line)
        if d.get("entryPointName") not in VISITOR_ENTRY_POINTS:
            return None
        host = d["RequestHost"].lower() if d.get("RouterName") else NO_SITE
        return Request(
            host,
            int(d.get("DownstreamStatus") or 0),
            d.get("Duration", 0) / 1e6,
            int(d.get("DownstreamContentSize") or 0),
            str(d.get("downstream_X-Cache") or "").upper(),
            d.get("RequestPath") or "/",
            d.get("request_Cf-Connecting-Ip") or d.get("ClientHost") or "",
            d.get("request_User-Agent") or "",
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # not an access-log line (Traefik's own log, a cut line)


class SourceDown(Exception):
    """The stream's source is not there (no file, the writer not answering)."""


class FileTail:
    """`tail -F` of one file: what is appended, whole lines only, from the file's end when
    first opened, then from where the last stream of this object stopped (a restarted
    Traefik appends to the same file: its lines written meanwhile are not lost).

    A file replaced (rotation: another inode) or truncated is read again from its start.
    `alive` (optional) says whether the writer runs (None) or why not: a file that merely
    stays quiet does not show a stopped Traefik. Each `open()` is a new stream.
    """

    def __init__(self, path: Path, alive: Callable[[], str | None] | None = None,
                 poll_s: float = FILE_POLL_S):
        self.path = path
        self.alive = alive
        self.poll_s = poll_s
        self.position: tuple[int, int] | None = None  # (inode, offset) read up to

    def open(self) -> _FileStream:
        return _FileStream(self)


class _FileStream:
    def __init__(self, tail: FileTail):
        self.tail = tail
        self.title = f"file {tail.path}"
        self._closed = threading.Event()

    def _stat(self) -> Any:
        try:
            return self.tail.path.stat()
        except OSError as exc:
            raise SourceDown(f"{self.tail.path}: {exc.strerror or exc}") from None

    def lines(self) -> Iterator[str]:
        """Checks the file and the writer now (SourceDown), then follows."""
        stat = self._stat()
        self._check_alive()
        if self.tail.position is None:
            self.tail.position = (stat.st_ino, stat.st_size)
        return self._follow()

    def _follow(self) -> Iterator[str]:
        tail = self.tail
        checked = time.monotonic()
        while not self._closed.wait(tail.poll_s):
            stat = self._stat()
            inode, offset = tail.position or (stat.st_ino, 0)
            if stat.st_ino != inode or stat.st_size < offset:
                inode, offset = stat.st_ino, 0
            if stat.st_size > offset:
                with tail.path.open("rb") as f:
                    # The byte before the offset ends the last line read: when it does not,
                    # the file was truncated and grew past the offset between two polls.
                    f.seek(max(offset - 1, 0))
                    data = f.read(stat.st_size - offset + (1 if offset else 0))
                    if offset:
                        if data[:1] != b"\n":
                            offset = 0
                            f.seek(0)
                            data = f.read(stat.st_size)
                        else:
                            data = data[1:]
                end = data.rfind(b"\n") + 1  # a half-written line is read again next time
                tail.position = (inode, offset + end)
                if end:
                    yield from data[:end].decode(errors="replace").splitlines()
                    checked = time.monotonic()  # lines came: the writer runs
            else:
                tail.position = (inode, offset)
                if time.monotonic() - checked >= ALIVE_EVERY_S:
                    self._check_alive()
                    checked = time.monotonic()

    def _check_alive(self) -> None:
        if self.tail.alive is not None and (why := self.tail.alive()) is not None:
            raise SourceDown(why)

    def close(self) -> None:
        self._closed.set()


def service_stream(docker_client: Any, service: str) -> ServiceLogStream:
    """The Swarm service's logs, every task, from now on (`docker service logs -f --tail 0`)."""
    return ServiceLogStream(docker_client.api, service, service, tail=0, follow=True,
                            owner=docker_client)


class AccessLogFollower:
    """Reads a stream on a daemon thread and hands each line to `on_line`; opens the
    stream again after it ends or fails, waiting longer each time up to 10 s.

    `state`: "starting", "ok" (the stream is open) or "down" (`error` says why)."""

    def __init__(self, open_stream: Callable[[], LogStream], on_line: Callable[[str], None],
                 name: str = "traffic"):
        self.open_stream = open_stream
        self.on_line = on_line
        self.name = name
        self.state = "starting"
        self.error: str | None = None
        self.lines = 0
        self.reconnects = 0
        self._stream: LogStream | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-follow", daemon=True)

    def start(self) -> AccessLogFollower:
        self._thread.start()
        return self

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._stream = stream = self.open_stream()
                if self._stop.is_set():
                    break
                iterator = iter(stream.lines())
                self.state, self.error = "ok", None
                on_line = self.on_line
                for line in iterator:
                    failures = 0
                    self.lines += 1
                    on_line(line)
                if self._stop.is_set():
                    break
                self._down("the stream ended (the source restarted?)")
            except Exception as exc:  # noqa: BLE001 - any failure: down, then try again
                if self._stop.is_set():
                    break
                self._down(str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
            finally:
                if self._stream is not None:
                    with contextlib.suppress(Exception):
                        self._stream.close()
            self._stop.wait(RECONNECT_S[min(failures, len(RECONNECT_S) - 1)])
            failures += 1
            self.reconnects += 1

    def _down(self, why: str) -> None:
        self.state, self.error = "down", why

    def close(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
