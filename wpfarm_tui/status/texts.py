"""How values read in text meant for an operator (alerts, incidents, verdicts): never a
Python repr (`None`, `nan`) and durations like "3h59m", not Go's nanoseconds."""

from __future__ import annotations

import math
import re

_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|h|m|s)")
_GO_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6,
              "ns": 1e-9}


def shown(value: object, unknown: str = "unknown") -> str:
    """A value for a sentence: `unknown` for None and NaN, the value otherwise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return unknown
    return str(value)


def duration_text(seconds: float | None) -> str:
    """2d4h, 3h59m, 4m59s or 42s: two units at most, never fractions of a second."""
    if seconds is None or math.isnan(seconds):
        return "unknown"
    s = max(0, int(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def go_seconds(text: str | None) -> float | None:
    """Seconds of a Go duration string ("3h59m12.123456789s", "-1.5s"), None if it is not
    one."""
    value = (text or "").strip()
    sign = -1.0 if value.startswith("-") else 1.0
    value = value.lstrip("+-")
    if not value or _GO_PART.sub("", value):
        return None
    return sign * sum(float(n) * _GO_UNIT_S[u] for n, u in _GO_PART.findall(value))


def go_duration_text(text: str | None) -> str:
    """CrowdSec's (Go's) "3h59m12.123456789s" as "3h59m"; text that is not a Go duration
    is returned as it is (trimmed), an empty one as "unknown"."""
    seconds = go_seconds(text)
    if seconds is None:
        return (text or "").strip() or "unknown"
    return ("-" if seconds < 0 else "") + duration_text(abs(seconds))


def credentials_fix(service: str) -> str:
    """The one wording of the fix for refused credentials (panes, alerts, procedures)."""
    user = f" and endpoints.{service}.user" if service == "galera" else ""
    return (f"check the password reference for {service} (endpoints.{service}.password"
            f"{user}) in farm.yaml")


def credentials_message(service: str, error: str | None) -> str:
    """What an operator reads for a refused login: the reason, the fix, the server's words."""
    said = f" (the server said: {error})" if error else ""
    return f"credentials refused: {credentials_fix(service)}{said}"


def pct(value: float | None) -> str:
    return "unknown" if value is None or math.isnan(value) else f"{value:.1f} %"


def hit_text(minute_ratio: float | None, since_start: float | None) -> str:
    """The hit ratio an operator should read: the last minute's, the total as context."""
    if minute_ratio is not None:
        return f"hit ratio {minute_ratio:.1f} % over the last minute ({pct(since_start)} " \
               "since start)"
    return f"hit ratio {pct(since_start)} since start"
