"""Backup and restore against real restic, a real S3 server (moto) and the lab's Galera.

Destructive restores use the scratch site restore-test.test (its own database,
registry row and files); site1.test is only read (backup, drill)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.actions.backup.conftest import (
    SCRATCH,
    SCRATCH_DB,
    make_settings,
    new_repo,
    sql,
    table_checksum,
    tree_checksum,
)
from wpfarm_tui.actions import ActionError, AuditLog, StepEvent, Verdict, execute
from wpfarm_tui.actions.backup import BackupAction
from wpfarm_tui.actions.restore import RestoreAction
from wpfarm_tui.farm.restic import Restic, ResticError
from wpfarm_tui.inventory import Retention
from wpfarm_tui.status.backups import BackupsCollector
from wpfarm_tui.status.thresholds import Level

pytestmark = pytest.mark.lab
LAB_ROOT = "/var/lib/wpfarm-lab/wordpress"


def run(action, tmp_path, confirmed=True):
    """execute() and everything it produced, as text too (to look for secrets)."""
    items = list(execute(action, audit=AuditLog(tmp_path / "audit.log"), confirmed=confirmed))
    events = [i for i in items if isinstance(i, StepEvent)]
    verdict = items[-1]
    assert isinstance(verdict, Verdict)
    text = json.dumps([dataclasses.asdict(i) for i in items], default=str)
    text += (tmp_path / "audit.log").read_text()
    return events, verdict, text


def assert_no_secret(env, *texts):
    for text in texts:
        for value in env.values():
            assert value not in text, "a secret leaked into output"


@pytest.fixture
def scratch_farm(lab_farm, s3, backup_env, scratch_site):
    return new_repo(s3, backup_env, lab_farm, str(scratch_site))


def test_backup_change_restore_roundtrip(scratch_farm, scratch_site, backup_env, tmp_path):
    farm = scratch_farm
    files = scratch_site / SCRATCH
    events, verdict, text = run(BackupAction(farm, [SCRATCH]), tmp_path)
    assert verdict.ok, verdict
    rows_before = table_checksum(farm, SCRATCH_DB, "posts")
    files_before = tree_checksum(files)

    # Change rows and files after the backup.
    sql(farm, "DELETE FROM posts WHERE id > 150", database=SCRATCH_DB)
    sql(farm, "UPDATE posts SET title = 'changed' WHERE id = 1", database=SCRATCH_DB)
    sql(farm, "CREATE TABLE extra (id INT PRIMARY KEY)", database=SCRATCH_DB)
    (files / "wp-content" / "uploads" / "a.jpg").write_bytes(b"overwritten")
    (files / "wp-content" / "new.txt").write_text("added after the backup")
    assert table_checksum(farm, SCRATCH_DB, "posts") != rows_before

    restore = RestoreAction(farm, SCRATCH, check_edge=False)  # no edge route for the scratch
    assert restore.destructive
    with pytest.raises(ActionError, match="destructive"):
        list(execute(restore, audit=AuditLog(tmp_path / "a2.log")))
    events2, verdict2, text2 = run(RestoreAction(farm, SCRATCH, check_edge=False), tmp_path)
    assert verdict2.ok, (verdict2, events2)
    assert table_checksum(farm, SCRATCH_DB, "posts") == rows_before
    tables = {r[0] for r in sql(farm, "SHOW TABLES", database=SCRATCH_DB)}
    assert tables == {"posts"}
    assert tree_checksum(files) == files_before
    assert any("RTO target" in d for d in verdict2.details)

    # The safety backup holds the changed state, and the rollback command names it.
    snaps = Restic(farm.backup).snapshots([f"site={SCRATCH}", "type=safety"])
    assert {s.part for s in snaps} == {"db", "files"}
    assert any(f"--snapshot {snaps[0].short_id}" in d or snaps[0].id[:8] in d
               for d in verdict2.details)
    assert_no_secret(backup_env, text, text2)


def test_drill_leaves_live_site_untouched(lab_farm, s3, backup_env, tmp_path):
    farm = new_repo(s3, backup_env, lab_farm, LAB_ROOT)
    _, verdict, text = run(BackupAction(farm, ["site1.test"], retention=False, check=False),
                           tmp_path)
    assert verdict.ok, verdict
    live = f"{LAB_ROOT}/site1.test"
    before_files = tree_checksum(Path(live))
    before_rows = table_checksum(farm, "wp_site1", "wp_options")
    mtime = os.stat(live).st_mtime_ns
    drill = RestoreAction(farm, "site1.test", drill=True)
    assert not drill.destructive
    events, verdict, text2 = run(drill, tmp_path, confirmed=False)
    assert verdict.ok, (verdict, events)
    assert "live site answers 200" in " ".join(verdict.details)
    assert tree_checksum(Path(live)) == before_files
    assert os.stat(live).st_mtime_ns == mtime
    assert table_checksum(farm, "wp_site1", "wp_options") == before_rows
    assert not os.path.exists(drill.scratch_dir)
    assert not sql(farm, "SHOW DATABASES LIKE %s", (drill.scratch_db,))
    assert not Restic(farm.backup).snapshots(["type=safety"])  # a drill saves nothing
    assert_no_secret(backup_env, text, text2)


def test_wrong_password_is_clear_and_loses_nothing(scratch_farm, backup_env, tmp_path,
                                                   monkeypatch):
    farm = scratch_farm
    _, verdict, _ = run(BackupAction(farm, [SCRATCH], retention=False, check=False), tmp_path)
    assert verdict.ok
    count = len(Restic(farm.backup).snapshots())
    monkeypatch.setenv("WPFARM_TEST_RESTIC_PASSWORD", "not-the-password-" + "x" * 8)
    events, verdict, text = run(BackupAction(farm, [SCRATCH]), tmp_path)
    assert not verdict.ok and "refused the password" in verdict.summary
    assert "backup.password" in verdict.summary
    assert_no_secret(backup_env | {"bad": "not-the-password-xxxxxxxx"}, text)
    with pytest.raises(ActionError, match="refused the password"):
        RestoreAction(farm, SCRATCH).plan()
    monkeypatch.setenv("WPFARM_TEST_RESTIC_PASSWORD", backup_env["WPFARM_TEST_RESTIC_PASSWORD"])
    assert len(Restic(farm.backup).snapshots()) == count


def test_unreachable_repository_is_clear(lab_farm, backup_env, scratch_site, tmp_path):
    farm = dataclasses.replace(lab_farm, backup=make_settings("http://127.0.0.1:16899",
                                                              "nothing", str(scratch_site)))
    started = time.monotonic()
    events, verdict, text = run(BackupAction(farm, [SCRATCH]), tmp_path)
    assert time.monotonic() - started < 30
    assert not verdict.ok and "unreachable" in verdict.summary
    snap = BackupsCollector(farm).collect()
    repo = next(s for s in snap.sources if s.name == "repository")
    assert repo.state == "down" and "unreachable" in (repo.error or "")
    assert_no_secret(backup_env, text, repo.error or "")


def test_locked_repository_is_clear_and_loses_nothing(scratch_farm, backup_env, tmp_path):
    """A real exclusive lock: `restic key passwd` locks the repository exclusively, then
    waits on stdin for the new password; killed with SIGKILL it leaves its lock behind."""
    farm = scratch_farm
    restic = Restic(farm.backup)
    _, verdict, _ = run(BackupAction(farm, [SCRATCH], retention=False, check=False), tmp_path)
    assert verdict.ok
    before = {s.id for s in restic.snapshots()}
    holder = restic.spawn(["key", "passwd"], stdin=True)
    try:
        deadline = time.monotonic() + 20
        while not restic.list_locks():
            assert time.monotonic() < deadline, "restic key passwd took no lock"
            time.sleep(0.2)
        events, verdict, text = run(BackupAction(farm, [SCRATCH]), tmp_path)
        assert not verdict.ok
        assert "locked by PID" in verdict.summary and "--unlock" in verdict.summary
        # A live holder's lock is not stale: unlock leaves it.
        restic.unlock()
        assert restic.list_locks()
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
    # The killed process left its lock: still locked, until `wpfarm backup --unlock`.
    with pytest.raises(ResticError) as err:
        restic.snapshots()
    assert err.value.kind == "locked"
    from wpfarm_tui.actions.backup import UnlockAction

    _, verdict, _ = run(UnlockAction(farm), tmp_path)
    assert verdict.ok, verdict
    assert before <= {s.id for s in restic.snapshots()}
    assert_no_secret(backup_env, text)


def test_failed_dump_is_not_a_snapshot(lab_farm, s3, backup_env, scratch_site, tmp_path):
    domain = "nodb-test.test"
    farm = new_repo(s3, backup_env, lab_farm, str(scratch_site))
    (scratch_site / domain).mkdir()
    sql(farm, "REPLACE INTO wpfarm.sites (domain, db_name, db_user, state) "
        "VALUES (%s, 'wp_does_not_exist', 'x', 'active')", (domain,))
    try:
        events, verdict, text = run(BackupAction(farm, [domain]), tmp_path)
    finally:
        sql(farm, "DELETE FROM wpfarm.sites WHERE domain = %s", (domain,))
    assert not verdict.ok
    failed = [e for e in events if e.kind == "failed"]
    assert failed[0].step == f"db {domain}" and "Unknown database" in failed[0].message
    assert "discarded" in failed[0].message
    assert not Restic(farm.backup).snapshots([f"site={domain}"])
    assert_no_secret(backup_env, text)


def expected_kept(times: list[datetime], r: Retention) -> set[datetime]:
    """The policy computed independently: the newest snapshot of each of the newest N
    days / ISO weeks / months that have snapshots."""
    kept: set[datetime] = set()
    for n, key in ((r.daily, lambda t: t.date()), (r.weekly, lambda t: t.isocalendar()[:2]),
                   (r.monthly, lambda t: (t.year, t.month))):
        newest: dict = {}
        for t in sorted(times, reverse=True):
            newest.setdefault(key(t), t)
        kept |= set(sorted(newest.values(), reverse=True)[:n])
    return kept


def test_retention_follows_policy(backup_env, tmp_path):
    policy = Retention(daily=7, weekly=4, monthly=12)
    # A local repository: the policy is what is tested here, and 50 backups into moto
    # cost a minute; S3 itself is covered by the other tests.
    settings = dataclasses.replace(make_settings("http://unused", "x", str(tmp_path), policy),
                                   repository=str(tmp_path / "repo"))
    restic = Restic(settings)
    restic.init()
    base = datetime(2026, 3, 31, 1, 0)
    # A calendar: two backups a day for 9 days (daily cut-off), then one every 13 days
    # back ~15 months (weekly and monthly cut-offs, months with two backups).
    times = [base - timedelta(hours=12 * i) for i in range(18)]
    times += [base - timedelta(days=9 + 13 * i, hours=3) for i in range(35)]

    def one(t: datetime) -> None:
        restic.backup_bytes(t.isoformat().encode(), "cal.test.sql", ["site=cal.test", "type=db"],
                            at=t.strftime("%Y-%m-%d %H:%M:%S"))

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, times))
    groups = restic.forget_policy(["site=cal.test"], policy, dry_run=True)
    kept = {s.time.replace(tzinfo=None) for g in groups for s in g.keep}
    snaps = restic.snapshots(["site=cal.test"])
    local = [s.time.astimezone().replace(tzinfo=None) for s in snaps]
    assert len(snaps) == len(times)
    want = expected_kept(local, policy)
    assert {k.astimezone().replace(tzinfo=None) if k.tzinfo else k for k in
            {s.time.astimezone() for g in groups for s in g.keep}} == want, kept
    # And for real: the action's retention leaves exactly that set.
    restic.forget_policy(["site=cal.test"], policy)
    left = {s.time.astimezone().replace(tzinfo=None) for s in restic.snapshots()}
    assert left == want


def test_backups_collector_and_cli(scratch_farm, backup_env, tmp_path, capsys, monkeypatch):
    farm = scratch_farm
    snap = BackupsCollector(farm).collect()
    row = next(r for r in snap.sites if r.domain == SCRATCH)
    assert row.level == Level.CRITICAL and row.note == "never backed up"
    _, verdict, _ = run(BackupAction(farm, [SCRATCH], retention=False, check=False), tmp_path)
    snap = BackupsCollector(farm).collect()
    row = next(r for r in snap.sites if r.domain == SCRATCH)
    assert row.level == Level.OK, row
    assert row.db_age_s is not None and row.db_age_s < 120 and row.db_size and row.files_size
    assert snap.sources[-1].ok

    # The CLI, through a farm file whose backup section references env secrets.
    import yaml

    doc = yaml.safe_load(Path(farm.source).read_text())
    doc["backup"] = {"repository": farm.backup.repository,
                     "password": {"env": "WPFARM_TEST_RESTIC_PASSWORD"},
                     "aws_access_key_id": {"env": "WPFARM_TEST_AWS_KEY"},
                     "aws_secret_access_key": {"env": "WPFARM_TEST_AWS_SECRET"},
                     "sites_root": farm.backup.sites_root}
    farm_file = tmp_path / "farm.yaml"
    farm_file.write_text(yaml.safe_dump(doc))
    from wpfarm_tui.cli import main

    rc = main(["--farm", str(farm_file), "backups", "--json"])
    out = capsys.readouterr().out
    data = json.loads(out)
    assert any(s["domain"] == SCRATCH and s["level"] == "ok" for s in data["sites"])
    assert rc in (0, 2)  # site1/site2 are not backed up in this repository: critical
    monkeypatch.setenv("WPFARM_AUDIT_LOG", str(tmp_path / "cli-audit.log"))
    rc = main(["--farm", str(farm_file), "backup", SCRATCH, "--no-check", "--json"])
    out2 = capsys.readouterr()
    assert rc == 0, out2
    rc = main(["--farm", str(farm_file), "restore", SCRATCH, "--files-only", "--drill"])
    out3 = capsys.readouterr()
    assert rc == 0, out3
    assert_no_secret(backup_env, out, out2.out, out2.err, out3.out, out3.err)
    rc = main(["--farm", str(farm_file), "restore", SCRATCH])
    assert rc == 1 and "destructive" in capsys.readouterr().err
