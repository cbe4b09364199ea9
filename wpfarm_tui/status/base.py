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


def credentials_fix(service: str) -> str:
    """The one wording of the fix for refused credentials (panes, alerts, procedures)."""
    user = f" and endpoints.{service}.user" if service == "galera" else ""
    return (f"check the password reference for {service} (endpoints.{service}.password"
            f"{user}) in farm.yaml")


def credentials_message(service: str, error: str | None) -> str:
    """What an operator reads for a refused login: the reason, the fix, the server's words."""
    said = f" (the server said: {error})" if error else ""
    return f"credentials refused: {credentials_fix(service)}{said}"


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
