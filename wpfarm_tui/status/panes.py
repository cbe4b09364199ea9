"""The console's panes, in one table: adding a pane is a row here and its own files.

A row says the pane's key (its tab id and `status --json` key), its title, the number
key that shows it, the snapshot type its collector returns, how to build its collector
for a farm, and the widget that shows it (a "module:Class" path, imported by the console
only: the CLI and the tests read this table without Textual). The snapshots themselves
know their plain-text rows (`rows()`) and their alerts (`alerts(at)`)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from wpfarm_tui.inventory import Farm
from wpfarm_tui.status.backups import BackupsSnapshot
from wpfarm_tui.status.base import Collector
from wpfarm_tui.status.model import (
    BansSnapshot,
    CachesSnapshot,
    EdgeSnapshot,
    GaleraSnapshot,
    NodesSnapshot,
    SitesSnapshot,
)
from wpfarm_tui.status.storage import StorageSnapshot


@dataclass(frozen=True)
class CollectorOptions:
    """How a collector polls. live (the console): a pane shows what answered within one
    refresh interval and marks a source still running as slow (the Sites pane: its rows
    at once, probe results as they come); otherwise (one-shot reads) each poll waits for
    every source's answer or timeout."""

    live: bool = False

    def patience(self, farm: Farm) -> float | None:
        return farm.refresh.interval if self.live else None

    def probe_wait_s(self, farm: Farm) -> float | None:
        return max(0.2, farm.refresh.interval / 2) if self.live else None


Build = Callable[[Farm, CollectorOptions], Collector | None]


@dataclass(frozen=True)
class PaneSpec:
    key: str
    title: str
    number: str  # the key that shows it
    snapshot: type
    build: Build  # None when the farm has nothing for this pane (no backup: section)
    widget: str  # "module:Class" of its widget


def _nodes(farm: Farm, opts: CollectorOptions) -> Collector:
    from wpfarm_tui.status.nodes import NodesCollector

    return NodesCollector(farm, patience=opts.patience(farm))


def _sites(farm: Farm, opts: CollectorOptions) -> Collector:
    from wpfarm_tui.status.sites import SitesCollector

    return SitesCollector(farm, probe_wait_s=opts.probe_wait_s(farm), traffic=opts.live)


def _galera(farm: Farm, opts: CollectorOptions) -> Collector:
    from wpfarm_tui.status.galera import GaleraCollector

    return GaleraCollector(farm.endpoints.galera, dict(farm.thresholds),
                           patience=opts.patience(farm))


def _caches(farm: Farm, opts: CollectorOptions) -> Collector:
    from wpfarm_tui.status.caches import CachesCollector

    return CachesCollector(farm, patience=opts.patience(farm))


def _bans(farm: Farm, opts: CollectorOptions) -> Collector:
    from wpfarm_tui.status.bans import BansCollector

    return BansCollector(farm.endpoints.crowdsec)


def _edge(farm: Farm, opts: CollectorOptions) -> Collector:
    from wpfarm_tui.status.edge import EdgeCollector

    return EdgeCollector(farm.endpoints.traefik)


def _backups(farm: Farm, opts: CollectorOptions) -> Collector | None:
    if farm.backup is None:
        return None
    from wpfarm_tui.status.backups import BackupsCollector

    return BackupsCollector(farm)


def _storage(farm: Farm, opts: CollectorOptions) -> Collector | None:
    if farm.endpoints.gluster is None:
        return None
    from wpfarm_tui.status.storage import StorageCollector

    return StorageCollector(farm)


W = "wpfarm_tui.widgets."
# Tab order. The Alerts tab (key 7) is not a pane: it is fed from these panes' snapshots.
PANES: tuple[PaneSpec, ...] = (
    PaneSpec("nodes", "Nodes & services", "1", NodesSnapshot, _nodes, W + "nodes_pane:NodesPane"),
    PaneSpec("sites", "Sites", "2", SitesSnapshot, _sites, W + "sites_pane:SitesPane"),
    PaneSpec("galera", "Galera", "3", GaleraSnapshot, _galera, W + "galera_pane:GaleraPane"),
    PaneSpec("caches", "Caches", "4", CachesSnapshot, _caches, W + "caches_pane:CachesPane"),
    PaneSpec("bans", "CrowdSec", "5", BansSnapshot, _bans, W + "bans_pane:BansPane"),
    PaneSpec("edge", "Edge", "6", EdgeSnapshot, _edge, W + "edge_pane:EdgePane"),
    PaneSpec("backups", "Backups", "8", BackupsSnapshot, _backups,
             W + "backups_pane:BackupsPane"),
    PaneSpec("storage", "Storage", "9", StorageSnapshot, _storage,
             W + "storage_pane:StoragePane"),
)
BY_KEY: dict[str, PaneSpec] = {p.key: p for p in PANES}


def pane_list(keys: Collection[str] | None = None) -> str:
    """"1 Nodes & services · 2 Sites · ..." for help texts: every pane, or those of `keys`."""
    return " · ".join(f"{p.number} {p.title}" for p in PANES if keys is None or p.key in keys)
