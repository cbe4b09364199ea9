"""Log streams an operator follows: a Swarm service's tasks, or a lab site's log files.

A stream yields lines until it is closed, from any thread. Closing must unblock a
reader waiting on a quiet service: docker-py turns the socket timeout off while it
streams logs, so `close()` shuts the socket down under the reader instead.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

FILE_POLL_S = 0.25


class LogStream(Protocol):
    title: str

    def lines(self) -> Iterator[str]:
        """Blocks for the next line; ends when the source ends or `close()` is called."""
        ...

    def close(self) -> None: ...


class ServiceLogStream:
    """`docker service logs [--follow]` through the Engine API (every task of a service)."""

    def __init__(self, api: Any, service_id: str, name: str, tail: int = 100,
                 follow: bool = True, owner: Any = None):
        """`owner`: the Docker client made for this stream alone, closed with it."""
        self.api = api
        self._owner = owner
        self.service_id = service_id
        self.title = f"service {name}"
        self.tail = tail
        self.follow = follow
        self._response: Any = None
        self._closed = threading.Event()

    def lines(self) -> Iterator[str]:
        api = self.api
        url = api._url("/services/{0}/logs", self.service_id)
        # docker-py's service_logs hides the response; it is needed to close the stream.
        params = {"details": False, "follow": self.follow, "stdout": True, "stderr": True,
                  "timestamps": True, "tail": str(self.tail)}
        self._response = api._get(url, params=params, stream=True)
        api._raise_for_status(self._response)
        if self._closed.is_set():
            return
        try:
            for chunk in api._multiplexed_response_stream_helper(self._response):
                yield from chunk.decode(errors="replace").splitlines()
                if self._closed.is_set():
                    return
        except (OSError, ValueError, AttributeError):
            if not self._closed.is_set():
                raise
            # closed under the reader: the expected way out of a follow

    def close(self) -> None:
        self._closed.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                sock = self.api._get_raw_response_socket(response)
                # a SocketIO over a unix/tcp socket, or a paramiko channel (ssh://)
                getattr(sock, "_sock", sock).shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(Exception):
                response.close()
        if self._owner is not None:  # an ssh:// client holds an SSH session: let it go
            with contextlib.suppress(Exception):
                self._owner.close()


class FileLogStream:
    """`tail -F` of a few files: the last lines of each, then what is appended.

    A file that is truncated or replaced (log rotation) is read again from its start.
    """

    def __init__(self, title: str, paths: list[Path], tail: int = 100, follow: bool = True):
        self.title = title
        self.paths = paths
        self.tail = tail
        self.follow = follow
        self._closed = threading.Event()

    def lines(self) -> Iterator[str]:
        offsets: dict[Path, tuple[int, int]] = {}  # path -> (inode, offset)
        for path in self.paths:
            try:
                stat = path.stat()
                text = path.read_bytes()[-256 * 1024:].decode(errors="replace")
            except OSError:
                continue
            for line in text.splitlines()[-self.tail:]:
                yield f"{path.name}: {line}"
            offsets[path] = (stat.st_ino, stat.st_size)
        while self.follow and not self._closed.wait(FILE_POLL_S):
            for path in self.paths:
                yield from self._appended(path, offsets)

    def _appended(self, path: Path, offsets: dict[Path, tuple[int, int]]) -> Iterator[str]:
        try:
            stat = path.stat()
        except OSError:
            return
        inode, offset = offsets.get(path, (stat.st_ino, 0))
        if stat.st_ino != inode or stat.st_size < offset:
            offset = 0
        if stat.st_size == offset:
            offsets[path] = (stat.st_ino, offset)
            return
        with path.open("rb") as f:
            f.seek(offset)
            data = f.read()
        # Only whole lines: a half-written one is read again next time.
        end = data.rfind(b"\n") + 1
        offsets[path] = (stat.st_ino, offset + end)
        for line in data[:end].decode(errors="replace").splitlines():
            yield f"{path.name}: {line}"

    def close(self) -> None:
        self._closed.set()


def wait_for_lines(stream: LogStream, count: int, timeout: float) -> list[str]:
    """Read up to `count` lines within `timeout` seconds, then close (tests, `--tail`)."""
    got: list[str] = []
    timer = threading.Timer(timeout, stream.close)
    timer.daemon = True
    timer.start()
    try:
        for line in stream.lines():
            got.append(line)
            if len(got) >= count:
                break
    finally:
        timer.cancel()
        stream.close()
    return got
