"""The incident journal: when each incident was first seen, last seen and cleared, and the
actions taken while it was open (from the audit log), for the post-mortem.

Append-only JSON lines beside the audit log (`incidents.jsonl`): `open` when an incident
appears, `seen` at most once a minute while it lasts (so a console that dies still leaves
its last sighting), `clear` when it is gone. Every console and every `wpfarm alerts`
observes; reading folds the lines back into records, so two writers at once only add
lines, never lose one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from wpfarm_tui.actions.base import AuditLog, default_audit_path
from wpfarm_tui.status.incidents import Incident
from wpfarm_tui.status.texts import duration_text
from wpfarm_tui.status.thresholds import Level

SEEN_EVERY_S = 60.0


def default_journal_path() -> Path:
    """Beside the audit log (WPFARM_AUDIT_LOG moves both)."""
    return default_audit_path().with_name("incidents.jsonl")


@dataclass
class Record:
    key: str
    kind: str
    cause: str
    level: str
    first_seen: float
    last_seen: float
    cleared: float | None = None
    procedure: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)  # audit entries meanwhile

    @property
    def duration_s(self) -> float:
        return (self.cleared or self.last_seen) - self.first_seen

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "cause": self.cause, "level": self.level,
                "first_seen": _iso(self.first_seen), "last_seen": _iso(self.last_seen),
                "cleared": _iso(self.cleared) if self.cleared else None,
                "duration": duration_text(self.duration_s), "duration_s": self.duration_s,
                "procedure": self.procedure, "actions": self.actions}


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _level(label: object) -> Level:
    return Level.__members__.get(str(label).upper(), Level.UNKNOWN)


def _audit_time(entry: Mapping[str, Any]) -> float | None:
    try:
        return datetime.strptime(str(entry.get("at")), "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return None


class IncidentJournal:
    def __init__(self, path: Path | None = None, audit: AuditLog | None = None,
                 clock: Any = time.time):
        self.path = path or default_journal_path()
        self.audit = audit or AuditLog()
        self.clock = clock
        self._open: dict[str, float] | None = None  # key -> when its last line was written

    # ------------------------------------------------------------ writing
    def _append(self, lines: Sequence[Mapping[str, Any]]) -> None:
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")

    def observe(self, incidents: Iterable[Incident], now: float | None = None) -> None:
        """Record what is open now: new incidents open, gone ones clear, the others are
        seen again (written at most once a minute)."""
        now = self.clock() if now is None else now
        if self._open is None:  # what an earlier console or CLI left open
            self._open = {r.key: r.last_seen for r in self.records() if r.cleared is None}
        current = {i.key: i for i in incidents}
        lines: list[dict[str, Any]] = []
        for key, inc in current.items():
            base = {"key": key, "at": now, "kind": inc.kind, "cause": inc.cause,
                    "level": inc.level.label, "procedure": inc.procedure}
            if key not in self._open:
                lines.append({"event": "open", **base})
                self._open[key] = now
            elif now - self._open[key] >= SEEN_EVERY_S:
                lines.append({"event": "seen", **base})
                self._open[key] = now
        for key in [k for k in self._open if k not in current]:
            lines.append({"event": "clear", "key": key, "at": now})
            del self._open[key]
        self._append(lines)

    # ------------------------------------------------------------ reading
    def _lines(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a crash: the others still count
        return out

    def records(self, since: float | None = None, with_actions: bool = False) -> list[Record]:
        """Every incident in the journal (open ones have no `cleared`), newest first; with
        `since`, those still open then or seen after it."""
        open_: dict[str, Record] = {}
        done: list[Record] = []
        for line in self._lines():
            key, at, event = line.get("key"), line.get("at"), line.get("event")
            if not isinstance(key, str) or not isinstance(at, (int, float)):
                continue
            rec = open_.get(key)
            if event in ("open", "seen"):
                if rec is None:
                    open_[key] = Record(key, str(line.get("kind", "")),
                                        str(line.get("cause", "")),
                                        str(line.get("level", "")), at, at,
                                        procedure=line.get("procedure"))
                else:
                    rec.last_seen = max(rec.last_seen, at)
                    rec.cause = str(line.get("cause", rec.cause))
                    if _level(line.get("level")) > _level(rec.level):
                        rec.level = str(line.get("level"))
            elif event == "clear" and rec is not None:
                rec.cleared = at
                done.append(open_.pop(key))
        records = done + list(open_.values())
        if since is not None:
            records = [r for r in records if (r.cleared or float("inf")) >= since]
        records.sort(key=lambda r: -r.first_seen)
        if with_actions:
            entries = [(t, e) for e in self.audit.entries() if (t := _audit_time(e))]
            for r in records:
                end = r.cleared or self.clock()
                r.actions = [{"at": _iso(t), "action": e.get("action"), "who": e.get("who"),
                              "result": e.get("result"), "params": e.get("params")}
                             for t, e in entries if r.first_seen <= t <= end]
        return records
