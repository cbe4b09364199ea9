"""The shape every pane's collector has, and the helper that turns a failing
call into a `SourceHealth` value instead of an exception."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Generic, Protocol, TypeVar

from wpfarm_tui.status.model import Snapshot, SourceHealth

T = TypeVar("T")


class Collector(Protocol):
    pane: str  # its key in status/panes.py PANES

    def collect(self) -> Snapshot:
        """Poll the pane's sources once. Never raises: failures are in the snapshot."""
        ...

    # A collector that keeps connections, clients or thread pools between polls also has
    # `close()`; status/collectors.close_collectors calls it when the console is done.


# MariaDB/MySQL: 1045 access denied (user or password), 1044 access denied to a database,
# 1698 access denied by the auth plugin (unix_socket). The server is up and answering.
CREDENTIAL_ERRORS = frozenset({1044, 1045, 1698})
# Redis and Sentinel say it in words (WRONGPASS, NOAUTH, invalid password).
_CREDENTIAL_WORDS = ("access denied", "wrongpass", "noauth", "invalid password",
                     "invalid username-password", "authentication required")


def credentials_refused(exc: BaseException) -> bool:
    """The server answered and refused who we said we are: not down, and no recovery fixes
    it; the fix is the credentials in farm.yaml."""
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):  # a MariaDB error code says it exactly (1227,
        return args[0] in CREDENTIAL_ERRORS  # "Access denied; you need SUPER", is a grant)
    text = str(exc).lower()
    return any(w in text for w in _CREDENTIAL_WORDS)


def describe_error(exc: BaseException, timeout: float | None = None) -> tuple[str, str]:
    """(state, message) for a failed call: `denied`, `timeout`, `down` or `error`."""
    # pymysql errors are (code, message) pairs: the message is what an operator reads.
    args = getattr(exc, "args", ())
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        text = args[1]
    else:
        text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if credentials_refused(exc):  # first: an auth error can look like a connection error
        return "denied", text.splitlines()[0][:200]
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


R = TypeVar("R")


K = TypeVar("K")


class SourcePoll(Generic[K, R]):
    """The sources of one pane, each polled on its own.

    `gather` starts a call for every source that has none running, waits at most `patience`
    seconds, and returns what finished. A source still running is left running (its call
    has its own timeout) and is reported as pending: the pane shows its other rows now
    instead of waiting for its slowest source, and the hung one as slow (with its previous
    values), then as timed out once its call gives up. A source never heard from yet is
    waited for in full: "slow" always has a previous answer to show, never a guess.
    patience=None waits for every call (one-shot reads)."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool
        self._running: dict[K, tuple[Future[R], float]] = {}
        self.last: dict[K, R] = {}

    def gather(self, calls: Mapping[K, Callable[[], R]], patience: float | None
               ) -> tuple[dict[K, R], dict[K, float]]:
        """(results of the calls that finished, seconds each pending one has been running)."""
        now = time.monotonic()
        for key, call in calls.items():
            if key not in self._running:
                self._running[key] = (self._pool.submit(call), now)
        wait([self._running[k][0] for k in calls if k not in self.last])  # first answers
        wait([self._running[k][0] for k in calls if k in self.last], timeout=patience)
        done: dict[K, R] = {}
        pending: dict[K, float] = {}
        for key in calls:
            future, started = self._running[key]
            if future.done():
                del self._running[key]
                done[key] = self.last[key] = future.result()
            else:
                pending[key] = time.monotonic() - started
        for key in [k for k in self.last if k not in calls]:  # a source that left the farm
            del self.last[key]
        return done, pending


def slow_health(name: str, seconds: float) -> SourceHealth:
    """A source whose call is still running after the pane's patience: not down (yet)."""
    return SourceHealth(name, "slow", f"no answer for {seconds:.1f} s yet",
                        duration_s=seconds)
