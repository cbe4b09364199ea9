"""The shape of every operator procedure, and the one way to run it.

An action is built from validated inputs (its constructor raises ActionError
naming the field and the fix), shows its plan before anything runs, streams
step events while it runs, and checks afterwards that it took effect. The
CLI and the console both drive actions through `execute`, which enforces
read-only mode, confirmation of destructive actions and the audit log.
Read-only is decided here for everything else too: `with_read_only` gives the
session's farm (farm.read_only or --read-only) and `guard_read_only` is the one
refusal, audited, that `execute` and the non-actions (image builds, shells) share.
"""

from __future__ import annotations

import getpass
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from wpfarm_tui.inventory import Farm

from wpfarm_tui.steps import (  # noqa: F401 - the procedure layer's names for them
    ActionError,
    EventKind,
    ReadOnlyError,
    Step,
    StepEvent,
    Verdict,
)


def refusal(what: str, problems: Iterable[tuple[str, str]]) -> str:
    """One message for a procedure that will not start on the view it has: every node and
    why (with the fix), nodes with the same reason together."""
    grouped: dict[str, list[str]] = {}
    for node, why in problems:
        grouped.setdefault(why, []).append(node)
    return f"{what} refused, nothing was changed: " + "; ".join(
        f"{', '.join(nodes)}: {why}" for why, nodes in grouped.items())


class Action(Protocol):
    name: str  # "galera-recover", "ban", ...
    destructive: bool

    def describe(self) -> Mapping[str, Any]:
        """The action's parameters for the audit log and --json; never secrets."""
        ...

    def plan(self) -> list[Step]:
        """What it will do; read-only, so a dry run is exactly this."""
        ...

    def run(self) -> Iterator[StepEvent]:
        """Do it, step by step. Safe to re-run: steps already done are skipped."""
        ...

    def verify(self) -> Verdict:
        """Did it take effect?"""
        ...


def default_audit_path() -> Path:
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return Path(os.environ.get("WPFARM_AUDIT_LOG") or state / "wpfarm" / "audit.log")


def operator() -> str:
    """Who runs it: the human behind sudo when there is one."""
    return os.environ.get("SUDO_USER") or getpass.getuser()


class AuditLog:
    """Append-only JSON lines: who, when, what, with which parameters, and the result."""

    def __init__(self, path: Path | None = None):
        self.path = path or default_audit_path()

    def append(self, entry: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "who": operator(),
                           **entry}, default=str)
        with self.path.open("a") as f:
            f.write(line + "\n")

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


def with_read_only(farm: Farm, read_only: bool) -> Farm:
    """The farm as this session sees it: --read-only adds to farm.read_only (never lifts
    it). Computed once where the farm is opened (the CLI's loader, the console's App), so
    every verb and screen reads one flag, `farm.read_only`."""
    return replace(farm, read_only=True) if read_only and not farm.read_only else farm


def guard_read_only(name: str, params: Mapping[str, Any], *, read_only: bool,
                    audit: AuditLog) -> None:
    """The one read-only check. `execute` calls it for every action; what changes the farm
    without being an action (an image build, a shell in a task) calls it too. A refusal is
    audited, then raised as ReadOnlyError. `read_only` is the session's flag: farm.read_only
    with --read-only folded in (`with_read_only`)."""
    if not read_only:
        return
    audit.append({"action": name, "params": dict(params), "result": "refused: read-only"})
    raise ReadOnlyError(f"{name}: this farm is in read-only mode (farm.read_only or "
                        "--read-only); nothing was changed")


@dataclass
class Outcome:
    """What `execute` leaves behind, for the caller to report."""

    plan: list[Step]
    events: list[StepEvent] = field(default_factory=list)
    verdict: Verdict | None = None
    dry_run: bool = False


def execute(
    action: Action,
    *,
    audit: AuditLog,
    read_only: bool = False,
    dry_run: bool = False,
    confirmed: bool = False,
) -> Iterator[Step | StepEvent | Verdict]:
    """Run an action the one sanctioned way, yielding the plan's steps, then the
    events, then the verdict. Refuses in read-only mode and refuses a destructive
    action that was not confirmed; every attempt (dry runs included) is audited.
    When it is over (done, refused, or the caller stopped reading), an action with a
    `close` method closes what it opened, so runs never pile up connections."""
    try:
        yield from _execute(action, audit=audit, read_only=read_only, dry_run=dry_run,
                            confirmed=confirmed)
    finally:
        close = getattr(action, "close", None)
        if callable(close):
            close()


def _execute(
    action: Action,
    *,
    audit: AuditLog,
    read_only: bool,
    dry_run: bool,
    confirmed: bool,
) -> Iterator[Step | StepEvent | Verdict]:
    params = dict(action.describe())
    guard_read_only(action.name, params, read_only=read_only, audit=audit)
    plan = action.plan()
    yield from plan
    if dry_run:
        audit.append({"action": action.name, "params": params, "result": "dry-run"})
        return
    if action.destructive and not confirmed:
        audit.append({"action": action.name, "params": params, "result": "refused: unconfirmed"})
        raise ActionError(f"{action.name} is destructive: confirm it (--yes, or the dialog), "
                          "or see the plan with --dry-run")
    failed: StepEvent | None = None
    try:
        for event in action.run():
            if event.kind == "failed":
                failed = event
            yield event
    except Exception as exc:  # noqa: BLE001 - an action's crash is reported, not raised
        failed = StepEvent("failed", "(unexpected)", f"{type(exc).__name__}: {exc}")
        yield failed
    verdict = (Verdict(False, f"failed at {failed.step}: {failed.message}") if failed
               else action.verify())
    audit.append({"action": action.name, "params": params,
                  "result": "ok" if verdict.ok else "failed", "verdict": asdict(verdict)})
    yield verdict
