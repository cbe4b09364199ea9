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
)

__all__ = [
    "Action", "ActionError", "AuditLog", "ReadOnlyError", "Step", "StepEvent", "Verdict",
    "execute",
]
