"""The vocabulary of operator procedures: a plan's steps, the events a run streams, the
verdict, and the error that refuses one.

A leaf module (it imports nothing of wpfarm), so the layers below actions/ (stacks/ deploy,
sites/ runtimes, farm/ clients) can speak it without importing the procedure layer;
actions/base.py re-exports it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

EventKind = Literal["started", "output", "done", "failed", "skipped"]


class ActionError(Exception):
    """Bad input or a refused action; the message names the field and the fix."""


class ReadOnlyError(ActionError):
    pass


@dataclass(frozen=True)
class Step:
    name: str  # "stop galera-2"
    detail: str = ""  # what exactly will be done, for the plan table
    destructive: bool = False


@dataclass(frozen=True)
class StepEvent:
    kind: EventKind
    step: str
    message: str = ""
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    summary: str
    details: tuple[str, ...] = ()
