"""Incident verbs: galera, redis, cache, ban/unban/bans, maintenance, alerts.

Every verb that changes something is an entry of `actions/catalog.py`: its parser,
arguments, help and completion come from the entry (`commands/procedures.py`), and it runs
through `run_action_cli` (plan, confirmation, read-only refusal, audit log, --dry-run,
--json). Written here: the groups, `--all` (which picks the every-site entry), and the
options that are not an entry's input (--machine-credentials, --flag-dir).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from wpfarm_tui.actions import ActionError
from wpfarm_tui.actions.catalog import Context, Entry, entry
from wpfarm_tui.commands.procedures import procedure_parser, run_entry
from wpfarm_tui.commands.runner import ExitCode, load_farm_of, print_error
from wpfarm_tui.status.alerts import alerts_from


def _pick(single: Entry, every: Entry) -> Callable[[argparse.Namespace], int]:
    """`VERB DOMAIN | --all`: one site's entry or every site's, not both, not neither."""
    def func(args: argparse.Namespace) -> int:
        if bool(args.domain) == bool(args.all):
            return print_error(args, ActionError("domain: give one site's domain, or --all"))
        return run_entry(every if args.all else single, args)

    return func


def _one_or_all(sub: Any, single: Entry, every: Entry, all_help: str
                ) -> argparse.ArgumentParser:
    """`<group> <verb> DOMAIN | --all`: the one-site entry's parser, DOMAIN optional."""
    p = procedure_parser(sub, single, {"domain": {"nargs": "?"}})
    p.add_argument("--all", action="store_true", help=all_help)
    p.set_defaults(func=_pick(single, every))
    return p


# ---------------------------------------------------------------- read-only verbs
def cmd_redis_status(args: argparse.Namespace) -> int:
    from wpfarm_tui.status.caches import CachesCollector
    from wpfarm_tui.status.jsonable import jsonable

    farm = load_farm_of(args)
    snap = CachesCollector(farm).collect()
    if args.json:
        print(json.dumps({"redis": jsonable(snap.redis), "sentinels": jsonable(snap.sentinels)},
                         indent=2))
        return ExitCode.OK
    masters = {s.master_address for s in snap.sentinels if s.master_address}
    name = farm.endpoints.redis.master_name if farm.endpoints.redis else "?"
    print(f"{name}: master {', '.join(sorted(masters)) or 'unknown'}"
          + ("  (SENTINELS DISAGREE)" if len(masters) > 1 else ""))
    for s in snap.sentinels:
        print(f"  sentinel {s.name:12} {s.master_address or '—':18} {s.master_flags or s.error}")
    for r in snap.redis:
        print(f"  redis    {r.name:12} {r.address:18} {r.role or r.error}"
              + (f" link {r.master_link}" if r.master_link else ""))
    return ExitCode.OK


def cmd_bans(args: argparse.Namespace) -> int:
    from wpfarm_tui.actions.crowdsec import list_bans
    from wpfarm_tui.status.jsonable import jsonable

    farm = load_farm_of(args)
    try:
        bans = list_bans(farm, ip=args.ip, scope=args.scope)
    except ActionError as exc:
        return print_error(args, exc)
    except Exception as exc:  # noqa: BLE001 - the LAPI is down: say so
        return print_error(args, ConnectionError(f"CrowdSec LAPI: {exc}"))
    if args.json:
        print(json.dumps(jsonable(bans), indent=2))
        return ExitCode.OK
    for b in bans:
        print(f"{b.id:>6}  {b.value:20} {b.scope:6} {b.type:8} {b.expires_in:>12}  {b.reason}")
    if not bans:
        print("no active decisions" + (" matching" if args.ip or args.scope else ""))
    return ExitCode.OK


SHOWN_SYMPTOMS = 20  # per incident in the human output; --json has every one


def cmd_alerts(args: argparse.Namespace) -> int:
    """The incidents of one poll of every pane: the same grouping as the Alerts tab."""
    from wpfarm_tui.actions.journal import IncidentJournal
    from wpfarm_tui.status.collectors import build_collectors, refresh_all
    from wpfarm_tui.status.incidents import incidents_from, maintenance_flags

    farm = load_farm_of(args)
    snapshots = refresh_all(build_collectors(farm)).snapshots
    flags = maintenance_flags(Context.for_farm(farm).maintenance_dir)
    incidents = incidents_from(snapshots, alerts_from(snapshots), flags)
    try:
        IncidentJournal().observe(incidents)
    except OSError as exc:  # the answer still stands; say why the journal missed it
        print(f"wpfarm: incident journal: {exc}", file=sys.stderr)
    if args.json:
        print(json.dumps([incident_json(i) for i in incidents], indent=2))
        return ExitCode.OK
    for i in incidents:
        print(f"{i.level.label.upper():8} {i.cause}")
        if i.procedure:
            print(f"{'':8}   procedure: {' '.join(_command(i.procedure, i.values))}")
        else:
            print(f"{'':8}   procedure: none fits; see the evidence")
        for line in i.evidence:
            print(f"{'':8}   evidence: {line}")
        for line in i.advice:
            print(f"{'':8}   by hand: {line}")
        if len(i.symptoms) > 1:
            for a in i.symptoms[:SHOWN_SYMPTOMS]:
                print(f"{'':8}   - {a.level.label:8} {a.pane:7} {a.subject:20} {a.message}")
            if len(i.symptoms) > SHOWN_SYMPTOMS:
                print(f"{'':8}   - ... and {len(i.symptoms) - SHOWN_SYMPTOMS} more (--json "
                      "lists them all)")
    if not incidents:
        print("no alerts")
    return ExitCode.OK


def _command(procedure: str, values: Any) -> list[str]:
    return ["wpfarm", *entry(procedure).cli_args(dict(values))]


def incident_json(i: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": i.key, "kind": i.kind, "cause": i.cause, "level": i.level.label, "at": i.at,
        "procedure": i.procedure, "evidence": list(i.evidence), "advice": list(i.advice),
        "symptoms": [{"pane": a.pane, "subject": a.subject, "level": a.level.label,
                      "message": a.message, "at": a.at} for a in i.symptoms]}
    if i.procedure:
        out["command"] = _command(i.procedure, i.values)
    return out


_SINCE = re.compile(r"([0-9]{1,6})([smhd])")


def parse_since(value: str | None, now: float) -> float | None:
    """`--since`: a duration back from now (30m, 4h, 7d) or an ISO date/time (UTC unless
    it says otherwise)."""
    if not value:
        return None
    text = value.strip()
    if m := _SINCE.fullmatch(text.lower()):
        return now - int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ActionError(f"--since: {value!r} is neither a duration (30m, 4h, 7d) nor a "
                          "date (2026-11-28 or 2026-11-28T14:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def cmd_incidents(args: argparse.Namespace) -> int:
    """The journal: every incident seen by a console or `wpfarm alerts`, with the actions
    taken while it was open."""
    from wpfarm_tui.actions.journal import IncidentJournal

    journal = IncidentJournal()
    try:
        since = parse_since(args.since, journal.clock())
    except ActionError as exc:
        return print_error(args, exc)
    records = journal.records(since, with_actions=True)
    if args.json:
        print(json.dumps([r.as_json() for r in records], indent=2))
        return ExitCode.OK
    for r in records:
        j = r.as_json()
        state = f"cleared {j['cleared']}" if r.cleared else f"OPEN, last seen {j['last_seen']}"
        print(f"{j['first_seen']}  {j['duration']:>7}  {r.level.upper():8} {r.cause}  ({state})")
        for a in r.actions:
            print(f"{'':30}{a['at']}  {a['who']}: {a['action']} -> {a['result']}")
    if not records:
        print("no incidents" + (" since then" if since is not None else "") +
              f" in {journal.path}")
    return ExitCode.OK


# ---------------------------------------------------------------- wiring
def _group(verbs: Any, name: str, help_text: str) -> Any:
    group = verbs.add_parser(name, help=help_text)
    return group.add_subparsers(dest=f"{name}_verb", metavar="VERB", required=True)


CREDS_HELP = ("a CrowdSec machine's local_api_credentials.yaml (`cscli machines add NAME "
              "--auto`): banning needs a machine login, the bouncer key only reads. Not "
              "needed when farm.yaml's endpoints.crowdsec has node and container (cscli then "
              "runs in the LAPI's task over SSH) or machine_credentials: {file: PATH}")


def register(verbs: Any) -> None:
    galera = _group(verbs, "galera", "Galera recovery, rejoin, desync/resync")
    for name in ("galera-recover", "galera-rejoin", "galera-desync", "galera-resync"):
        procedure_parser(galera, entry(name))

    redis = _group(verbs, "redis", "Redis Sentinel status and failover")
    status = redis.add_parser("status", help="what every Sentinel and instance says")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_redis_status)
    procedure_parser(redis, entry("redis-failover"))

    cache = _group(verbs, "cache", "purge Varnish + Redis for a site or all")
    _one_or_all(cache, entry("cache-purge"), entry("cache-purge-all"),
                "every site (destructive)")

    for name in ("ban", "unban"):
        procedure_parser(verbs, entry(name)).add_argument(
            "--machine-credentials", metavar="FILE", help=CREDS_HELP)
    bans = verbs.add_parser("bans", help="list CrowdSec's active decisions")
    bans.add_argument("--ip", help="only decisions covering this IP or range")
    bans.add_argument("--scope", help="Ip, Range, ...")
    bans.add_argument("--json", action="store_true", help="machine-readable output")
    bans.set_defaults(func=cmd_bans)

    maint = _group(verbs, "maintenance", "a site (or all) answers 503 + Retry-After")
    for verb in ("on", "off"):
        _one_or_all(maint, entry(f"maintenance-{verb}"), entry(f"maintenance-all-{verb}"),
                    "every site").add_argument(
            "--flag-dir", metavar="DIR",
            help="where the web servers look for flag files (the lab: next to its farm.yaml; "
                 "a Swarm farm keeps them in each site's wp-content and needs none)")

    alerts = verbs.add_parser("alerts", help="everything past a threshold, grouped by "
                                   "probable cause, with the procedure that fits")
    alerts.add_argument("--json", action="store_true", help="machine-readable output")
    alerts.set_defaults(func=cmd_alerts)

    incidents = verbs.add_parser("incidents", help="the incident journal: first/last seen, "
                                 "cleared, duration, actions taken meanwhile")
    incidents.add_argument("--since", metavar="WHEN",
                           help="a duration back (30m, 4h, 7d) or a date (2026-11-28T14:00)")
    incidents.add_argument("--json", action="store_true", help="machine-readable output")
    incidents.set_defaults(func=cmd_incidents)
