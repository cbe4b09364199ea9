"""Backups pane: per site, the last backup of each type and its age against the RPO.

A database backup older than an hour is critical (RPO < 1 h); a files
backup older than a day is a warning (daily full backups). A site of the
registry with no backup at all is critical. The repository itself is a
source: wrong password, unreachable or locked shows as its SourceHealth.

Sizes cost one restic call per snapshot, so they are cached by snapshot ID
(snapshots never change) and at most `SIZES_PER_POLL` new ones are read per
poll: at 500 sites the first polls show sizes filling in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from wpfarm_tui.farm.galera import GaleraConnections
from wpfarm_tui.farm.restic import Restic, ResticError, Snapshot
from wpfarm_tui.inventory import Farm
from wpfarm_tui.status.base import probe
from wpfarm_tui.status.model import Alert, SourceHealth, TextRow
from wpfarm_tui.status.thresholds import BACKUP_RPO_S, Level, worst

DB_RPO_S = BACKUP_RPO_S  # older: critical
FILES_MAX_AGE_S = 24 * 3600.0  # older: warning
SIZES_PER_POLL = 8


@dataclass(frozen=True)
class SiteBackups:
    domain: str
    db_snapshot: str | None = None
    db_time: float | None = None  # epoch seconds
    db_age_s: float | None = None
    db_size: int | None = None
    files_snapshot: str | None = None
    files_time: float | None = None
    files_age_s: float | None = None
    files_size: int | None = None
    snapshots: int = 0
    level: Level = Level.UNKNOWN
    note: str | None = None


@dataclass(frozen=True)
class BackupsSnapshot:
    sources: tuple[SourceHealth, ...]
    sites: tuple[SiteBackups, ...] = ()
    repository: str = ""
    total_snapshots: int = 0

    @property
    def level(self) -> Level:
        return worst([s.level for s in self.sources] + [r.level for r in self.sites])

    def rows(self) -> list[TextRow]:
        return [(s.level, {"site": s.domain, "db": s.db_snapshot, "db age s": s.db_age_s,
                           "files": s.files_snapshot, "files age s": s.files_age_s,
                           "note": s.note}) for s in self.sites]

    def alerts(self, at: float) -> list[Alert]:
        return []  # the Backups pane colours its rows; it raises no alerts (yet)


def db_level(age_s: float | None) -> Level:
    if age_s is None or age_s > DB_RPO_S:
        return Level.CRITICAL
    return Level.OK


def files_level(age_s: float | None) -> Level:
    if age_s is None:
        return Level.CRITICAL
    return Level.WARNING if age_s > FILES_MAX_AGE_S else Level.OK


def site_rows(domains: list[str], snapshots: list[Snapshot], now: float,
              sizes: dict[str, int]) -> list[SiteBackups]:
    """One row per site, from the repository's snapshots (pure: unit-testable)."""
    by_site: dict[str, list[Snapshot]] = {}
    for snap in snapshots:
        if snap.site:
            by_site.setdefault(snap.site, []).append(snap)
    rows = []
    for domain in sorted(set(domains) | set(by_site)):
        snaps = by_site.get(domain, [])
        last = {kind: max((s for s in snaps if s.kind == kind), key=lambda s: s.time,
                          default=None) for kind in ("db", "files")}
        db, files = last["db"], last["files"]
        db_t = db.time.timestamp() if db else None
        files_t = files.time.timestamp() if files else None
        db_age = now - db_t if db_t is not None else None
        files_age = now - files_t if files_t is not None else None
        note = None
        if not snaps:
            note = "never backed up"
        elif db is None:
            note = "no database backup"
        elif db_age is not None and db_age > DB_RPO_S:
            note = "database backup older than the 1 h RPO"
        elif files is None:
            note = "no files backup"
        elif files_age is not None and files_age > FILES_MAX_AGE_S:
            note = "files backup older than 24 h"
        if domain not in domains and domains:
            note = "not in the registry (deleted site?)"
        level = worst([db_level(db_age), files_level(files_age)])
        if domain not in domains and domains:
            level = Level.OK if level == Level.OK else Level.WARNING
        rows.append(SiteBackups(
            domain, db.short_id if db else None, db_t, db_age,
            sizes.get(db.id) if db else None, files.short_id if files else None, files_t,
            files_age, sizes.get(files.id) if files else None, len(snaps), level, note))
    return rows


class BackupsCollector:
    pane = "backups"
    # restic derives its repository key on every call (~0.9 s of CPU, measured): against
    # a 1 h RPO, asking every 5 minutes is plenty, and keeps the console under 10 % of a core.
    min_interval = 300.0

    def __init__(self, farm: Farm, clock: Callable[[], float] = time.time,
                 sizes_per_poll: int = SIZES_PER_POLL):
        self.farm = farm
        self.clock = clock
        self.sizes_per_poll = sizes_per_poll
        self._sizes: dict[str, int] = {}
        self._domains: list[str] = []
        galera = farm.endpoints.galera
        self._db = GaleraConnections(galera) if galera and farm.sites.registry == "galera" \
            else None
        self._restic: Restic | None = None
        self._restic_error: str | None = None
        if farm.backup is not None:
            try:
                self._restic = Restic(farm.backup, farm, timeout=60)
            except ResticError as exc:
                self._restic_error = str(exc)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def _registry(self) -> list[str]:
        assert self._db is not None
        return sorted(str(r[0]) for r in self._db.query("SELECT domain FROM wpfarm.sites"))

    def _size(self, restic: Restic, snap: Snapshot) -> int:
        if snap.kind == "db" and len(snap.paths) == 1:
            files = restic.ls_files(snap.id)
            return sum(int(f.get("size") or 0) for f in files)
        return restic.stats_size(snap.id)

    def collect(self) -> BackupsSnapshot:
        sources: list[SourceHealth] = []
        if self._db is not None:
            timeout = self.farm.endpoints.galera.timeout if self.farm.endpoints.galera else None
            domains, health = probe("site-registry", self._registry, timeout)
            sources.append(health)
            if domains is not None:
                self._domains = domains
        domains = list(self._domains) + list(self.farm.sites.static)
        if self.farm.backup is None:
            sources.append(SourceHealth("repository", "disabled", "no backup: section in "
                                        "farm.yaml"))
            return BackupsSnapshot(tuple(sources))
        if self._restic is None:
            sources.append(SourceHealth("repository", "error", self._restic_error))
            return BackupsSnapshot(tuple(sources))
        restic = self._restic
        started = time.monotonic()
        try:
            snaps = restic.snapshots()
        except ResticError as exc:
            state = {"unreachable": "down", "timeout": "timeout"}.get(exc.kind, "error")
            sources.append(SourceHealth("repository", state, str(exc),
                                        duration_s=time.monotonic() - started))
            return BackupsSnapshot(tuple(sources), repository=restic.where())
        sources.append(SourceHealth("repository", "ok",
                                    duration_s=time.monotonic() - started))
        # Sizes of the newest snapshots first, a few per poll.
        newest = sorted(snaps, key=lambda s: s.time, reverse=True)
        todo = [s for s in newest if s.id not in self._sizes and s.kind in ("db", "files")]
        for snap in todo[: self.sizes_per_poll]:
            try:
                self._sizes[snap.id] = self._size(restic, snap)
            except ResticError:
                break  # the repository's trouble shows on the next snapshots call
        rows = site_rows(domains, snaps, self.clock(), self._sizes)
        return BackupsSnapshot(tuple(sources), tuple(rows), restic.where(), len(snaps))
