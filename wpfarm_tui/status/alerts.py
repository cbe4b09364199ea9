"""Every pane's alerts at once: what the Alerts tab and `wpfarm alerts` start from.

Each snapshot knows its own rows' alerts (`Snapshot.alerts`); here are the parts that
span panes: a source down is an alert whatever its pane, one subject is one alert, and
the newest come first. status/incidents.py then groups them by cause."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wpfarm_tui.status.model import Alert, source_message
from wpfarm_tui.status.thresholds import Level

__all__ = ["Alert", "alerts_from"]

# Whose credentials a pane's sources log in with (only these say "denied" today): the
# site registry and database sizes of the Sites and Backups panes are on Galera too.
_CREDENTIALS_OF = {"caches": "redis"}


def _src_time(snap: Any) -> float:
    return max((s.checked_at for s in getattr(snap, "sources", ())), default=0.0)


def alerts_from(snapshots: Mapping[str, Any]) -> list[Alert]:
    """Every row past the warning/critical thresholds and every source down, newest first
    (by the time its source was checked), worst first among equals."""
    out: list[Alert] = []
    for pane, snap in snapshots.items():
        for src in getattr(snap, "sources", ()):
            if not src.ok and src.state != "disabled":
                message = source_message(_CREDENTIALS_OF.get(pane, "galera"), src.state,
                                         src.error)
                out.append(Alert(f"{pane}/source/{src.name}", pane, src.name, Level.CRITICAL,
                                 message, src.checked_at))
        rows = getattr(snap, "alerts", None)
        if rows is not None:
            out += rows(_src_time(snap))
    # De-duplicate (a Galera node is both a source and a row), keep the richer one.
    seen: dict[str, Alert] = {}
    for a in out:
        key = f"{a.pane}/{a.subject}"
        prev = seen.get(key)
        if prev is None or (a.procedure and not prev.procedure) or a.level > prev.level:
            seen[key] = a
    return sorted(seen.values(), key=lambda a: (-a.at, -a.level, a.key))
