"""Alerts that fire together, grouped under their most probable cause.

A request goes Traefik → Varnish → Traefik's internal `sites` entry point → the site's
WordPress tasks → ProxySQL → Galera, with Redis for objects and sessions and CrowdSec at
the edge. When a part of that path fails, every site behind it fails too: the operator
should see one incident ("Varnish down, 12 sites affected") with the sites folded under
it and the procedure that fits the cause, not twelve site alerts each proposing a guess.

Rules, upstream first (a symptom is claimed by the first cause that explains it):
Traefik down, Varnish down, Galera down or non-Primary, then per-site causes (its
maintenance flag is set; its service runs 0 of N tasks), then the parts' own faults
(a Galera node down or desynced, the Redis master down, CrowdSec down, a service at 0
tasks). Failing sites that no rule explains become one "cause unknown" incident with the
evidence and no procedure: a guessed procedure (maintenance off for a 503 that is not
maintenance) costs more than none.

Plain Python on the snapshots and the alerts (`status.alerts.alerts_from`): the Alerts
tab and `wpfarm alerts` both show what `incidents_from` returns. Procedures are catalog
names (strings): this layer does not import actions/.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from wpfarm_tui.status.texts import shown
from wpfarm_tui.status.thresholds import Level

SHOWN_EVIDENCE = 12  # sites listed in an incident's evidence; the rest are counted


class AlertLike(Protocol):
    """What an alert (status.model.Alert) offers this module."""

    key: str
    pane: str
    subject: str
    level: Level
    message: str
    at: float
    procedure: str | None
    values: Mapping[str, str]


@dataclass(frozen=True)
class Incident:
    key: str  # stable identity across polls: "<kind>/<subject>"
    kind: str  # varnish-down, galera-non-primary, site-maintenance, unknown, ...
    cause: str  # one line an operator reads first
    level: Level
    at: float  # the newest check among its symptoms
    symptoms: tuple[Any, ...]  # the alerts folded under it (AlertLike)
    procedure: str | None = None  # a catalog name; None: no procedure fits (say so)
    values: Mapping[str, str] = field(default_factory=dict)  # the procedure's inputs
    evidence: tuple[str, ...] = ()  # what the cause was read from
    advice: tuple[str, ...] = ()  # what to do by hand, when no procedure covers it


def maintenance_flags(flag_dir: Path | None) -> frozenset[str] | None:
    """The maintenance flags set in a flag directory (the loopback lab's, or
    sites.maintenance_dir): a domain per file, `all` for every site. None when there is no
    such directory to read (a Swarm farm keeps them in each site's wp-content): unknown,
    not "none set"."""
    if flag_dir is None:
        return None
    try:
        return frozenset(p.name for p in Path(flag_dir).iterdir() if p.is_file())
    except FileNotFoundError:
        return frozenset()  # no flag was ever set
    except OSError:
        return None


def _site_failing(row: Any) -> bool:
    """No answer, or a 5xx: what a broken part of the request path does to a site."""
    return row is not None and (row.http_status is None or row.http_status >= 500)


def _site_status(row: Any) -> str:
    if row.http_status is None:
        return f"{row.domain}: no answer ({shown(row.error)})"
    return f"{row.domain}: HTTP {row.http_status}"


def _listed(lines: Sequence[str]) -> tuple[str, ...]:
    if len(lines) <= SHOWN_EVIDENCE:
        return tuple(lines)
    return (*lines[:SHOWN_EVIDENCE], f"... and {len(lines) - SHOWN_EVIDENCE} more")


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _swarm_service(snapshots: Mapping[str, Any], *suffixes: str) -> Any:
    """The Swarm service (nodes pane) named `<stack>_<suffix>` or `<suffix>`, if any."""
    for s in getattr(snapshots.get("nodes"), "services", ()):
        if any(s.name == x or s.name.endswith("_" + x) for x in suffixes):
            return s
    return None


class _Grouper:
    def __init__(self, snapshots: Mapping[str, Any], alerts: Sequence[AlertLike],
                 maintenance: frozenset[str] | None):
        self.snaps = snapshots
        self.pool: dict[str, AlertLike] = {a.key: a for a in alerts}
        self.maintenance = maintenance
        self.out: list[Incident] = []
        sites = snapshots.get("sites")
        self.rows = {s.domain: s for s in getattr(sites, "sites", ())}

    # ------------------------------------------------------------ helpers
    def take(self, pred: Any) -> list[AlertLike]:
        taken = [a for a in self.pool.values() if pred(a)]
        for a in taken:
            del self.pool[a.key]
        return taken

    def failing_sites(self) -> list[AlertLike]:
        """Site alerts whose site fails (5xx or no answer), and the probe source 'edge'
        when no site answered at all."""
        return self.take(lambda a: a.pane == "sites" and (
            _site_failing(self.rows.get(a.subject)) or a.subject == "edge"))

    def add(self, kind: str, subject: str, cause: str, symptoms: Sequence[AlertLike],
            procedure: str | None = None, values: Mapping[str, str] | None = None,
            evidence: Iterable[str] = (), advice: Iterable[str] = (),
            level: Level | None = None) -> None:
        lvl = level if level is not None else max((a.level for a in symptoms),
                                                  default=Level.CRITICAL)
        at = max((a.at for a in symptoms), default=0.0)
        self.out.append(Incident(f"{kind}/{subject}", kind, cause, lvl, at, tuple(symptoms),
                                 procedure, dict(values or {}), tuple(evidence),
                                 tuple(advice)))

    def site_evidence(self, alerts: Sequence[AlertLike]) -> list[str]:
        return [_site_status(self.rows[a.subject]) for a in alerts if a.subject in self.rows]

    def restart_of(self, service: Any, what: str
                   ) -> tuple[str | None, dict[str, str], list[str], list[AlertLike]]:
        """A Swarm service restart when the farm runs the part as a service (its own
        alert, "0/2 running", folds under the cause); otherwise no procedure, and how to
        start it by hand."""
        if service is not None:
            own = self.take(lambda a: a.pane == "nodes" and a.subject == f"service "
                            f"{service.name}")
            return ("service-restart", {"service": service.name},
                    [f"logs: wpfarm service logs {service.name}"], own)
        return (None, {}, [f"start {what} on its node; the loopback lab: `wpfarm lab up` "
                           "starts what is missing"], [])

    # ------------------------------------------------------------ rules
    def traefik(self) -> None:
        edge = self.snaps.get("edge")
        src = next((s for s in getattr(edge, "sources", ()) if s.name == "traefik"), None)
        if src is None or src.ok or src.state == "disabled":
            return
        # Its API down alone may be just the API: the sites' probes say whether the entry
        # point is down too.
        sites = [r for r in self.rows.values() if r.http_status is not None or r.error]
        if sites and any(r.http_status is not None for r in sites):
            return
        own = self.take(lambda a: a.pane == "edge")
        affected = self.failing_sites()
        proc, values, advice, svc = self.restart_of(
            _swarm_service(self.snaps, "traefik"), "Traefik")
        n = len([a for a in affected if a.subject in self.rows])
        self.add("edge-down", "traefik", f"Traefik down, {_plural(n, 'site')} unreachable",
                 own + svc + affected, proc, values,
                 [f"traefik API: {src.state}: {shown(src.error, '')}".rstrip(": "),
                  *_listed(self.site_evidence(affected))], advice)

    def varnish(self) -> None:
        caches = self.snaps.get("caches")
        instances = getattr(caches, "varnish", ())
        down = [v for v in instances if not v.reachable]
        if not down:
            return
        names = {v.name for v in down}
        own = self.take(lambda a: a.pane == "caches" and a.subject in names)
        every = len(down) == len(instances)
        # One instance of several down: Traefik still has the others; the sites that fail
        # are its share.
        affected = self.failing_sites()
        n = len([a for a in affected if a.subject in self.rows])
        what = "Varnish down" if every and len(instances) == 1 else \
            ("every Varnish down" if every else
             f"Varnish {', '.join(sorted(names))} down ({len(down)} of {len(instances)})")
        proc, values, advice, svc = self.restart_of(
            _swarm_service(self.snaps, "varnish"), "varnishd")
        self.add("varnish-down", "varnish", f"{what}, {_plural(n, 'site')} affected",
                 own + svc + affected, proc, values,
                 [*(f"{v.name}: {shown(v.error, 'down')}" for v in down),
                  *_listed(self.site_evidence(affected))], advice)

    def galera(self) -> None:
        galera = self.snaps.get("galera")
        nodes = getattr(galera, "nodes", ())
        if not nodes:
            return
        all_down = all(not n.reachable and n.health == "down" for n in nodes)
        non_primary = galera.cluster_status == "non-Primary"
        if not (all_down or non_primary):
            return
        own = self.take(lambda a: a.pane == "galera")
        # The site registry and the database sizes are read from Galera too.
        own += self.take(lambda a: a.pane in ("sites", "backups") and a.subject in (
            "site-registry", "db-sizes", "registry"))
        affected = self.failing_sites()
        n = len([a for a in affected if a.subject in self.rows])
        if all_down:
            cause = f"Galera down: no node answers, {_plural(n, 'site')} affected"
            evidence = [f"{x.name}: {shown(x.error, 'down')}" for x in nodes]
            kind = "galera-down"
        else:
            cause = f"Galera not Primary, {_plural(n, 'site')} affected"
            evidence = [f"{x.name}: {shown(x.cluster_status, 'no answer')} "
                        f"{shown(x.local_state, '')}".rstrip() for x in nodes]
            kind = "galera-non-primary"
        self.add(kind, "galera", cause, own + affected, "galera-recover", {},
                 [*evidence, *_listed(self.site_evidence(affected))])

    def sites(self) -> None:
        """Per-site causes: the maintenance flag, the site's own service."""
        from wpfarm_tui.sites.naming import names_for

        flags = self.maintenance or frozenset()
        flagged = self.take(lambda a: a.pane == "sites" and a.subject in self.rows
                            and self._maintenance(self.rows[a.subject]))
        # Under the `all` flag: one incident for every site it holds, not one per site.
        by_all = [a for a in flagged if a.subject not in flags]
        if by_all:
            n = len(by_all)
            self.add("site-maintenance", "all", f"every site in maintenance (flag all set), "
                     f"{_plural(n, 'site')} answering 503", by_all, "maintenance-all-off", {},
                     [*_listed(self.site_evidence(by_all)), "the maintenance flag `all` is set"],
                     level=Level.WARNING)
        for a in flagged:
            if a.subject not in flags:
                continue
            self.add("site-maintenance", a.subject,
                     f"{a.subject} in maintenance (its flag is set)", [a], "maintenance-off",
                     {"domain": a.subject},
                     [_site_status(self.rows[a.subject]), "its maintenance flag is set"],
                     level=Level.WARNING)
        for a in list(self.pool.values()):
            row = self.rows.get(a.subject)
            if a.pane != "sites" or row is None or row.http_status not in (502, 503, 504):
                continue
            try:
                suffix = names_for(row.domain).service
            except ValueError:
                continue
            svc = _swarm_service(self.snaps, suffix)
            if svc is None or not (svc.desired > 0 and svc.running == 0):
                continue
            del self.pool[a.key]
            own = self.take(lambda x, name=svc.name: x.pane == "nodes"
                            and x.subject == f"service {name}")
            self.add("site-service-down", row.domain,
                     f"{row.domain}: its service is down (0 of {svc.desired} tasks)",
                     [a, *own], "service-restart", {"service": svc.name},
                     [_site_status(row), f"service {svc.name}: {svc.running}/{svc.desired} "
                                         "tasks running"],
                     [f"logs: wpfarm service logs {svc.name}"])

    def _maintenance(self, row: Any) -> bool:
        flags = self.maintenance
        return (row.http_status == 503 and flags is not None
                and (row.domain in flags or "all" in flags))

    def parts(self) -> None:
        """Each part's own faults, when nothing upstream claimed them."""
        galera = self.snaps.get("galera")
        for n in getattr(galera, "nodes", ()):
            alerts = self.take(lambda a, name=n.name: a.pane == "galera" and a.subject == name)
            if not alerts:
                continue
            a = max(alerts, key=lambda x: (bool(x.procedure), x.level))
            if not n.reachable and not n.denied:
                self.add("galera-node-down", n.name, f"Galera node {n.name} down", alerts,
                         "galera-rejoin", {"node": n.name},
                         [f"{n.name}: {shown(n.error, 'down')}",
                          f"cluster {shown(galera.cluster_status)}, size "
                          f"{shown(galera.cluster_size)} of {galera.expected_size}"])
            elif n.local_state == "Donor/Desynced" and a.procedure == "galera-resync":
                self.add("galera-node-desynced", n.name, f"Galera node {n.name} desynced",
                         alerts, "galera-resync", {"node": n.name}, [a.message])
            else:
                self.add("galera-node", n.name, f"Galera node {n.name}", alerts,
                         evidence=[a.message])
        self._redis()
        self._crowdsec()
        for a in self.take(lambda a: a.pane == "nodes" and a.subject.startswith("service ")):
            name = a.subject.removeprefix("service ")
            svc = _swarm_service(self.snaps, name)
            if svc is not None and svc.desired > 0 and svc.running == 0:
                self.add("service-down", name, f"service {name} down (0 of {svc.desired} "
                         "tasks)", [a], "service-restart", {"service": name}, [a.message],
                         [f"logs: wpfarm service logs {name}"])
            else:
                self.add("service", name, f"service {name}: not every task runs", [a],
                         evidence=[a.message])

    def _redis(self) -> None:
        caches = self.snaps.get("caches")
        if caches is None:
            return
        masters = {s.master_address for s in caches.sentinels if s.master_address}
        for r in caches.redis:
            alerts = self.take(lambda a, name=r.name: a.pane == "caches" and a.subject == name)
            if not alerts:
                continue
            if r.reachable or r.denied:
                self.add("redis", r.name, f"Redis {r.name}", alerts,
                         evidence=[a.message for a in alerts])
                continue
            # Down: the master only when the Sentinels still name it (after their own
            # failover it is a replica that is down; a failover would demote the new one).
            is_master = r.address in masters
            if is_master:
                names = {s.name for s in caches.sentinels}
                sentinels = self.take(lambda a, names=names: a.pane == "caches"
                                      and a.subject in names)
                self.add("redis-master-down", r.name, f"Redis master {r.name} down",
                         alerts + sentinels, "redis-failover", {},
                         [f"{r.name} ({r.address}): {shown(r.error, 'down')}",
                          *(f"{s.name}: master {shown(s.master_address)} "
                            f"{shown(s.master_flags, '')}".rstrip() for s in caches.sentinels)])
            else:
                self.add("redis-replica-down", r.name, f"Redis {r.name} down (not the "
                         "master)", alerts, None, {},
                         [f"{r.name} ({r.address}): {shown(r.error, 'down')}",
                          f"the Sentinels name {', '.join(sorted(masters)) or 'no'} master"],
                         ["start it: it rejoins as a replica of the current master"])

    def _crowdsec(self) -> None:
        bans = self.snaps.get("bans")
        src = next((s for s in getattr(bans, "sources", ()) if s.name == "crowdsec"), None)
        if src is None or src.ok or src.state == "disabled":
            return
        own = self.take(lambda a: a.pane == "bans")
        if src.state == "denied":
            self.add("credentials", "crowdsec", own[0].message if own else
                     "CrowdSec refused the bouncer key", own, evidence=[shown(src.error)])
            return
        proc, values, advice, svc = self.restart_of(
            _swarm_service(self.snaps, "crowdsec"), "CrowdSec")
        self.add("crowdsec-down", "crowdsec", "CrowdSec LAPI down: decisions are not "
                 "read (the console's CrowdSec pane is blind)", own + svc, proc, values,
                 [f"crowdsec: {src.state}: {shown(src.error, '')}".rstrip(": ")], advice)

    def rest(self) -> None:
        """What no rule explains: failing sites together as one "cause unknown" (the
        evidence says what was ruled out), everything else one incident per alert."""
        affected = self.failing_sites()
        if affected:
            n = len([a for a in affected if a.subject in self.rows])
            self.add("unknown", "sites", f"cause unknown: {_plural(n, 'site')} failing",
                     affected, None, {}, [*_listed(self.site_evidence(affected)),
                                          *self._ruled_out()])
        for a in sorted(self.pool.values(), key=lambda a: a.key):
            # The alert's own message is shown beside the cause: not repeated in it.
            if "/source/" in a.key:
                kind, cause = "source-down", f"{a.subject} unreachable"
            else:
                kind, cause = "threshold", f"{a.subject}: past its {a.level.label} threshold"
            self.add(kind, a.key, cause, [a], evidence=[a.message])
        self.pool.clear()

    def _ruled_out(self) -> list[str]:
        out = []
        if self.maintenance is None:
            out.append("maintenance flags: not readable from here")
        elif self.maintenance:
            out.append(f"maintenance flags set: {', '.join(sorted(self.maintenance))}")
        else:
            out.append("no maintenance flag is set")
        caches = self.snaps.get("caches")
        if caches is not None and caches.varnish:
            out.append("Varnish answers")
        galera = self.snaps.get("galera")
        if galera is not None and galera.cluster_status:
            out.append(f"Galera {galera.cluster_status}")
        return out


def incidents_from(snapshots: Mapping[str, Any], alerts: Sequence[AlertLike],
                   maintenance: frozenset[str] | None = None) -> list[Incident]:
    """The alerts grouped by cause, worst first (then the widest, then the newest). Every alert
    lands in exactly one incident. `maintenance`: the maintenance flags set (see
    `maintenance_flags`), None when they cannot be read."""
    g = _Grouper(snapshots, alerts, maintenance)
    g.traefik()
    g.varnish()
    g.galera()
    g.sites()
    g.parts()
    g.rest()
    # Worst first; among equals the one with more symptoms (40 sites down before one
    # Galera node), then the newest.
    return sorted(g.out, key=lambda i: (-i.level, -len(i.symptoms), -i.at, i.key))
