"""Helpers of the site tests against the lab."""

from __future__ import annotations

from pathlib import Path

from wpfarm_tui.actions import AuditLog, StepEvent, Verdict, execute


def run(action, tmp_path: Path, confirmed: bool = False) -> tuple[list, Verdict]:
    """Execute `action`: its step events and its verdict."""
    items = list(execute(action, audit=AuditLog(tmp_path / "audit.log"), confirmed=confirmed))
    return [i for i in items if isinstance(i, StepEvent)], items[-1]
