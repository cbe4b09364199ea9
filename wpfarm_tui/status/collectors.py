"""The collectors of every pane for one farm, and a headless one-shot refresh."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from wpfarm_tui.inventory import Farm
from wpfarm_tui.status.bans import BansCollector
from wpfarm_tui.status.base import Collector
from wpfarm_tui.status.caches import CachesCollector
from wpfarm_tui.status.edge import EdgeCollector
from wpfarm_tui.status.galera import GaleraCollector
from wpfarm_tui.status.model import Snapshot
from wpfarm_tui.status.nodes import NodesCollector
from wpfarm_tui.status.sites import SitesCollector

PANES = ("nodes", "sites", "galera", "caches", "bans", "edge", "backups")


def build_collectors(farm: Farm, live: bool = False) -> list[Collector]:
    """Every pane's collector. `live` (the console): a pane shows what answered within one
    refresh interval and marks a source still running as slow (the Sites pane: its rows
    at once, probe results as they come); otherwise (one-shot reads) each poll waits for
    every source's answer or timeout."""
    thresholds = dict(farm.thresholds)
    patience = farm.refresh.interval if live else None
    probe_wait_s = max(0.2, farm.refresh.interval / 2) if live else None
    collectors: list[Collector] = [
        NodesCollector(farm.endpoints.docker),
        SitesCollector(farm, probe_wait_s=probe_wait_s),
        GaleraCollector(farm.endpoints.galera, thresholds, patience=patience),
        CachesCollector(farm, patience=patience),
        BansCollector(farm.endpoints.crowdsec),
        EdgeCollector(farm.endpoints.traefik),
    ]
    if farm.backup is not None:
        from wpfarm_tui.status.backups import BackupsCollector

        collectors.append(BackupsCollector(farm))
    return collectors


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
