"""The shape every pane's collector has, and the helper that turns a failing
call into a `SourceHealth` value instead of an exception."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from wpfarm_tui.status.model import Snapshot, SourceHealth

T = TypeVar("T")


class Collector(Protocol):
    pane: str  # nodes | sites | galera | caches | bans | edge
    title: str  # shown on the pane's tab

    def collect(self) -> Snapshot:
        """Poll the pane's sources once. Never raises: failures are in the snapshot."""
        ...


def describe_error(exc: BaseException, timeout: float | None = None) -> tuple[str, str]:
    """(state, message) for a failed call: `timeout` or `down` or `error`."""
    # pymysql errors are (code, message) pairs: the message is what an operator reads.
    args = getattr(exc, "args", ())
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        text = args[1]
    else:
        text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if isinstance(exc, TimeoutError | socket.timeout) or "timed out" in lowered or (
        "timeout" in lowered
    ):
        return "timeout", f"timeout after {timeout:g} s" if timeout else "timed out"
    if isinstance(exc, ConnectionError) or any(
        w in lowered for w in ("refused", "connection", "can't connect", "unreachable",
                               "no such file", "lost connection")
    ):
        return "down", text.splitlines()[0][:200]
    return "error", text.splitlines()[0][:200]


def probe(
    name: str, call: Callable[[], T], timeout: float | None = None
) -> tuple[T | None, SourceHealth]:
    """Run one source call, timing it; a failure becomes a SourceHealth, never an exception."""
    started = time.monotonic()
    try:
        value = call()
    except Exception as exc:  # noqa: BLE001 - every failure of a source is a value for the UI
        state, message = describe_error(exc, timeout)
        return None, SourceHealth(name, state, message, duration_s=time.monotonic() - started)
    return value, SourceHealth(name, "ok", duration_s=time.monotonic() - started)
