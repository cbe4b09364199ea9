"""Restore of one site from the restic repository: `wpfarm restore DOMAIN`.

Before anything is overwritten, the site's current database and files are
backed up (tags `site=D,type=safety,part=db|files`). The database is loaded
into a staging database and swapped in with one `RENAME TABLE` statement;
the files are restored next to the live directory and swapped in with two
renames. Then the site's Varnish objects are banned and the site is checked
through the edge. A failed or interrupted restore names the exact command
that rolls back to the safety backup.

`drill=True` restores into a scratch database and a scratch directory,
checks them, measures the time (the RTO) and removes them: the live site is
not touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shlex
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from wpfarm_tui import programs
from wpfarm_tui.actions.backup import (
    DUMP_TIMEOUT,
    DUMP_TRAILER,
    Database,
    SiteRecord,
    StreamResult,
    check_db_name,
    dump_to_restic,
    pump,
    registry_sites,
    require_backup,
)
from wpfarm_tui.actions.base import ActionError, Step, StepEvent, Verdict
from wpfarm_tui.actions.cache import check_domain
from wpfarm_tui.farm import ssh, varnish
from wpfarm_tui.farm.restic import Restic, ResticError, Snapshot, drain
from wpfarm_tui.inventory import Farm
from wpfarm_tui.sites.naming import sql_ident

RTO_TARGET_S = 4 * 3600
PARTS = ("db", "files")


_AT_FORMAT = ("write it as YYYY-MM-DD, 'YYYY-MM-DD HH:MM[:SS]' (local time) or "
              "YYYY-MM-DDTHH:MM[:SS]+HH:MM / Z, e.g. '2026-03-01 04:00'")
_AT_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
                    r"([ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?(Z|[+-][0-9]{2}:[0-9]{2})?)?")
_AT_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def parse_at(text: str | None, now: datetime | None = None) -> datetime:
    """--at: a time on or after 1970 and not in the future, in one of the ISO 8601
    shapes of `_AT_FORMAT` (naive = local); an ActionError naming --at otherwise."""
    raw = (text or "").strip()
    if not _AT_RE.fullmatch(raw):
        raise ActionError(f"--at: {text!r} is not a time; {_AT_FORMAT}")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ActionError(f"--at: {text!r} is not a valid time ({exc}); {_AT_FORMAT}") from None
    # Checked before astimezone(), which fails for the first and last years of the calendar.
    if value.year < 1970 or value.year > 9000:
        raise ActionError(f"--at: {text!r} is out of range; give a time between 1970 and now")
    value = value if value.tzinfo else value.astimezone()
    now = now or datetime.now(UTC)
    if value < _AT_EARLIEST:
        raise ActionError(f"--at: {text!r} is before 1970; no backup is that old")
    if value > now + timedelta(minutes=1):
        raise ActionError(f"--at: {text!r} is in the future; give a time at or before now "
                          "(or leave --at out for the newest backups)")
    return value


def rename_statement(live: str, old: str, staging: str, live_tables: Sequence[str],
                     new_tables: Sequence[str]) -> str:
    """The one atomic RENAME TABLE that moves the live tables aside and the restored ones
    in. Table names come from information_schema, i.e. from whoever controls the site's
    database (and the dump): each is quoted, backticks doubled, never pasted raw."""
    q = sql_ident
    renames = [f"{q(live)}.{q(t)} TO {q(old)}.{q(t)}" for t in live_tables]
    renames += [f"{q(staging)}.{q(t)} TO {q(live)}.{q(t)}" for t in new_tables]
    return "RENAME TABLE " + ", ".join(renames)


def pick_snapshots(snapshots: Sequence[Snapshot], domain: str, parts: Sequence[str],
                   ids: Sequence[str] = (), at: datetime | None = None) -> dict[str, Snapshot]:
    """Which snapshot restores each part: the given IDs, else the newest at or before `at`
    (else the newest) of type db / files. Safety snapshots are picked only by ID."""
    mine = [s for s in snapshots if s.site == domain]
    chosen: dict[str, Snapshot] = {}
    if ids:
        for sid in ids:
            match = [s for s in mine if s.id.startswith(sid) or s.short_id == sid]
            if len(match) != 1:
                raise ActionError(f"--snapshot {sid}: {'no' if not match else 'more than one'} "
                                  f"snapshot of {domain} has that ID; list them with "
                                  f"`wpfarm backups` or `restic snapshots --tag site={domain}`")
            snap = match[0]
            part = snap.part
            if part not in PARTS:
                raise ActionError(f"--snapshot {sid} has no type=db/files (or part=) tag")
            if part in chosen:
                raise ActionError(f"--snapshot: two {part} snapshots given; give one per part")
            chosen[part] = snap
        return {p: s for p, s in chosen.items() if p in parts}
    for part in parts:
        candidates = [s for s in mine if s.kind == part and (at is None or s.time <= at)]
        if not candidates:
            when = f" at or before {at.isoformat(timespec='seconds')}" if at else ""
            raise ActionError(f"no {part} snapshot of {domain}{when}: back it up first "
                              f"(`wpfarm backup {domain}`) or pick another time")
        chosen[part] = max(candidates, key=lambda s: s.time)
    return chosen


def ban_site(farm: Farm, domain: str, timeout: float = 5.0) -> list[str]:
    """Ban every cached object of the site on each Varnish; the instances banned."""
    try:
        return varnish.ban_site(farm, domain, timeout)
    except ConnectionError as exc:
        raise ActionError(str(exc)) from None


def edge_status(farm: Farm, domain: str) -> int | None:
    """The HTTP status of the site's home page through the edge (None: no answer)."""
    edge = farm.sites.edge_url
    if not edge:
        return None
    try:
        with httpx.Client(timeout=farm.sites.timeout, verify=farm.sites.verify_tls) as client:
            return client.get(f"{edge}/", headers={"Host": domain}).status_code
    except httpx.HTTPError:
        return None


def _short(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:10]


class RestoreAction:
    name = "restore"

    def __init__(self, farm: Farm, domain: str, *, snapshots: Sequence[str] = (),
                 at: datetime | str | None = None, db: bool = True, files: bool = True,
                 drill: bool = False, check_edge: bool = True):
        require_backup(farm, "mariadb")
        if snapshots and at is not None:
            raise ActionError("restore: give --snapshot or --at, not both")
        if not db and not files:
            raise ActionError("restore: --db-only and --files-only exclude each other")
        self.farm = farm
        assert farm.backup is not None
        self.settings = farm.backup
        self.domain = check_domain(domain)
        self.ids = tuple(snapshots)
        self.at = parse_at(at) if isinstance(at, str) else at
        self.parts = tuple(p for p, on in (("db", db), ("files", files)) if on)
        self.drill = drill
        self.check_edge = check_edge
        self.destructive = not drill
        self._site: SiteRecord | None = None
        self._chosen: dict[str, Snapshot] | None = None
        self.safety: dict[str, str] = {}  # part -> safety snapshot id
        self.seconds: float | None = None
        self.checks: list[str] = []
        self.problems: list[str] = []
        self.scratch_db = f"wpdrill_{uuid.uuid4().hex[:10]}"
        self.scratch_dir = f"/var/tmp/wpfarm-drill-{uuid.uuid4().hex[:10]}"

    # ------------------------------------------------------------ inputs
    def describe(self) -> Mapping[str, Any]:
        return {"domain": self.domain, "snapshots": list(self.ids),
                "at": self.at.isoformat() if self.at else None, "parts": list(self.parts),
                "drill": self.drill}

    def site(self) -> SiteRecord:
        if self._site is None:
            self._site = registry_sites(self.farm, [self.domain])[0]
            check_db_name(self._site.db_name)  # registry_sites applied the naming rule too
        return self._site

    def chosen(self) -> dict[str, Snapshot]:
        if self._chosen is None:
            restic = Restic(self.settings, self.farm)
            try:
                snaps = restic.snapshots([f"site={self.domain}"])
            except ResticError as exc:
                raise ActionError(f"restore: {exc}") from None
            self._chosen = pick_snapshots(snaps, self.domain, self.parts, self.ids, self.at)
            if self.ids:
                self.parts = tuple(p for p in PARTS if p in self._chosen)
        return self._chosen

    def site_dir(self) -> str:
        return str(Path(self.settings.sites_root) / self.domain)

    def rollback_command(self) -> str:
        if not self.safety:
            return "nothing was overwritten yet: no rollback needed"
        flags = " ".join(f"--snapshot {sid}" for sid in self.safety.values())
        return f"wpfarm restore {self.domain} {flags} --yes"

    # ------------------------------------------------------------ plan
    def plan(self) -> list[Step]:
        site, chosen = self.site(), self.chosen()
        steps = []
        if not self.drill:
            steps.append(Step("safety backup", f"back up the current {' and '.join(self.parts)} "
                              f"of {self.domain} (tag type=safety) before overwriting"))
        for part in self.parts:
            snap = chosen[part]
            when = snap.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            if part == "db":
                target = self.scratch_db if self.drill else site.db_name
                steps.append(Step("restore db", f"snapshot {snap.short_id} ({when}) into "
                                  f"database {target}" + ("" if self.drill else
                                                          " (staging db, then RENAME TABLE)"),
                                  destructive=not self.drill))
            else:
                target = self.scratch_dir if self.drill else self.site_dir()
                steps.append(Step("restore files", f"snapshot {snap.short_id} ({when}) into "
                                  f"{target}" + ("" if self.drill else
                                                 " (restored beside it, then renamed in)"),
                                  destructive=not self.drill))
        if self.drill:
            steps.append(Step("check drill", "restored tables and files are all there"))
            steps.append(Step("clean up", f"drop {self.scratch_db}, remove {self.scratch_dir}"))
        else:
            steps.append(Step("purge caches", f"varnishadm ban obj.http.x-host == {self.domain}"))
            steps.append(Step("check site", f"{self.domain} answers 200 through the edge and "
                              "the restored content is there"))
        return steps

    # ------------------------------------------------------------ run
    def run(self) -> Iterator[StepEvent]:
        started = time.monotonic()
        restic = Restic(self.settings, self.farm)
        db = Database(self.farm)
        site, chosen = self.site(), self.chosen()
        overwriting = False
        finished = False

        def fail(step: str, exc: BaseException) -> StepEvent:
            text = restic.scrub(db.scrub(str(exc)))
            if not self.drill:
                text += f". Roll back: {self.rollback_command()}"
            return StepEvent("failed", step, text)

        try:
            if not self.drill:
                yield StepEvent("started", "safety backup")
                try:
                    msg = self._safety(db, restic, site)
                except (ResticError, ActionError, OSError) as exc:
                    yield StepEvent("failed", "safety backup", restic.scrub(db.scrub(str(exc)))
                                    + ". Nothing was overwritten")
                    return
                yield StepEvent("done", "safety backup", msg)
            for part in self.parts:
                step = f"restore {part}"
                yield StepEvent("started", step)
                overwriting = not self.drill
                try:
                    if part == "db":
                        msg = self._restore_db(db, restic, site, chosen["db"])
                    else:
                        msg = self._restore_files(restic, chosen["files"])
                except (ResticError, ActionError, OSError, ConnectionError) as exc:
                    yield fail(step, exc)
                    return
                yield StepEvent("done", step, msg)
            if self.drill:
                yield StepEvent("started", "check drill")
                self._check_drill(db, restic, chosen)
                if self.problems:
                    yield StepEvent("failed", "check drill", "; ".join(self.problems))
                else:
                    yield StepEvent("done", "check drill", "; ".join(self.checks))
            else:
                yield StepEvent("started", "purge caches")
                try:
                    banned = ban_site(self.farm, self.domain)
                    yield StepEvent("done", "purge caches",
                                    f"banned on {', '.join(banned) or 'no Varnish configured'}")
                except (ActionError, OSError, subprocess.TimeoutExpired, ssh.SshError) as exc:
                    # Stale cache is not lost data: say it, and go on checking.
                    yield StepEvent("failed", "purge caches", f"{exc}: ban it by hand")
                yield StepEvent("started", "check site")
                self._check_site(db, restic, site, chosen)
                if self.problems:
                    yield fail("check site", Exception("; ".join(self.problems)))
                    return
                yield StepEvent("done", "check site", "; ".join(self.checks))
            finished = True
            self.seconds = time.monotonic() - started
        finally:
            if self.drill:
                self._cleanup_drill(db, restic)
            elif not finished and overwriting and self.safety:
                # Interrupted (Ctrl-C, a closed screen) or failed: the way back is printed.
                self.problems.append(f"restore did not finish; roll back with: "
                                     f"{self.rollback_command()}")
        if self.drill:
            yield StepEvent("done", "clean up", f"dropped {self.scratch_db}, "
                            f"removed {self.scratch_dir}")

    def _safety(self, db: Database, restic: Restic, site: SiteRecord) -> str:
        out = []
        tags = [f"site={self.domain}", "type=safety"]
        if "db" in self.parts:
            exists = db.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA "
                                "WHERE SCHEMA_NAME = %s", (site.db_name,))[0][0]
            if exists:
                summary, size = dump_to_restic(db, restic, site.db_name, f"{self.domain}.sql",
                                               [*tags, "part=db"])
                self.safety["db"] = summary.snapshot_id
                out.append(f"db {summary.snapshot_id} ({size:,} bytes)")
            else:
                out.append(f"db: no database {site.db_name} to save")
        if "files" in self.parts:
            if self._exists(restic, self.site_dir()):
                summary = restic.backup_paths([self.site_dir()], [*tags, "part=files"])
                self.safety["files"] = summary.snapshot_id
                out.append(f"files {summary.snapshot_id} ({summary.total_files} files)")
            else:
                out.append(f"files: no {self.site_dir()} to save")
        return ", ".join(out)

    @staticmethod
    def _exists(restic: Restic, path: str) -> bool:
        if restic.node is None:
            return Path(path).exists()
        return restic.sh(f"test -e {shlex.quote(path)} && echo y || echo n").strip() == "y"

    def _load_dump(self, db: Database, restic: Restic, snap: Snapshot, target: str) -> int:
        """restic dump SNAP FILE | mariadb TARGET; the number of bytes loaded."""
        path = snap.paths[0] if snap.paths else f"/{self.domain}.sql"
        restic.check_reachable()
        last = "no Galera node answers"
        for node in db.live_nodes():
            proc = restic.spawn(["dump", snap.id, path])
            with db.defaults_file(node) as cnf:
                client = subprocess.Popen([programs.path("mariadb"), f"--defaults-extra-file={cnf}",
                                           target],
                                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE)
                streamed = StreamResult()
                copier = pump(proc.stdout, client.stdin, streamed)
                err: list[bytes] = []
                cerr: list[bytes] = []
                threads = [drain(proc.stderr, err)]
                cthread = drain(client.stderr, cerr)  # type: ignore[arg-type]
                copier.join()
                rc = client.wait(DUMP_TIMEOUT)
                cthread.join(5)
                restic.finish(proc, ["dump"], DUMP_TIMEOUT, [], err, threads)
            if rc == 0:
                if DUMP_TRAILER not in streamed.tail:
                    raise ActionError(f"snapshot {snap.short_id} holds an incomplete dump (no "
                                      "completion trailer): pick an older snapshot")
                return streamed.bytes
            last = db.scrub(b"".join(cerr).decode(errors="replace").strip()) or f"exit {rc}"
            if "can't connect" not in last.lower() and "lost connection" not in last.lower():
                break
        raise ActionError(f"loading the dump into {target} failed: {last.splitlines()[-1]}")

    def _tables(self, db: Database, schema: str) -> list[str]:
        rows = db.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE "
                          "TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'", (schema,))
        return sorted(str(r[0]) for r in rows)

    def _restore_db(self, db: Database, restic: Restic, site: SiteRecord, snap: Snapshot
                    ) -> str:
        if self.drill:
            db.execute(f"CREATE DATABASE `{self.scratch_db}`")
            size = self._load_dump(db, restic, snap, self.scratch_db)
            n = len(self._tables(db, self.scratch_db))
            return f"{n} tables, {size:,} bytes loaded into {self.scratch_db}"
        live = site.db_name
        staging, old = f"wprestore_{_short(live)}", f"wpold_{_short(live)}"
        db.execute(f"DROP DATABASE IF EXISTS `{staging}`")
        db.execute(f"CREATE DATABASE `{staging}`")
        try:
            size = self._load_dump(db, restic, snap, staging)
            new_tables = self._tables(db, staging)
            if not new_tables:
                raise ActionError(f"snapshot {snap.short_id} restored no tables")
            db.execute(f"CREATE DATABASE IF NOT EXISTS `{live}`")
            live_tables = self._tables(db, live)
            db.execute(f"DROP DATABASE IF EXISTS `{old}`")
            db.execute(f"CREATE DATABASE `{old}`")
            db.execute(rename_statement(live, old, staging, live_tables, new_tables))
            db.execute(f"DROP DATABASE IF EXISTS `{old}`")
        finally:
            with contextlib.suppress(Exception):
                db.execute(f"DROP DATABASE IF EXISTS `{staging}`")
        self._restored_tables = new_tables
        return f"{len(new_tables)} tables, {size:,} bytes from {snap.short_id} into {live}"

    def _restore_files(self, restic: Restic, snap: Snapshot) -> str:
        source = snap.paths[0]
        q = shlex.quote
        if self.drill:
            restic.restore(snap.id, self.scratch_dir)
            return f"restored into {self.scratch_dir}"
        stamp = time.strftime("%Y%m%d%H%M%S")
        root = str(Path(self.site_dir()).parent)
        tmp = f"{root}/.wpfarm-restore-{self.domain}-{stamp}"
        old = f"{root}/.wpfarm-old-{self.domain}-{stamp}"
        restic.sh(f"mkdir -p {q(root)} && rm -rf {q(tmp)} && mkdir -p {q(tmp)}")
        try:
            restic.restore(snap.id, tmp)
            restored = f"{tmp}{source}"
            live = self.site_dir()
            # Two renames on one filesystem: the site is without files for microseconds.
            restic.sh(f"test -d {q(restored)} && "
                      f"if [ -e {q(live)} ]; then mv -T {q(live)} {q(old)}; fi && "
                      f"mv -T {q(restored)} {q(live)} && rm -rf {q(old)}")
        finally:
            restic.sh(f"rm -rf {q(tmp)}")
        return f"{snap.short_id} restored into {self.site_dir()}"

    # ------------------------------------------------------------ checks
    def _count_files(self, restic: Restic, path: str) -> int:
        return int(restic.sh(f"find {shlex.quote(path)} -type f | wc -l").strip() or 0)

    def _check_files(self, restic: Restic, snap: Snapshot, path: str) -> None:
        expected = len(restic.ls_files(snap.id))
        got = self._count_files(restic, path)
        if got != expected:
            self.problems.append(f"{got} files in {path}, the snapshot has {expected}")
        else:
            self.checks.append(f"{got} files")

    def _check_drill(self, db: Database, restic: Restic, chosen: dict[str, Snapshot]) -> None:
        if "db" in self.parts:
            n = len(self._tables(db, self.scratch_db))
            (self.checks if n else self.problems).append(f"{n} tables restored")
        if "files" in self.parts:
            self._check_files(restic, chosen["files"], f"{self.scratch_dir}"
                              f"{chosen['files'].paths[0]}")
        if self.check_edge and self.farm.sites.edge_url:
            # Informational: the drill proves the backup, not the live site's health.
            status = edge_status(self.farm, self.domain)
            self.checks.append(f"live site answers {status} (untouched)")

    def _check_site(self, db: Database, restic: Restic, site: SiteRecord,
                    chosen: dict[str, Snapshot]) -> None:
        if "db" in self.parts:
            tables = self._tables(db, site.db_name)
            want = getattr(self, "_restored_tables", [])
            if tables != want:
                self.problems.append(f"database {site.db_name} has tables {tables}, the "
                                     f"snapshot has {want}")
            else:
                self.checks.append(f"{len(tables)} tables")
        if "files" in self.parts:
            self._check_files(restic, chosen["files"], self.site_dir())
        if self.check_edge:
            status = edge_status(self.farm, self.domain)
            if status != 200:
                self.problems.append(f"{self.domain} answers {status} through the edge, not 200")
            else:
                self.checks.append("200 through the edge")

    def _cleanup_drill(self, db: Database, restic: Restic) -> None:
        with contextlib.suppress(Exception):
            db.execute(f"DROP DATABASE IF EXISTS `{self.scratch_db}`")
        with contextlib.suppress(Exception):
            restic.sh(f"rm -rf {shlex.quote(self.scratch_dir)}")

    def verify(self) -> Verdict:
        took = self.seconds
        details = list(self.checks)
        if self.safety:
            details.append("safety backup: " + ", ".join(f"{p} {s}" for p, s in
                                                         self.safety.items()))
            details.append(f"to undo: {self.rollback_command()}")
        if took is not None:
            details.append(f"took {took:.1f} s; RTO target {RTO_TARGET_S // 3600} h "
                           f"({'met' if took < RTO_TARGET_S else 'MISSED'})")
        if self.problems or took is None:
            return Verdict(False, "; ".join(self.problems) or "restore did not finish",
                           tuple(details))
        what = "drill of" if self.drill else "restored"
        return Verdict(True, f"{what} {self.domain} ({'+'.join(self.parts)}) in {took:.1f} s",
                       tuple(details))

