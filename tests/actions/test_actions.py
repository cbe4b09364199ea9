"""The action runner: plan first, read-only refusal, confirmation, audit, failures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wpfarm_tui.actions import (
    ActionError,
    AuditLog,
    ReadOnlyError,
    Step,
    StepEvent,
    Verdict,
    execute,
    with_read_only,
)
from wpfarm_tui.inventory import Endpoints, Farm, RefreshSettings, SitesSettings


class Counter:
    """A real (in-memory) action: increments a counter, idempotently to a target."""

    name = "count"

    def __init__(self, target: int, destructive: bool = False, fail_at: int | None = None):
        self.value = 0
        self.target = target
        self.destructive = destructive
        self.fail_at = fail_at

    def describe(self):
        return {"target": self.target}

    def plan(self) -> list[Step]:
        return [Step(f"set {i}") for i in range(self.value + 1, self.target + 1)]

    def run(self) -> Iterator[StepEvent]:
        while self.value < self.target:
            step = f"set {self.value + 1}"
            yield StepEvent("started", step)
            if self.fail_at == self.value + 1:
                yield StepEvent("failed", step, "boom")
                return
            self.value += 1
            yield StepEvent("done", step)

    def verify(self) -> Verdict:
        return Verdict(self.value == self.target, f"value {self.value}")


def test_plan_events_verdict_and_audit(tmp_path):
    audit = AuditLog(tmp_path / "audit.log")
    action = Counter(2)
    items = list(execute(action, audit=audit))
    assert [type(i).__name__ for i in items] == ["Step", "Step", "StepEvent", "StepEvent",
                                                 "StepEvent", "StepEvent", "Verdict"]
    assert items[-1].ok and action.value == 2
    entry = audit.entries()[-1]
    assert entry["action"] == "count" and entry["result"] == "ok" and entry["who"]


def test_dry_run_changes_nothing(tmp_path):
    audit = AuditLog(tmp_path / "audit.log")
    action = Counter(3)
    items = list(execute(action, audit=audit, dry_run=True))
    assert all(isinstance(i, Step) for i in items) and len(items) == 3
    assert action.value == 0
    assert audit.entries()[-1]["result"] == "dry-run"


def test_read_only_refuses_before_planning(tmp_path):
    audit = AuditLog(tmp_path / "audit.log")
    with pytest.raises(ReadOnlyError, match="read-only"):
        list(execute(Counter(1), audit=audit, read_only=True))
    assert audit.entries()[-1]["result"] == "refused: read-only"


def test_the_read_only_flag_adds_to_the_farm_and_never_lifts_it():
    plain = Farm("f", "f.test", "lab", (), Endpoints(), SitesSettings(), RefreshSettings())
    assert with_read_only(plain, False) is plain
    assert with_read_only(plain, True).read_only
    watched = with_read_only(plain, True)
    assert with_read_only(watched, False).read_only  # farm.read_only: no flag lifts it


def test_destructive_needs_confirmation(tmp_path):
    audit = AuditLog(tmp_path / "audit.log")
    action = Counter(1, destructive=True)
    with pytest.raises(ActionError, match="destructive"):
        list(execute(action, audit=audit))
    assert action.value == 0
    list(execute(action, audit=audit, confirmed=True))
    assert action.value == 1


def test_failure_then_rerun_continues(tmp_path):
    audit = AuditLog(tmp_path / "audit.log")
    action = Counter(3, fail_at=2)
    verdict = list(execute(action, audit=audit))[-1]
    assert not verdict.ok and "set 2" in verdict.summary and action.value == 1
    action.fail_at = None
    assert [s.name for s in action.plan()] == ["set 2", "set 3"]  # continues, no duplicate
    assert list(execute(action, audit=audit))[-1].ok and action.value == 3
    assert [e["result"] for e in audit.entries()] == ["failed", "ok"]


def test_crash_in_run_is_a_failed_verdict(tmp_path):
    class Crashing(Counter):
        def run(self):
            yield StepEvent("started", "x")
            raise RuntimeError("disk on fire")

    verdict = list(execute(Crashing(1), audit=AuditLog(tmp_path / "a.log")))[-1]
    assert not verdict.ok and "disk on fire" in verdict.summary
