"""Incident verbs: galera, redis, cache, ban/unban/bans, maintenance, alerts.

Every verb that changes something is an action from `actions/catalog.py`, run through
`run_action_cli` (plan, confirmation, read-only refusal, audit log, --dry-run, --json).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wpfarm_tui.actions import ActionError
from wpfarm_tui.actions.catalog import Context, alerts_from, entry
from wpfarm_tui.commands import completion as complete
from wpfarm_tui.commands.runner import (
    ExitCode,
    add_action_flags,
    load_farm_of,
    run_action_cli,
)


def _error(args: argparse.Namespace, exc: Exception) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"type": "error", "message": str(exc)}))
    else:
        print(f"wpfarm: {exc}", file=sys.stderr)
    return ExitCode.FAILED


def _run(name: str, values: dict[str, str]):
    def func(args: argparse.Namespace) -> int:
        farm = load_farm_of(args)
        creds = getattr(args, "machine_credentials", None)
        flag_dir = getattr(args, "flag_dir", None)
        ctx = Context.for_farm(farm, crowdsec_credentials=Path(creds) if creds else None,
                               maintenance_dir=Path(flag_dir) if flag_dir else None)
        vals = {k: (getattr(args, v) if isinstance(v, str) and hasattr(args, v) else v)
                for k, v in values.items()}
        try:
            action = entry(name).build(farm, ctx, {k: str(v) for k, v in vals.items()
                                                   if v is not None})
        except ActionError as exc:
            return _error(args, exc)
        return run_action_cli(action, farm, args)

    return func


def _pick(args: argparse.Namespace, single: str, every: str) -> int:
    """DOMAIN or --all, not both, not neither."""
    if bool(args.domain) == bool(args.all):
        return _error(args, ActionError("domain: give one site's domain, or --all"))
    name = every if args.all else single
    return _run(name, {"domain": "domain"})(args)


# ---------------------------------------------------------------- read-only verbs
def cmd_redis_status(args: argparse.Namespace) -> int:
    from wpfarm_tui.cli import _jsonable
    from wpfarm_tui.status.caches import CachesCollector

    farm = load_farm_of(args)
    snap = CachesCollector(farm).collect()
    if args.json:
        print(json.dumps({"redis": _jsonable(snap.redis), "sentinels": _jsonable(snap.sentinels)},
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
    from wpfarm_tui.cli import _jsonable

    farm = load_farm_of(args)
    try:
        bans = list_bans(farm, ip=args.ip, scope=args.scope)
    except ActionError as exc:
        return _error(args, exc)
    except Exception as exc:  # noqa: BLE001 - the LAPI is down: say so
        return _error(args, ConnectionError(f"CrowdSec LAPI: {exc}"))
    if args.json:
        print(json.dumps(_jsonable(bans), indent=2))
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
        return _error(args, exc)
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
def _action_parser(sub: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text)
    add_action_flags(p)
    return p


def register(verbs: Any) -> None:
    galera = verbs.add_parser("galera", help="Galera recovery, rejoin, desync/resync")
    gsub = galera.add_subparsers(dest="galera_verb", metavar="VERB", required=True)
    _action_parser(gsub, "recover", "full-crash recovery (bootstrap the most advanced node)"
                   ).set_defaults(func=_run("galera-recover", {}))
    for verb, name, text in (("rejoin", "galera-rejoin", "start a stopped node, wait Synced"),
                             ("desync", "galera-desync", "SET GLOBAL wsrep_desync=ON"),
                             ("resync", "galera-resync", "SET GLOBAL wsrep_desync=OFF")):
        p = _action_parser(gsub, verb, text)
        p.add_argument("node", help="a node name of endpoints.galera.nodes"
                       ).completer = complete.galera_nodes
        p.set_defaults(func=_run(name, {"node": "node"}))

    redis = verbs.add_parser("redis", help="Redis Sentinel status and failover")
    rsub = redis.add_subparsers(dest="redis_verb", metavar="VERB", required=True)
    status = rsub.add_parser("status", help="what every Sentinel and instance says")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_redis_status)
    _action_parser(rsub, "failover", "SENTINEL FAILOVER: promote a replica").set_defaults(
        func=_run("redis-failover", {}))

    cache = verbs.add_parser("cache", help="purge Varnish + Redis for a site or all")
    csub = cache.add_subparsers(dest="cache_verb", metavar="VERB", required=True)
    purge = _action_parser(csub, "purge", "ban the site's Varnish objects, delete its keys")
    purge.add_argument("domain", nargs="?").completer = complete.site_domains
    purge.add_argument("--all", action="store_true", help="every site (destructive)")
    purge.set_defaults(func=lambda a: _pick(a, "cache-purge", "cache-purge-all"))

    creds_help = ("a CrowdSec machine's local_api_credentials.yaml (`cscli machines add NAME "
                  "--auto`): banning needs a machine login, the bouncer key only reads")
    ban = _action_parser(verbs, "ban", "ban an IP or CIDR range in CrowdSec")
    ban.add_argument("ip", help="an IP address or CIDR range")
    ban.add_argument("--duration", default="4h", help="30m, 4h, 7d (default 4h)")
    ban.add_argument("--reason", required=True, help="why (shown in the CrowdSec pane)")
    ban.add_argument("--machine-credentials", metavar="FILE", help=creds_help)
    ban.set_defaults(func=_run("ban", {"ip": "ip", "duration": "duration",
                                       "reason": "reason"}))
    unban = _action_parser(verbs, "unban", "delete the decisions of an IP or range")
    unban.add_argument("ip", help="an IP address or CIDR range")
    unban.add_argument("--machine-credentials", metavar="FILE", help=creds_help)
    unban.set_defaults(func=_run("unban", {"ip": "ip"}))
    bans = verbs.add_parser("bans", help="list CrowdSec's active decisions")
    bans.add_argument("--ip", help="only decisions covering this IP or range")
    bans.add_argument("--scope", help="Ip, Range, ...")
    bans.add_argument("--json", action="store_true", help="machine-readable output")
    bans.set_defaults(func=cmd_bans)

    maint = verbs.add_parser("maintenance", help="a site (or all) answers 503 + Retry-After")
    msub = maint.add_subparsers(dest="maintenance_verb", metavar="VERB", required=True)
    for verb in ("on", "off"):
        p = _action_parser(msub, verb, f"maintenance mode {verb}")
        p.add_argument("domain", nargs="?").completer = complete.site_domains
        p.add_argument("--all", action="store_true", help="every site")
        p.add_argument("--flag-dir", metavar="DIR",
                       help="where the web servers look for flag files (the lab: next to "
                            "its farm.yaml; a Swarm farm keeps them in each site's "
                            "wp-content and needs none)")
        single, every = (("maintenance-on", "maintenance-all-on") if verb == "on"
                         else ("maintenance-off", "maintenance-all-off"))
        p.set_defaults(func=lambda a, s=single, e=every: _pick(a, s, e))

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
