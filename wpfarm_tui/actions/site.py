"""Site lifecycle actions: create and delete, one site at a time.

Create: validate the domain, refuse duplicates, claim the registry row
(state `creating`), create the database and its user with a generated
password (kept by the runtime as a secret), the media directory, the
service and its router, install WordPress, then verify: 200 through the
edge and a second request that is a cache hit. Each step is idempotent; on
failure the run undoes what it created itself, newest first, and says which
step failed. The admin password is generated, kept in memory, and handed
back once (`admin_password`), never put in an event.

Connections: an action given `db` borrows it (a bulk run lends each worker one
from a `GaleraPool`); without, it opens its own and `close()` closes them —
`execute` calls it when the run is over, so no action leaves a connection open.
"""

from __future__ import annotations

import secrets as pysecrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pymysql

from wpfarm_tui.actions.base import ActionError, Step, StepEvent, Verdict, refusal
from wpfarm_tui.farm import http as farm_http
from wpfarm_tui.farm.galera import GaleraConnections
from wpfarm_tui.farm.proxysql import SITES_HOSTGROUP, ProxySQLAdmin
from wpfarm_tui.inventory import Farm
from wpfarm_tui.sites.naming import (
    DomainError,
    SiteNames,
    db_name_problem,
    db_user_problem,
    names_for,
    parse_domain,
    sql_ident,
)
from wpfarm_tui.sites.registry import Registry, SiteRecord
from wpfarm_tui.sites.runtime import SiteConfig, SiteRuntime
from wpfarm_tui.status.base import credentials_refused, describe_error
from wpfarm_tui.status.texts import credentials_message

_EMAIL_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789.-_+@")


def _validate_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or not set(email) <= _EMAIL_CHARS:
        raise ActionError(f"admin-email: {email!r} is not an address. Fix: like ops@example.com")
    return email


def _sql_run(db: GaleraConnections, sql: str, args: Any = None) -> None:
    db.query(sql, args)


@dataclass
class CreateSite:
    farm: Farm
    runtime: SiteRuntime
    domain: str
    title: str = ""
    admin_email: str = ""
    db_user_host: str = "%"  # where the site's PHP connects from
    name: str = "site-create"
    destructive: bool = False
    admin_password: str | None = field(default=None, repr=False)
    # ProxySQL's admin interface; by default the farm's endpoints.proxysql, if any.
    proxysql: ProxySQLAdmin | None = None
    # Galera connections to borrow (not closed here); by default the action's own.
    db: GaleraConnections | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        try:
            self.parsed = parse_domain(self.domain)
            self.names: SiteNames = names_for(self.parsed.ascii)
        except DomainError as exc:
            raise ActionError(str(exc)) from None
        # An internationalised name is registered as its xn-- form: the plan says so and,
        # like a destructive action, it runs only once confirmed (the dialog, or --yes).
        self.destructive = self.destructive or self.parsed.is_idn
        self.title = (self.title or self.parsed.unicode).strip()
        if len(self.title) > 200 or any(c in self.title for c in "\n\r\0"):
            raise ActionError("title: at most 200 characters on one line. Fix: shorten it")
        self.admin_email = _validate_email(self.admin_email or f"admin@{self.names.domain}")
        if self.farm.endpoints.galera is None:
            raise ActionError("endpoints.galera: missing in farm.yaml; sites need the database")
        self.registry = Registry(self.farm.endpoints.galera, db=self.db)
        self.db = self.registry.db
        if self.proxysql is None and self.farm.endpoints.proxysql is not None:
            self.proxysql = ProxySQLAdmin(self.farm.endpoints.proxysql)
        self._created: list[tuple[str, Callable[[], object]]] = []  # undo, newest last

    def close(self) -> None:
        """Close the connections this action opened (a borrowed `db` stays open)."""
        self.registry.close()

    # ------------------------------------------------------------ protocol
    def describe(self) -> Mapping[str, Any]:
        idn = {"typed": self.parsed.typed, "unicode": self.parsed.unicode} \
            if self.parsed.is_idn else {}
        return {"domain": self.names.domain, **idn, "title": self.title,
                "admin_email": self.admin_email}

    def plan(self) -> list[Step]:
        n = self.names
        typed = self.parsed.typed
        typed = f" (typed {typed!r})" if typed.strip() != self.parsed.unicode else ""
        check = (Step("check domain", f"{self.parsed.registered_as}{typed}: confirm it is the "
                      "name you meant; not yet registered", True)
                 if self.parsed.is_idn else Step("check domain", f"{n.domain} not yet registered"))
        return [
            check,
            Step("register", "wpfarm.sites row in state creating"),
            Step("database", f"CREATE DATABASE {n.db_name}"),
            Step("database user", f"{n.db_user}@{self.db_user_host}, generated password"),
            *([Step("proxysql user", f"{n.db_user} in ProxySQL's mysql_users (hostgroup "
                                     f"{SITES_HOSTGROUP})")] if self.proxysql else []),
            Step("media", "the site's wp-content directory"),
            Step("deploy", "service and Traefik router for Host(`" + n.domain + "`)"),
            Step("install WordPress", f"title {self.title!r}, admin {self.admin_email}"),
            Step("verify", "200 through the edge, second request a cache HIT"),
            Step("activate", "registry state active"),
        ]

    def _step(self, name: str, call: Callable[[], bool | str | None],
              undo: Callable[[], object] | None = None, partial: bool = False
              ) -> Iterator[StepEvent]:
        """`partial`: the step makes several things and may fail half-way; its (idempotent)
        undo then runs too, so nothing it made is left behind."""
        yield StepEvent("started", name)
        try:
            result = call()
        except Exception:
            if undo is not None and partial:
                self._created.append((name, undo))
            raise
        if result is False:
            yield StepEvent("skipped", name, "already there")
            return
        if undo is not None:
            self._created.append((name, undo))
        yield StepEvent("done", name, result if isinstance(result, str) else "")

    def run(self) -> Iterator[StepEvent]:
        n = self.names
        try:
            existing = self.registry.get(n.domain)
            if existing and existing.state != "creating":
                yield StepEvent("failed", "check domain",
                                f"{n.domain} is already a site (state {existing.state}); "
                                "choose another domain or delete that site first")
                return
            resuming = existing is not None
            yield StepEvent("done", "check domain",
                            "resuming an unfinished create" if resuming else "free")
            if not resuming:
                yield from self._step(
                    "register", lambda: self.registry.claim(n.domain, n.db_name, n.db_user),
                    lambda: self.registry.remove(n.domain))
            yield from self._step("database", self._create_database, self._drop_database)
            password = self._db_password()
            yield from self._step("database user", lambda: self._create_user(password),
                                  self._drop_user)
            if self.proxysql is not None:
                proxysql = self.proxysql
                yield from self._step("proxysql user",
                                      lambda: proxysql.upsert_user(n.db_user, password),
                                      lambda: proxysql.remove_user(n.db_user))
            yield from self._step("media", lambda: self.runtime.ensure_media(n),
                                  lambda: self.runtime.remove_media(n))
            config = SiteConfig(n, self._db_host(), password, self.title, self.admin_email)
            yield from self._step("deploy", lambda: self.runtime.deploy(config),
                                  lambda: self.runtime.undeploy(n), partial=not resuming)
            self.admin_password = pysecrets.token_urlsafe(18)
            admin_password = self.admin_password
            yield from self._step(
                "install WordPress",
                lambda: self.runtime.install_wordpress(config, admin_password))
            yield from self._step("verify", self._verify_edge)
            self.registry.set_state(n.domain, "active")
            yield StepEvent("done", "activate")
            self._created.clear()
        except Exception as exc:  # noqa: BLE001 - undo, then report which step failed
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            yield StepEvent("failed", "create", message)
            yield from self._undo()

    def _undo(self) -> Iterator[StepEvent]:
        for name, undo in reversed(self._created):
            try:
                undo()
                yield StepEvent("done", f"undo {name}")
            except Exception as exc:  # noqa: BLE001 - keep undoing the rest
                yield StepEvent("failed", f"undo {name}", str(exc))
        self._created.clear()

    # ------------------------------------------------------------ steps
    def _db_host(self) -> str:
        proxysql = self.farm.endpoints.proxysql
        # Sites talk to ProxySQL's MySQL port where the farm has one (pooling, failover);
        # without it, to a Galera node that answers now (one may be down).
        if proxysql:
            return f"{proxysql.host}:6033"
        node = self.db.first_available()
        return f"{node.host}:{node.port}"

    def _create_database(self) -> bool:
        rows = self.db.query("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                             [self.names.db_name])
        if rows:
            return False
        _sql_run(self.db, f"CREATE DATABASE `{self.names.db_name}` "
                          "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        return True

    def _drop_database(self) -> None:
        _sql_run(self.db, f"DROP DATABASE IF EXISTS `{self.names.db_name}`")

    def _db_password(self) -> str:
        key = f"{self.names.slug}_db_password"
        existing = self.runtime.read_secret(key)
        if existing:
            return existing
        password = pysecrets.token_urlsafe(24)
        self.runtime.store_secret(key, password)
        self._created.append(("db password secret", lambda: self.runtime.remove_secret(key)))
        return password

    def _create_user(self, password: str) -> bool:
        n, host = self.names, self.db_user_host
        rows = self.db.query("SELECT 1 FROM mysql.user WHERE user = %s AND host = %s",
                             [n.db_user, host])
        # Always (re)set the password: a resumed run must match the stored secret.
        _sql_run(self.db, "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s",
                 [n.db_user, host, password])
        _sql_run(self.db, "ALTER USER %s@%s IDENTIFIED BY %s", [n.db_user, host, password])
        _sql_run(self.db, f"GRANT ALL PRIVILEGES ON `{n.db_name}`.* TO %s@%s",
                 [n.db_user, host])
        return not rows

    def _drop_user(self) -> None:
        _sql_run(self.db, "DROP USER IF EXISTS %s@%s", [self.names.db_user, self.db_user_host])

    def _verify_edge(self) -> str:
        edge = self.farm.sites.edge_url
        if not edge:
            return "no sites.edge_url: not verified through the edge"
        with httpx.Client(timeout=self.farm.sites.timeout,
                          verify=self.farm.sites.verify_tls) as client:
            deadline = time.monotonic() + 30  # a router takes a moment to appear
            first = farm_http.probe(client, edge, self.names.domain)
            while first.status != 200 and time.monotonic() < deadline:
                time.sleep(0.5)
                first = farm_http.probe(client, edge, self.names.domain)
            if first.status != 200:
                raise ActionError(f"verify: {self.names.domain} answered "
                                  f"{first.status or first.error} through the edge, not 200")
            # Up to three follow-ups: during a bulk create another site's graceful nginx
            # reload can cost one miss (seen once in 50 in the benchmark).
            for _ in range(3):
                second = farm_http.probe(client, edge, self.names.domain)
                if second.cache == "HIT":
                    break
                time.sleep(0.2)
        if second.cache != "HIT":
            raise ActionError(f"verify: the second request was a cache {second.cache or 'miss'}"
                              ", not a HIT: check the Varnish rules for this site")
        return f"200 in {first.ttfb_ms} ms, then a cache HIT in {second.ttfb_ms} ms"

    def verify(self) -> Verdict:
        record = self.registry.get(self.names.domain)
        ok = bool(record and record.state == "active" and self.runtime.deployed(self.names))
        return Verdict(ok, f"{self.names.domain} is {'live' if ok else 'not live'}",
                       (f"registry state: {record.state if record else 'absent'}",))


@dataclass
class DeleteSite:
    """Removes service, router, database, user, files and the registry row.

    The caller takes a final backup first (unless told not to): that is the
    backup action's job, so this one only refuses to run on an unknown site.
    """

    farm: Farm
    runtime: SiteRuntime
    domain: str
    db_user_host: str = "%"
    name: str = "site-delete"
    destructive: bool = True
    proxysql: ProxySQLAdmin | None = None
    db: GaleraConnections | None = field(default=None, repr=False)  # borrowed, see CreateSite

    def __post_init__(self) -> None:
        try:
            self.names = names_for(self.domain)
        except DomainError as exc:
            raise ActionError(str(exc)) from None
        if self.farm.endpoints.galera is None:
            raise ActionError("endpoints.galera: missing in farm.yaml")
        self.registry = Registry(self.farm.endpoints.galera, db=self.db)
        if self.proxysql is None and self.farm.endpoints.proxysql is not None:
            self.proxysql = ProxySQLAdmin(self.farm.endpoints.proxysql)

    def close(self) -> None:
        self.registry.close()

    def describe(self) -> Mapping[str, Any]:
        return {"domain": self.names.domain}

    def _record(self) -> Any:
        """The site's registry row; a registry that refuses our credentials is a refusal
        with the fix (what to drop cannot be known), not a crash."""
        try:
            return self.registry.get(self.names.domain)
        except pymysql.MySQLError as exc:
            if not credentials_refused(exc):
                raise
            why = credentials_message("galera", describe_error(exc)[1])
            raise ActionError(refusal(self.name, [("the site registry (Galera)", why)])
                              ) from None

    def _db_names(self, record: SiteRecord | None) -> tuple[str, str]:
        """The database and user to drop: the registry row's, once they pass the naming
        rule and belong to no other site (a tampered row must not drop another site's
        database, or `mysql`); the derived names when there is no row."""
        if record is None:
            return self.names.db_name, self.names.db_user
        problem = db_name_problem(record.db_name) or db_user_problem(record.db_user)
        if problem is None:
            others = self.registry.db.query(
                "SELECT domain FROM wpfarm.sites WHERE (db_name = %s OR db_user = %s) "
                "AND domain <> %s", [record.db_name, record.db_user, record.domain])
            if others:
                problem = (f"database {record.db_name} / user {record.db_user} is also "
                           f"registered to {', '.join(str(r[0]) for r in others)}")
        if problem:
            raise ActionError(f"registry row of {self.names.domain}: {problem}; nothing "
                              "was dropped. Fix: correct the row in wpfarm.sites")
        return record.db_name, record.db_user

    def plan(self) -> list[Step]:
        record = self._record()
        db_name, _user = self._db_names(record)
        return [Step("mark deleting", "registry state deleting", True),
                Step("undeploy", "service and router", True),
                Step("purge cache", "Varnish ban on the site's pages", True),
                Step("database", f"DROP DATABASE {db_name}", True),
                Step("database user", "DROP USER", True),
                *([Step("proxysql user", "removed from ProxySQL's mysql_users", True)]
                  if self.proxysql else []),
                Step("media", "the site's files", True),
                Step("unregister", "remove the registry row", True)]

    def run(self) -> Iterator[StepEvent]:
        n = self.names
        try:
            record = self._record()  # again: the farm may have changed since the plan
            db_name, db_user = self._db_names(record)
        except ActionError as exc:
            yield StepEvent("failed", "check registry row", str(exc))
            return
        steps: list[tuple[str, Callable[[], object]]] = [
            ("mark deleting", lambda: record and self.registry.set_state(n.domain, "deleting")),
            ("undeploy", lambda: self.runtime.undeploy(n)),
            ("purge cache", self._purge),
            ("database", lambda: self.registry.db.query(
                f"DROP DATABASE IF EXISTS {sql_ident(db_name)}")),
            ("database user", lambda: self.registry.db.query(
                "DROP USER IF EXISTS %s@%s", [db_user, self.db_user_host])),
            *([("proxysql user", lambda: self.proxysql.remove_user(db_user))]  # type: ignore[union-attr]
              if self.proxysql else []),
            ("media", lambda: self.runtime.remove_media(n)),
            ("secret", lambda: self.runtime.remove_secret(f"{n.slug}_db_password")),
            ("unregister", lambda: self.registry.remove(n.domain)),
        ]
        for name, call in steps:
            yield StepEvent("started", name)
            try:
                call()
            except (pymysql.MySQLError, OSError, ActionError, RuntimeError) as exc:
                yield StepEvent("failed", name, f"{exc}; run the delete again to finish")
                return
            yield StepEvent("done", name)

    def _purge(self) -> None:
        """Varnish would otherwise keep serving the deleted site's pages until they expire."""
        from wpfarm_tui.farm import varnish

        purge = getattr(self.runtime, "purge", None)
        if purge is not None:  # a Swarm's Varnish is banned from inside the farm
            purge(self.names)
            return
        varnish.ban_site(self.farm, self.names.domain, 5.0)

    def verify(self) -> Verdict:
        gone = self.registry.get(self.names.domain) is None and not self.runtime.deployed(
            self.names)
        return Verdict(gone, f"{self.names.domain} {'is gone' if gone else 'still exists'}")


class SuspendSite:
    """Suspend (maintenance page, 503 + Retry-After, registry `suspended`) or resume."""

    def __init__(self, farm: Farm, domain: str, *, suspend: bool, flag_dir: Any) -> None:
        """`flag_dir` for the loopback lab's flag files; without it (a Swarm farm) the
        site runtime sets the flag where the site's web server looks (its wp-content)."""
        from wpfarm_tui.actions.maintenance import Maintenance

        try:
            self.names = names_for(domain)
        except DomainError as exc:
            raise ActionError(str(exc)) from None
        if farm.endpoints.galera is None:
            raise ActionError("endpoints.galera: missing in farm.yaml")
        self.registry = Registry(farm.endpoints.galera)
        self.suspend = suspend
        self.maintenance = Maintenance(farm, self.names.domain, on=suspend,
                                       flag_dir=flag_dir)
        self.name = "site-suspend" if suspend else "site-resume"
        self.destructive = False

    def describe(self) -> Mapping[str, Any]:
        return {"domain": self.names.domain}

    def close(self) -> None:
        self.registry.close()

    def plan(self) -> list[Step]:
        state = "suspended" if self.suspend else "active"
        return [*self.maintenance.plan(), Step("registry", f"state {state}")]

    def run(self) -> Iterator[StepEvent]:
        record = self.registry.get(self.names.domain)
        if record is None:
            yield StepEvent("failed", "registry", f"{self.names.domain} is not a site here")
            return
        failed = False
        for event in self.maintenance.run():
            failed |= event.kind == "failed"
            yield event
        if failed:
            return
        self.registry.set_state(self.names.domain, "suspended" if self.suspend else "active")
        yield StepEvent("done", "registry", "suspended" if self.suspend else "active")

    def verify(self) -> Verdict:
        inner = self.maintenance.verify()
        record = self.registry.get(self.names.domain)
        wanted = "suspended" if self.suspend else "active"
        ok = inner.ok and record is not None and record.state == wanted
        return Verdict(ok, f"{self.names.domain}: {record.state if record else 'absent'}; "
                           f"{inner.summary}", inner.details)
