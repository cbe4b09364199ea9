"""The collectors of every pane for one farm, and a headless one-shot refresh."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from wpfarm_tui.inventory import Farm
from wpfarm_tui.status.base import Collector
from wpfarm_tui.status.model import Snapshot
from wpfarm_tui.status.panes import PANES, CollectorOptions


def build_collectors(farm: Farm, live: bool = False) -> list[Collector]:
    """Every pane's collector (status/panes.py), in tab order; `live` for the console (see
    CollectorOptions)."""
    opts = CollectorOptions(live=live)
    return [c for spec in PANES if (c := spec.build(farm, opts)) is not None]


def close_collectors(collectors: Iterable[Collector]) -> None:
    """When a console (or a farm in it) is done: every collector lets go of what it keeps
    open between polls; one that fails to close does not keep the others open."""
    for collector in collectors:
        close = getattr(collector, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()


@dataclass(frozen=True)
class Refresh:
    snapshots: dict[str, Snapshot]
    seconds: dict[str, float]  # wall time of each pane's poll
    wall_s: float


def refresh_all(collectors: list[Collector]) -> Refresh:
    """Poll every pane concurrently, once (the CLI and the benchmark use this)."""

    def timed(c: Collector) -> tuple[str, Snapshot, float]:
        started = time.monotonic()
        snap = c.collect()
        return c.pane, snap, time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(collectors) or 1) as pool:
        results = list(pool.map(timed, collectors))
    return Refresh({p: s for p, s, _ in results}, {p: t for p, _, t in results},
                   time.monotonic() - started)
