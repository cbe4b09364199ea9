"""Operator procedures: plan -> run (step events) -> verify, with an audit log."""

from wpfarm_tui.actions.base import (
    Action,
    ActionError,
    AuditLog,
    ReadOnlyError,
    Step,
    StepEvent,
    Verdict,
    execute,
    guard_read_only,
    with_read_only,
)

__all__ = [
    "Action", "ActionError", "AuditLog", "ReadOnlyError", "Step", "StepEvent", "Verdict",
    "execute", "guard_read_only", "with_read_only",
]
