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
