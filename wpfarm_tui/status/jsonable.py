"""Snapshots and other dataclasses as JSON values: one way for --json and recordings."""

from __future__ import annotations

import dataclasses
from enum import Enum
from pathlib import Path
from typing import Any

from wpfarm_tui.status.thresholds import Level


def jsonable(value: Any) -> Any:
    """A snapshot (or anything in one) as JSON values: what --json prints and recordings
    hold. A dataclass with a `level` property gets it as a key too (for scripts)."""
    if isinstance(value, Level):
        return value.label
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        level = getattr(value, "level", None)
        if isinstance(level, Level):
            out["level"] = level.label
        return out
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    return value
