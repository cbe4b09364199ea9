"""`wpfarm backup`, `wpfarm restore` and `wpfarm backups`: the farm's restic backups."""

from __future__ import annotations

import argparse
import json
import sys
import time

from wpfarm_tui.actions import ActionError
from wpfarm_tui.actions.catalog import entry
from wpfarm_tui.commands import completion as complete
from wpfarm_tui.commands.procedures import add_field
from wpfarm_tui.commands.runner import (
    ExitCode,
    add_action_flags,
    load_farm_of,
    run_action_cli,
)


def _fail(args: argparse.Namespace, exc: Exception) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"type": "error", "message": str(exc)}))
    else:
        print(f"wpfarm: {exc}", file=sys.stderr)
    return ExitCode.FAILED


def cmd_backup(args: argparse.Namespace) -> int:
    from wpfarm_tui.actions.backup import BackupAction, UnlockAction

    farm = load_farm_of(args)
    try:
        if args.unlock:
            return run_action_cli(UnlockAction(farm), farm, args)
        if args.all == bool(args.domains):
            raise ActionError("backup: name DOMAIN(s) or pass --all (not both)")
        action = BackupAction(farm, None if args.all else args.domains,
                              db=not args.files_only, files=not args.db_only,
                              retention=not args.no_retention, check=not args.no_check)
        return run_action_cli(action, farm, args)
    except ActionError as exc:
        return _fail(args, exc)


def cmd_restore(args: argparse.Namespace) -> int:
    from wpfarm_tui.actions.restore import RestoreAction

    farm = load_farm_of(args)
    try:
        action = RestoreAction(farm, args.domain, snapshots=args.snapshot or (), at=args.at,
                               db=not args.files_only, files=not args.db_only,
                               drill=args.drill)
        return run_action_cli(action, farm, args)
    except ActionError as exc:
        return _fail(args, exc)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def cmd_backups(args: argparse.Namespace) -> int:
    from wpfarm_tui.status.backups import BackupsCollector
    from wpfarm_tui.status.jsonable import jsonable
    from wpfarm_tui.status.thresholds import Level

    farm = load_farm_of(args)
    started = time.monotonic()
    snap = BackupsCollector(farm).collect()
    if args.json:
        print(json.dumps({"level": snap.level.label, "poll_s": round(time.monotonic() - started,
                                                                       3),
                          **jsonable(snap)}, indent=2))
    else:
        print(f"{snap.level.label.upper():8} backups of {farm.name} in {snap.repository or '—'} "
              f"({snap.total_snapshots} snapshots)")
        for source in snap.sources:
            if not source.ok:
                print(f"         {source.name}: {source.state} {source.error or ''}")
        print(f"  {'site':28} {'db':>8} {'age':>7} {'files':>8} {'age':>7}  note")
        for r in snap.sites:
            print(f"  {r.level.label[:4].upper():4} {r.domain:23} {r.db_snapshot or '—':>8} "
                  f"{_age(r.db_age_s):>7} {r.files_snapshot or '—':>8} "
                  f"{_age(r.files_age_s):>7}  {r.note or ''}")
    return ExitCode.CRITICAL if snap.level == Level.CRITICAL else ExitCode.OK


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("backup", help="back up sites (DB dump + files) into restic")
    # Many DOMAINs, or --all: more than the console's one (entry "backup"), same field.
    add_field(p, entry("backup").field("domain"), "domains", nargs="*")
    p.add_argument("--all", action="store_true", help="every site of the registry")
    only = p.add_mutually_exclusive_group()
    only.add_argument("--db-only", action="store_true", help="the database dump only")
    only.add_argument("--files-only", action="store_true", help="the site's files only")
    p.add_argument("--no-retention", action="store_true", help="skip forget --prune")
    p.add_argument("--no-check", action="store_true", help="skip restic check")
    p.add_argument("--unlock", action="store_true",
                   help="remove stale repository locks (restic unlock) and exit")
    add_action_flags(p)
    p.set_defaults(func=cmd_backup)

    r = verbs.add_parser("restore", help="restore a site from a backup (destructive)")
    r.add_argument("domain", metavar="DOMAIN").completer = complete.site_domains
    which = r.add_mutually_exclusive_group()
    which.add_argument("--snapshot", action="append", metavar="ID",
                       help="snapshot ID (repeat for a db and a files snapshot)")
    which.add_argument("--at", metavar="TIME",
                       help="the newest backups at or before TIME: YYYY-MM-DD[ HH:MM[:SS]] "
                            "(local) or with +HH:MM / Z, e.g. '2026-03-01 04:00'")
    only = r.add_mutually_exclusive_group()
    only.add_argument("--db-only", action="store_true", help="the database only")
    only.add_argument("--files-only", action="store_true", help="the files only")
    r.add_argument("--drill", action="store_true",
                   help="restore into a scratch database and directory, measure, clean up")
    add_action_flags(r)
    r.set_defaults(func=cmd_restore)

    b = verbs.add_parser("backups", help="each site's last backups against the RPO")
    b.add_argument("--json", action="store_true", help="machine-readable output")
    b.set_defaults(func=cmd_backups)
