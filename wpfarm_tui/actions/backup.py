"""Backup of sites into the farm's restic repository: `wpfarm backup [DOMAIN...|--all]`.

Per site: a consistent database dump (`mariadb-dump --single-transaction`)
streamed into `restic backup --stdin --stdin-filename <domain>.sql` tagged
`site=D,type=db`; the site's directory tagged `site=D,type=files`; then the
retention policy applied to that site's snapshots (`forget --group-by tags
--tag site=D --keep-daily/weekly/monthly --prune`). The repository is
checked once at the end.

A dump that fails (exit code, or no "-- Dump completed" trailer) never
becomes a successful snapshot: the snapshot restic made of the truncated
stream is forgotten and the site's step fails. One site failing does not
stop the others; a repository-level failure (wrong password, unreachable,
locked) stops the run, since every later step would fail the same way.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from wpfarm_tui import programs
from wpfarm_tui.actions.base import ActionError, Step, StepEvent, Verdict
from wpfarm_tui.farm.galera import GaleraConnections, connect
from wpfarm_tui.farm.restic import (
    BackupSummary,
    Restic,
    ResticError,
    drain,
    parse_backup_summary,
)
from wpfarm_tui.inventory import Farm, HostPort
from wpfarm_tui.secrets import SecretError
from wpfarm_tui.sites.naming import DomainError, row_problem, validate_domain
from wpfarm_tui.status.base import credentials_refused
from wpfarm_tui.status.texts import credentials_message

REPOSITORY_KINDS = ("wrong-password", "unreachable", "locked", "no-repository", "timeout")
DUMP_TRAILER = b"-- Dump completed"
DUMP_TIMEOUT = 3600.0
_DB_NAME_RE = re.compile(r"^[A-Za-z0-9_$]{1,64}$")


# ---------------------------------------------------------------- sites and databases
@dataclass(frozen=True)
class SiteRecord:
    domain: str
    db_name: str
    state: str = "active"


def require_backup(farm: Farm, *local_programs: str) -> None:
    """The farm can be backed up or restored from here: a `backup:` section, Galera, and the
    programs that run on this machine (restic too unless backup.node runs it)."""
    if farm.backup is None:
        raise ActionError("backup: farm.yaml has no `backup:` section: add backup.repository "
                          "and backup.password (see wpfarm_tui/data/farm.example.yaml)")
    if farm.endpoints.galera is None:
        raise ActionError("backup: endpoints.galera is missing: the site databases and the "
                          "site registry live there")
    needed = [*local_programs, *(["restic"] if farm.backup.node is None else [])]
    try:
        programs.require(needed, "backup and restore")
    except programs.MissingPrograms as exc:
        raise ActionError(str(exc)) from None


def registry_sites(farm: Farm, domains: Sequence[str] | None,
                   problems: list[str] | None = None) -> list[SiteRecord]:
    """The sites to work on, from the registry (`wpfarm.sites`); None means all of them.
    Rows that fail the naming rules are left out (and appended to `problems`)."""
    assert farm.endpoints.galera is not None
    db = GaleraConnections(farm.endpoints.galera)
    try:
        rows = db.query("SELECT domain, db_name, state FROM wpfarm.sites ORDER BY domain")
    except (pymysql.err.MySQLError, OSError, SecretError) as exc:
        if credentials_refused(exc):  # up, and refusing us: say the fix, not "check"
            raise ActionError(f"backup: the site registry (wpfarm.sites) cannot be read: "
                              f"{credentials_message('galera', _mysql_text(exc))}") from None
        raise ActionError(f"backup: the site registry (wpfarm.sites) cannot be read: "
                          f"{_mysql_text(exc)}; check endpoints.galera") from None
    finally:
        db.close()
    known, bad = {}, {}
    for d, n, s in rows:
        problem = row_problem(d, n)
        if problem is None:
            known[str(d)] = SiteRecord(str(d), str(n), str(s))
        else:  # reported by the caller, never backed up or restored under it
            bad[str(d)] = (f"wpfarm.sites row {d!r} is not used: {problem}. Fix: correct or "
                           "delete the row")
    if problems is not None:
        problems.extend(bad.values())
    if domains is None:
        return list(known.values())
    if named_bad := [bad[d] for d in domains if d in bad]:
        raise ActionError("; ".join(named_bad))
    missing = [d for d in domains if d not in known]
    if missing:
        raise ActionError(f"backup: no site {', '.join(missing)} in the registry "
                          "(wpfarm.sites): check the domain, or pass --all")
    return [known[d] for d in domains]


def _mysql_text(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    if len(args) == 2 and isinstance(args[1], str):
        return args[1]
    return str(exc) or type(exc).__name__


def check_db_name(name: str) -> str:
    if not _DB_NAME_RE.match(name):
        raise ActionError(f"database name {name!r} from the registry is not a plain MariaDB "
                          "name; fix the registry row")
    return name


class Database:
    """How the mariadb clients reach the farm's Galera: a 0600 defaults file holds the
    password (never argv), and nodes are tried in order (Galera is multi-master)."""

    def __init__(self, farm: Farm):
        assert farm.endpoints.galera is not None
        self.endpoint = farm.endpoints.galera

    def password(self) -> str:
        return self.endpoint.password.reveal() if self.endpoint.password else ""

    @contextlib.contextmanager
    def defaults_file(self, node: HostPort) -> Iterator[str]:
        fd, path = tempfile.mkstemp(prefix="wpfarm-my-", suffix=".cnf")
        try:
            with os.fdopen(fd, "w") as f:
                pw = self.password().replace("\\", "\\\\").replace('"', '\\"')
                f.write(f'[client]\nuser="{self.endpoint.user}"\npassword="{pw}"\n'
                        f"host={node.host}\nport={node.port}\nprotocol=tcp\n"
                        # the mariadb client (restores) waits for the cluster's writes
                        "[mysql]\ninit-command=\"SET SESSION wsrep_sync_wait=1\"\n")
            yield path
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def live_nodes(self) -> list[HostPort]:
        """Nodes that answer now, first; the rest after (a node may come back)."""
        up, down = [], []
        for node in self.endpoint.nodes:
            try:
                conn = connect(self.endpoint, node)
                with conn.cursor() as cur:
                    cur.execute("SHOW STATUS LIKE 'wsrep_local_state_comment'")
                    row = cur.fetchone()
                conn.close()
                # Only a Synced node has every write: a joiner or donor may serve stale rows.
                (up if row is None or str(row[1]) == "Synced" else down).append(node)
            except Exception:  # noqa: BLE001 - a dead node is simply tried last
                down.append(node)
        return up + down

    def execute(self, sql: str, args: Any = None, database: str | None = None
                ) -> list[tuple[Any, ...]]:
        last: BaseException | None = None
        for node in self.live_nodes():
            try:
                conn = connect(self.endpoint, node, database)
                try:
                    with conn.cursor() as cur:
                        cur.execute("SET SESSION wsrep_sync_wait = 1")  # causal reads
                        cur.execute(sql, args)
                        return list(cur.fetchall())
                finally:
                    conn.close()
            except pymysql.err.OperationalError as exc:
                last = exc
                if exc.args and exc.args[0] in (2003, 2006, 2013, 1047, 1213):
                    continue  # that node is down or not Primary: the next one
                raise
        raise ConnectionError(f"no Galera node answers: {_mysql_text(last) if last else '?'}")

    def scrub(self, text: str) -> str:
        pw = self.password()
        return text.replace(pw, "[secret]") if pw and len(pw) >= 4 else text


@dataclass
class StreamResult:
    bytes: int = 0
    tail: bytes = b""
    error: str | None = None


def pump(src: Any, dst: Any, result: StreamResult) -> threading.Thread:
    """Copy src to dst in a thread, counting bytes and keeping the tail; closes dst."""

    def run() -> None:
        try:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                result.bytes += len(chunk)
                result.tail = (result.tail + chunk)[-256:]
                dst.write(chunk)
        except (BrokenPipeError, OSError) as exc:
            result.error = str(exc)
        finally:
            with contextlib.suppress(OSError):
                dst.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _connection_error(text: str) -> bool:
    lowered = text.lower()
    return any(w in lowered for w in ("can't connect", "lost connection", "gone away",
                                      "wsrep has not yet prepared", "unknown command"))


def dump_to_restic(db: Database, restic: Restic, db_name: str, filename: str,
                   tags: Sequence[str], at: str | None = None) -> tuple[BackupSummary, int]:
    """mariadb-dump DB | restic backup --stdin; (summary, dump bytes). A failed or truncated
    dump raises ActionError after forgetting the snapshot made of it."""
    restic.check_reachable()
    last_error = "no Galera node to dump from"
    for node in db.live_nodes():
        with db.defaults_file(node) as cnf:
            dump = subprocess.Popen(
                [programs.path("mariadb-dump"), f"--defaults-extra-file={cnf}",
                 "--single-transaction", "--quick", "--routines", "--triggers", "--hex-blob",
                 "--max-allowed-packet=512M", db_name],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            err_chunks: list[bytes] = []
            err_thread = drain(dump.stderr, err_chunks)  # type: ignore[arg-type]
            try:
                proc = restic.spawn(restic.backup_stdin_args(filename, tags, at), stdin=True)
            except ResticError:
                dump.kill()
                raise
            streamed = StreamResult()
            copier = pump(dump.stdout, proc.stdin, streamed)
            out: list[bytes] = []
            rerr: list[bytes] = []
            threads = [drain(proc.stdout, out), drain(proc.stderr, rerr)]
            try:
                dump_rc = dump.wait(DUMP_TIMEOUT)
            except subprocess.TimeoutExpired:
                dump.kill()
                dump_rc = -9
            copier.join()
            err_thread.join(5)
            summary: BackupSummary | None = None
            restic_error: ResticError | None = None
            try:
                text = restic.finish(proc, ["backup"], DUMP_TIMEOUT, out, rerr, threads)
                summary = parse_backup_summary(text)
            except ResticError as exc:
                restic_error = exc
            dump_err = db.scrub(b"".join(err_chunks).decode(errors="replace").strip())
            complete = dump_rc == 0 and DUMP_TRAILER in streamed.tail
            if complete and summary is not None:
                return summary, streamed.bytes
            if summary is not None and summary.snapshot_id:
                # restic stored whatever came through the pipe: that must not count.
                restic.forget_ids([summary.snapshot_id])
            if restic_error is not None and (complete or restic_error.kind in REPOSITORY_KINDS):
                raise restic_error
            reason = dump_err.splitlines()[-1] if dump_err else (
                f"exit code {dump_rc}" if dump_rc else "the dump has no completion trailer")
            last_error = f"mariadb-dump {db_name} on {node.name} failed: {reason}"
            if not _connection_error(dump_err):
                break  # a real dump error (unknown database, permissions): no retry elsewhere
    raise ActionError(f"{last_error}; the partial snapshot was discarded, earlier backups are "
                      "intact")


# ---------------------------------------------------------------- the action
@dataclass
class SiteResult:
    domain: str
    db_snapshot: str | None = None
    db_bytes: int = 0
    files_snapshot: str | None = None
    files_bytes: int = 0
    kept: int | None = None
    removed: int | None = None
    errors: list[str] = field(default_factory=list)


class BackupAction:
    """Back up one, several or all sites, then apply retention and check the repository."""

    name = "backup"
    destructive = False

    def __init__(self, farm: Farm, domains: Sequence[str] | None = None, *,
                 db: bool = True, files: bool = True, retention: bool = True,
                 check: bool = True, at: str | None = None):
        require_backup(farm, "mariadb-dump")
        if domains is not None and not domains:
            raise ActionError("backup: name at least one DOMAIN, or pass --all")
        if not db and not files:
            raise ActionError("backup: nothing to do (both --db-only and --files-only?)")
        self.farm = farm
        assert farm.backup is not None
        self.settings = farm.backup
        try:  # the one domain validator (sites/naming.py), as every verb uses
            self.domains = [validate_domain(d) for d in domains] if domains is not None \
                else None
        except DomainError as exc:
            raise ActionError(str(exc)) from None
        self.skipped: list[str] = []  # registry rows left out: invalid names
        self.db, self.files, self.retention, self.check = db, files, retention, check
        self.at = at  # restic --time, for tests and imports; None = now
        self._sites: list[SiteRecord] | None = None
        self.results: dict[str, SiteResult] = {}
        self.checked: bool | None = None
        self.seconds: float | None = None

    def describe(self) -> Mapping[str, Any]:
        return {"domains": self.domains or "all", "db": self.db, "files": self.files,
                "retention": self.retention, "check": self.check,
                "repository": Restic(self.settings, self.farm).where()}

    def sites(self) -> list[SiteRecord]:
        if self._sites is None:
            self._sites = registry_sites(self.farm, self.domains, self.skipped)
        return self._sites

    def site_dir(self, domain: str) -> str:
        return str(Path(self.settings.sites_root) / domain)

    def plan(self) -> list[Step]:
        r = self.settings.retention
        steps = []
        for site in self.sites():
            if self.db:
                steps.append(Step(f"db {site.domain}", f"mariadb-dump --single-transaction "
                                  f"{site.db_name} | restic backup --stdin "
                                  f"--stdin-filename {site.domain}.sql "
                                  f"--tag site={site.domain},type=db"))
            if self.files:
                steps.append(Step(f"files {site.domain}", f"restic backup "
                                  f"{self.site_dir(site.domain)} "
                                  f"--tag site={site.domain},type=files"))
            if self.retention:
                steps.append(Step(f"retention {site.domain}",
                                  f"restic forget --tag site={site.domain} --keep-daily "
                                  f"{r.daily} --keep-weekly {r.weekly} --keep-monthly "
                                  f"{r.monthly} --prune"))
        if self.check:
            steps.append(Step("check repository", "restic check"))
        return [*(Step("skip invalid row", p) for p in self.skipped), *steps]

    def run(self) -> Iterator[StepEvent]:
        started = time.monotonic()
        restic = Restic(self.settings, self.farm)
        db = Database(self.farm)
        sites = self.sites()
        for problem in self.skipped:  # loud: a site may be going without backups
            yield StepEvent("failed", "skip invalid row", problem)
        for site in sites:
            res = self.results.setdefault(site.domain, SiteResult(site.domain))
            steps: list[tuple[str, Any]] = []
            if self.db:
                steps.append((f"db {site.domain}", lambda s=site, r=res: self._db(db, restic,
                                                                                 s, r)))
            if self.files:
                steps.append((f"files {site.domain}", lambda s=site, r=res: self._files(
                    restic, s, r)))
            if self.retention:
                steps.append((f"retention {site.domain}", lambda s=site, r=res: self._retain(
                    restic, s, r)))
            for step, call in steps:
                yield StepEvent("started", step)
                try:
                    message = call()
                except ResticError as exc:
                    res.errors.append(str(exc))
                    yield StepEvent("failed", step, restic.scrub(db.scrub(str(exc))))
                    if exc.kind in REPOSITORY_KINDS:
                        return  # every later step would fail the same way
                    continue
                except (ActionError, SecretError, OSError, pymysql.err.MySQLError) as exc:
                    text = restic.scrub(db.scrub(str(exc)))
                    res.errors.append(text)
                    yield StepEvent("failed", step, text)
                    if step.startswith("db "):
                        break  # no files/retention for a site whose dump failed
                    continue
                yield StepEvent("done", step, message)
        if self.check:
            yield StepEvent("started", "check repository")
            try:
                restic.check()
            except ResticError as exc:
                self.checked = False
                yield StepEvent("failed", "check repository", str(exc))
                return
            self.checked = True
            yield StepEvent("done", "check repository", "no errors were found")
        self.seconds = time.monotonic() - started

    def _db(self, db: Database, restic: Restic, site: SiteRecord, res: SiteResult) -> str:
        name = check_db_name(site.db_name)
        summary, size = dump_to_restic(db, restic, name, f"{site.domain}.sql",
                                       [f"site={site.domain}", "type=db"], self.at)
        res.db_snapshot, res.db_bytes = summary.snapshot_id, size
        return f"snapshot {summary.snapshot_id}, dump {size:,} bytes"

    def _files(self, restic: Restic, site: SiteRecord, res: SiteResult) -> str:
        path = self.site_dir(site.domain)
        if restic.node is None and not Path(path).is_dir():
            raise ActionError(f"files of {site.domain}: {path} does not exist; check "
                              "backup.sites_root in farm.yaml")
        summary = restic.backup_paths([path], [f"site={site.domain}", "type=files"], self.at)
        res.files_snapshot, res.files_bytes = summary.snapshot_id, summary.total_bytes
        return (f"snapshot {summary.snapshot_id}, {summary.total_files} files, "
                f"{summary.total_bytes:,} bytes, {summary.data_added:,} new")

    def _retain(self, restic: Restic, site: SiteRecord, res: SiteResult) -> str:
        groups = restic.forget_policy([f"site={site.domain}"], self.settings.retention)
        res.kept = sum(len(g.keep) for g in groups)
        res.removed = sum(len(g.remove) for g in groups)
        return f"kept {res.kept}, removed {res.removed}"

    def verify(self) -> Verdict:
        restic = Restic(self.settings, self.farm)
        try:
            present = {s.short_id for s in restic.snapshots()} | {
                s.id for s in restic.snapshots()}
        except ResticError as exc:
            return Verdict(False, f"cannot list the snapshots to verify: {exc}")
        details, ok = [], True
        for domain, res in self.results.items():
            for part, sid in (("db", res.db_snapshot), ("files", res.files_snapshot)):
                wanted = (part == "db" and self.db) or (part == "files" and self.files)
                if not wanted:
                    continue
                if sid is None or sid not in present:
                    ok = False
                    details.append(f"{domain}: no {part} snapshot")
                else:
                    details.append(f"{domain}: {part} snapshot {sid}")
        if self.checked is False:
            ok = False
        took = f" in {self.seconds:.1f} s" if self.seconds is not None else ""
        n = len(self.results)
        return Verdict(ok, (f"{n} site(s) backed up{took}" if ok
                            else "some backups are missing"), tuple(details))


class UnlockAction:
    """`wpfarm backup --unlock`: remove stale restic locks (a live process keeps its lock)."""

    name = "backup-unlock"
    destructive = False

    def __init__(self, farm: Farm):
        require_backup(farm)
        assert farm.backup is not None
        self.restic = Restic(farm.backup, farm)
        self.left: list[str] | None = None

    def describe(self) -> Mapping[str, Any]:
        return {"repository": self.restic.where()}

    def plan(self) -> list[Step]:
        return [Step("unlock", "restic unlock (stale locks only)")]

    def run(self) -> Iterator[StepEvent]:
        yield StepEvent("started", "unlock")
        try:
            self.restic.unlock()
            self.left = self.restic.list_locks()
        except ResticError as exc:
            yield StepEvent("failed", "unlock", str(exc))
            return
        yield StepEvent("done", "unlock", f"{len(self.left)} lock(s) left")

    def verify(self) -> Verdict:
        if self.left:
            return Verdict(False, f"{len(self.left)} lock(s) remain: a restic process still "
                           "runs and holds it; wait for it to end")
        return Verdict(True, "no locks left")


def first_lab_backup(farm_file: Path, audit_path: Path) -> None:
    """The loopback lab's first backup of its sites (Lab.up runs it once, on a new
    repository), through the same procedure as `wpfarm backup`; ActionError on a failure."""
    from wpfarm_tui.actions.base import AuditLog, execute
    from wpfarm_tui.inventory import load_farm

    action = BackupAction(load_farm(farm_file), None, retention=False, check=False)
    for item in execute(action, audit=AuditLog(audit_path)):
        if isinstance(item, StepEvent) and item.kind == "failed":
            raise ActionError(f"at {item.step}: {item.message}")
