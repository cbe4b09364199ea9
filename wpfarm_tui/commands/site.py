"""`wpfarm site create|delete|suspend|resume|list|info|logs` and bulk creation from a file."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pymysql
from rich.progress import Progress
from rich.table import Table

from wpfarm_tui.actions import ActionError, AuditLog, StepEvent, Verdict, execute
from wpfarm_tui.actions.catalog import Context, entry
from wpfarm_tui.actions.site import CreateSite, DeleteSite
from wpfarm_tui.commands import completion as complete
from wpfarm_tui.commands.procedures import add_field, values_of
from wpfarm_tui.commands.runner import (
    ExitCode,
    add_action_flags,
    add_log_flags,
    console,
    load_farm_of,
    print_log_stream,
    refuse_if_read_only,
    run_action_cli,
    whole,
)
from wpfarm_tui.farm.galera import GaleraPool
from wpfarm_tui.inventory import Farm
from wpfarm_tui.sites.naming import DomainError, validate_domain
from wpfarm_tui.sites.pacing import LivePacer
from wpfarm_tui.sites.registry import Registry
from wpfarm_tui.sites.runtime import SiteRuntime, runtime_for, site_log_stream
from wpfarm_tui.status.base import describe_error


def cmd_create(args: argparse.Namespace) -> int:
    farm = load_farm_of(args)
    if args.from_file:
        return _bulk_create(farm, args)
    if not args.domain:
        print("wpfarm site create: give a DOMAIN or --from-file FILE", file=sys.stderr)
        return ExitCode.FAILED
    try:
        runtime, host = runtime_for(farm)
    except ActionError as exc:
        print(f"wpfarm site create: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    with contextlib.closing(runtime):
        try:
            action = CreateSite(farm, runtime, args.domain, args.title or "",
                                args.admin_email or "", db_user_host=host)
        except ActionError as exc:
            print(f"wpfarm site create: {exc}", file=sys.stderr)
            return ExitCode.FAILED
        rc = run_action_cli(action, farm, args)
    if rc == 0 and args.show_admin_password and action.admin_password:
        # Asked for explicitly, shown once, to the terminal only: never logged or audited.
        print(f"admin password for {action.names.domain} (shown once): {action.admin_password}",
              file=sys.stderr if args.json else sys.stdout)
    return rc


def _read_domains(path: Path) -> list[tuple[str, str]]:
    """One site a line: DOMAIN [TITLE...]; blank lines and # comments are skipped."""
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            domain, _, title = line.partition(" ")
            out.append((domain, title.strip()))
    return out


class _Interrupt:
    """Ctrl-C during a bulk run: the first stops starting new sites (the ones in flight
    finish, or undo what they made); later ones only say what it is waiting for."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.stopping = threading.Event()
        self._presses = 0  # Ctrl-Cs so far; the main loop says something for each new one
        self._said = 0
        self._say = say
        self._old: Any = None

    def __enter__(self) -> _Interrupt:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)

    def _handle(self, _sig: int, _frame: object) -> None:
        # Only flags here: printing from a signal handler can interrupt a print in progress.
        self._presses += 1
        self.stopping.set()

    def report(self, in_flight: int) -> None:
        """From the main loop: a line for each Ctrl-C not yet answered."""
        if self._presses > self._said:
            first = self._said == 0
            self._said = self._presses
            self._say(("interrupted: starting no more sites; " if first else "still ")
                      + f"waiting for {in_flight} in flight to finish or undo")


def _bulk_create(farm: Farm, args: argparse.Namespace) -> int:
    refused = refuse_if_read_only("site-create", farm, args, {"from_file": args.from_file})
    if refused is not None:
        return refused
    if farm.endpoints.galera is None:
        print("wpfarm site create: endpoints.galera is missing in farm.yaml; sites need the "
              "database", file=sys.stderr)
        return ExitCode.FAILED
    try:
        if args.pace_site:
            args.pace_site = validate_domain(args.pace_site)
        entries = _read_domains(Path(args.from_file))
        runtime, host = runtime_for(farm)
    except DomainError as exc:
        print(f"wpfarm site create: --pace-site: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    except (OSError, ActionError) as exc:
        print(f"wpfarm site create: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    # One connection set per worker, reused site after site: the run holds `concurrency`
    # connections (per node reached), however many sites the file has.
    with contextlib.closing(runtime), GaleraPool(farm.endpoints.galera,
                                                 args.concurrency) as pool:
        return _bulk_run(farm, args, entries, runtime, host, pool)


def _bulk_plan(farm: Farm, args: argparse.Namespace, entries: list[tuple[str, str]],
               runtime: SiteRuntime, host: str, existing: dict[str, str],
               results: dict[str, dict]) -> list[tuple[str, str]]:
    """The (domain, title) to create; the rest go into `results` (invalid, exists)."""
    todo: list[tuple[str, str]] = []
    queued: set[str] = set()
    for domain, title in entries:
        try:
            # Checked only: constructing opens no connection.
            action = CreateSite(farm, runtime, domain, title, db_user_host=host)
        except ActionError as exc:
            results[domain] = {"domain": domain, "result": "invalid", "detail": str(exc)}
            continue
        name = action.names.domain
        if action.destructive and not args.yes:
            # An internationalised name: registered as xn--..., so it must be confirmed.
            results[name] = {
                "domain": name, "typed": domain, "result": "invalid",
                "detail": f"{action.parsed.registered_as}: confirm with --yes, or create it "
                          "alone to see the plan"}
            continue
        state = existing.get(name)
        if state is not None and state != "creating":  # a re-run skips what it made
            results[name] = {"domain": name, "result": "exists", "detail": f"state {state}"}
            continue
        if name in results or name in queued:
            continue  # the same domain twice in the file
        if args.dry_run:
            results[name] = {"domain": name, "result": "planned",
                             "detail": f"{len(action.plan())} steps"
                             + (f"; {action.parsed.registered_as}"
                                if action.parsed.is_idn else "")}
            continue
        todo.append((name, title))
        queued.add(name)
    return todo


def _bulk_run(farm: Farm, args: argparse.Namespace, entries: list[tuple[str, str]],
              runtime: SiteRuntime, host: str, pool: GaleraPool) -> int:
    started = time.monotonic()
    results: dict[str, dict] = {}
    try:
        with pool.lease() as db:
            existing = {r.domain: r.state for r in Registry(farm.endpoints.galera, db=db).list()}
    except pymysql.MySQLError as exc:
        print(f"wpfarm site create: the site registry (Galera): {describe_error(exc)[1]}",
              file=sys.stderr)
        return ExitCode.FAILED
    todo = _bulk_plan(farm, args, entries, runtime, host, existing, results)
    if args.dry_run:
        return _report(results, args, started)
    with contextlib.closing(_pacer(farm, args, existing, todo)) as pacer:
        return _bulk_go(farm, args, todo, runtime, host, pool, results, pacer, started)


class _Unpaced:
    """No live site to watch: the run goes at its --concurrency."""

    def __init__(self, why: str) -> None:
        self.why = why

    def limit(self) -> int:
        return 1 << 16

    def summary(self) -> dict[str, object]:
        return {"not_paced": self.why}

    def close(self) -> None:
        pass


def _pacer(farm: Farm, args: argparse.Namespace, existing: dict[str, str],
           todo: list[tuple[str, str]]) -> LivePacer | _Unpaced:
    """Pace by a live site: --pace-site, else the first active site the run does not make."""
    if args.no_pace:
        return _Unpaced("--no-pace")
    if not farm.sites.edge_url:
        return _Unpaced("no sites.edge_url in farm.yaml")
    making = {d for d, _t in todo}
    live = args.pace_site or next((d for d, state in sorted(existing.items())
                                   if state == "active" and d not in making), None)
    if live is None:
        return _Unpaced("no active site to watch (--pace-site DOMAIN)")
    pacer = LivePacer(farm.sites.edge_url, live, args.concurrency,
                      verify_tls=farm.sites.verify_tls, timeout=farm.sites.timeout)
    why = pacer.start()
    return _Unpaced(why) if why else pacer


def _bulk_go(farm: Farm, args: argparse.Namespace, todo: list[tuple[str, str]],
             runtime: SiteRuntime, host: str, pool: GaleraPool, results: dict[str, dict],
             pacer: LivePacer | _Unpaced, started: float) -> int:
    audit = AuditLog()
    out = console()
    # A line per site as it finishes: JSON lines under --json; plain lines when stdout is
    # a file or a pipe (the progress bar only draws on a terminal).
    live_bar = not args.json and out.is_terminal

    def say(line: str) -> None:
        if live_bar:
            out.print(line, highlight=False, markup=False)
        else:
            print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    def create(domain: str, title: str) -> dict:
        try:
            with pool.lease() as db:
                action = CreateSite(farm, runtime, domain, title, db_user_host=host, db=db)
                return _run_one(action, audit, farm, args)
        except Exception as exc:  # noqa: BLE001 - one site's crash is its line, not the run's
            return {"domain": domain, "result": "failed", "detail": f"{type(exc).__name__}: "
                    f"{exc}", "seconds": 0.0, "slowest_step": "", "slowest_s": 0.0}

    with _Interrupt(say) as interrupt, \
            Progress(console=out, disable=not live_bar, transient=True) as progress, \
            ThreadPoolExecutor(max_workers=args.concurrency) as workers:
        bar = progress.add_task("creating sites", total=len(todo))
        queue_ = list(reversed(todo))
        running: set[Future[dict]] = set()
        while running or (queue_ and not interrupt.stopping.is_set()):
            # Only `concurrency` sites are submitted at a time, so Ctrl-C leaves the rest
            # unstarted instead of queued inside the executor.
            while queue_ and len(running) < min(args.concurrency, pacer.limit()) and \
                    not interrupt.stopping.is_set():
                running.add(workers.submit(create, *queue_.pop()))
            interrupt.report(len(running))
            done, running = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                result = future.result()
                results[result["domain"]] = result
                progress.advance(bar)
                _print_site(result, args, say)
    for domain, _title in reversed(queue_):
        results[domain] = {"domain": domain, "result": "not started",
                           "detail": "interrupted before it started"}
    code = _report(results, args, started, pacer.summary())
    if interrupt.stopping.is_set():
        print(f"interrupted: {len(queue_)} sites not started. Resume: run the same command "
              "again (sites already created are skipped)", file=sys.stderr)
        return ExitCode.FAILED
    return code


def _run_one(action: CreateSite, audit: AuditLog, farm: Farm, args: argparse.Namespace
             ) -> dict:
    t0 = time.monotonic()
    slowest, step_started, failed = ("", 0.0), {}, None
    verdict: Verdict | None = None
    for item in execute(action, audit=audit, read_only=farm.read_only, confirmed=args.yes):
        if isinstance(item, StepEvent):
            if item.kind == "started":
                step_started[item.step] = time.monotonic()
            elif item.step in step_started:
                took = time.monotonic() - step_started.pop(item.step)
                slowest = max(slowest, (item.step, took), key=lambda s: s[1])
            if item.kind == "failed" and failed is None:
                failed = f"{item.step}: {item.message}"
        elif isinstance(item, Verdict):
            verdict = item
    ok = verdict is not None and verdict.ok and failed is None
    return {"domain": action.names.domain, "result": "created" if ok else "failed",
            "detail": "" if ok else (failed or (verdict.summary if verdict else "")),
            "seconds": round(time.monotonic() - t0, 2),
            "slowest_step": slowest[0], "slowest_s": round(slowest[1], 2)}


def _print_site(result: dict, args: argparse.Namespace, say: Callable[[str], None]) -> None:
    if args.json:
        print(json.dumps({"type": "site", **result}), flush=True)
        return
    detail = f"  {result['detail']}" if result["detail"] else ""
    say(f"{result['result']:8} {result['domain']}  {result.get('seconds', 0):.1f} s{detail}")


def _report(results: dict[str, dict], args: argparse.Namespace, started: float,
            pacing: dict[str, object] | None = None) -> int:
    rows = list(results.values())
    wall = time.monotonic() - started
    failed = [r for r in rows if r["result"] in ("failed", "invalid")]
    count = Counter(r["result"] for r in rows)
    if args.json:
        print(json.dumps({"sites": rows, "wall_s": round(wall, 2), "failed": len(failed),
                          "counts": dict(count), **({"pacing": pacing} if pacing else {})}))
    else:
        if failed or args.dry_run:
            # Each created site had its line already; the table repeats what needs a look.
            table = Table("domain", "result", "seconds", "detail")
            for r in rows if args.dry_run else failed:
                table.add_row(r["domain"], r["result"], str(r.get("seconds", "")), r["detail"])
            console().print(table)
        rate = f" ({60 * count['created'] / wall:.1f} sites/min)" if count["created"] else ""
        print(f"{count['created']} created, {count['exists']} already there, "
              f"{count['failed']} failed, {count['invalid']} invalid, "
              f"{count['not started']} not started, in {wall:.1f} s{rate}")
        if pacing and "site" in pacing:
            run = pacing["run_p95_ms"]
            print(f"paced by {pacing['site']}: p95 TTFB {pacing['idle_p95_ms']} ms idle, "
                  f"{'unmeasured' if run is None else f'{run} ms'} during the run; "
                  f"concurrency {pacing['concurrency_min']}-{pacing['concurrency_cap']}")
        elif pacing:
            print(f"not paced: {pacing['not_paced']}")
    return ExitCode.FAILED if failed else ExitCode.OK


def cmd_delete(args: argparse.Namespace) -> int:
    farm = load_farm_of(args)
    try:
        runtime, host = runtime_for(farm)
    except ActionError as exc:
        print(f"wpfarm site delete: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    with contextlib.closing(runtime):
        return _delete(farm, args, runtime, host)


def _delete(farm: Farm, args: argparse.Namespace, runtime: SiteRuntime, host: str) -> int:
    try:
        action = DeleteSite(farm, runtime, args.domain, db_user_host=host)
    except ActionError as exc:
        print(f"wpfarm site delete: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    if not args.dry_run and not args.yes and not farm.read_only:
        if not sys.stdin.isatty():
            print("wpfarm site delete: destructive; pass --yes (scripts) or run it on a "
                  "terminal to type the domain", file=sys.stderr)
            return ExitCode.FAILED
        typed = input(f"Deleting {action.names.domain} removes its database and files. "
                      "Type the domain to confirm: ").strip()
        with contextlib.suppress(DomainError):
            typed = validate_domain(typed)  # the Unicode form of an IDN confirms it too
        if typed != action.names.domain:
            print("not confirmed: nothing was changed", file=sys.stderr)
            return ExitCode.FAILED
        args.yes = True
    if not args.dry_run and not args.no_backup and farm.backup is not None \
            and not farm.read_only:
        from wpfarm_tui.actions.backup import BackupAction

        print(f"final backup of {action.names.domain} first (--no-backup skips it)")
        for item in execute(BackupAction(farm, [action.names.domain], retention=False,
                                         check=False), audit=AuditLog(),
                            read_only=farm.read_only):
            if isinstance(item, Verdict) and not item.ok:
                print(f"wpfarm site delete: the final backup failed ({item.summary}); "
                      "nothing was deleted", file=sys.stderr)
                return ExitCode.FAILED
    return run_action_cli(action, farm, args)


def cmd_suspend(args: argparse.Namespace) -> int:
    farm = load_farm_of(args)
    procedure = entry(f"site-{args.site_verb}")
    try:
        action = procedure.build(farm, Context.for_farm(farm), values_of(procedure, args))
    except ActionError as exc:
        print(f"wpfarm site {args.site_verb}: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    return run_action_cli(action, farm, args)


def cmd_list(args: argparse.Namespace) -> int:
    farm = load_farm_of(args)
    if farm.endpoints.galera is None:
        print("wpfarm site list: endpoints.galera is missing in farm.yaml", file=sys.stderr)
        return ExitCode.FAILED
    with Registry(farm.endpoints.galera) as registry:
        records = registry.list(state=args.state, contains=args.filter)
    for problem in registry.invalid:  # shown, never listed as a site
        print(f"wpfarm site {args.site_verb}: {problem}", file=sys.stderr)
    if args.site_verb == "info":
        try:
            wanted = validate_domain(args.domain)
        except DomainError as exc:
            print(f"wpfarm site info: {exc}", file=sys.stderr)
            return ExitCode.FAILED
        records = [r for r in records if r.domain == wanted]
        if not records:
            print(f"wpfarm site info: {args.domain} is not a site here", file=sys.stderr)
            return ExitCode.FAILED
    if args.json:
        print(json.dumps([{**r.__dict__, "created_at": str(r.created_at)} for r in records]))
        return ExitCode.OK
    table = Table("domain", "state", "database", "user", "created", "notes")
    for r in records:
        table.add_row(r.domain, r.state, r.db_name, r.db_user, str(r.created_at), r.notes)
    console().print(table)
    return ExitCode.OK


def cmd_logs(args: argparse.Namespace) -> int:
    try:
        stream = site_log_stream(load_farm_of(args), args.domain, args.tail, args.follow)
    except ActionError as exc:
        print(f"wpfarm site logs: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    return print_log_stream(stream)


def register(verbs: argparse._SubParsersAction) -> None:
    site = verbs.add_parser("site", help="create, delete, suspend, resume, list sites")
    sub = site.add_subparsers(dest="site_verb", metavar="SITE_VERB", required=True)

    create = sub.add_parser("create", help="create a site (or many, --from-file)")
    creating = entry("site-create")
    add_field(create, creating.field("domain"), nargs="?")  # none with --from-file
    add_field(create, creating.field("title"))
    create.add_argument("--admin-email")
    create.add_argument("--show-admin-password", action="store_true",
                        help="print the generated admin password once at the end")
    create.add_argument("--from-file", metavar="FILE", help="one DOMAIN [TITLE] a line")
    create.add_argument("--pace-site", metavar="DOMAIN",
                        help="with --from-file: the live site whose TTFB paces the run "
                             "(default: the first active site)")
    create.add_argument("--no-pace", action="store_true",
                        help="with --from-file: always --concurrency, whatever live sites get")
    create.add_argument("--concurrency", type=whole(1, 64), default=4,
                        help="sites created at once (1-64)")
    add_action_flags(create)
    create.set_defaults(func=cmd_create)

    delete = sub.add_parser("delete", help="delete a site (final backup first)")
    add_field(delete, entry("site-delete").field("domain"))
    delete.add_argument("--no-backup", action="store_true", help="skip the final backup")
    add_action_flags(delete)
    delete.set_defaults(func=cmd_delete)

    for verb in ("suspend", "resume"):
        procedure = entry(f"site-{verb}")
        p = sub.add_parser(verb, help=procedure.help)
        add_field(p, procedure.field("domain"))
        add_action_flags(p)
        p.set_defaults(func=cmd_suspend)

    for verb, text in (("list", "the registry's sites"), ("info", "one site")):
        p = sub.add_parser(verb, help=text)
        if verb == "info":
            p.add_argument("domain", metavar="DOMAIN").completer = complete.site_domains
        p.add_argument("--state", choices=("active", "suspended", "creating", "deleting"))
        p.add_argument("--filter", metavar="TEXT", help="domains containing TEXT")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=cmd_list)

    logs = sub.add_parser("logs", help="the site's web server log lines")
    logs.add_argument("domain", metavar="DOMAIN").completer = complete.site_domains
    add_log_flags(logs)
    logs.set_defaults(func=cmd_logs)
