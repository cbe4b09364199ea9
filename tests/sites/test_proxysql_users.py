"""A site's database user in ProxySQL's mysql_users: added on create, removed on delete,
and a ProxySQL that refuses makes the create fail with everything it made undone.

ProxySQL is in no package registry reachable here (no Debian package, no PyPI wheel), so
its admin interface is played by `AdminStandIn`, which records the statements ProxySQL
would get; everything else (Galera, nginx, php-fpm, Traefik, Varnish) is the real lab."""

from __future__ import annotations

import pymysql
import pytest

from tests.sites.helpers import run
from wpfarm_tui.actions.site import CreateSite, DeleteSite
from wpfarm_tui.farm.proxysql import ProxySQLAdmin
from wpfarm_tui.inventory import ProxySQLEndpoint
from wpfarm_tui.sites.naming import names_for
from wpfarm_tui.sites.registry import Registry
from wpfarm_tui.sites.runtime import runtime_for

pytestmark = pytest.mark.lab
ENDPOINT = ProxySQLEndpoint("proxysql.invalid", 6032, "admin", None)


class AdminStandIn:
    """ProxySQL's admin interface as a table of users and a log of statements."""

    def __init__(self, refuse: bool = False):
        self.users: dict[str, str] = {}
        self.statements: list[str] = []
        self.refuse = refuse

    def __call__(self, _endpoint: ProxySQLEndpoint) -> AdminStandIn:
        if self.refuse:
            raise pymysql.err.OperationalError(2003, "Can't connect to ProxySQL admin")
        return self

    # The pymysql connection and cursor surface ProxySQLAdmin uses.
    def cursor(self) -> AdminStandIn:
        return self

    def __enter__(self) -> AdminStandIn:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def close(self) -> None:
        return None

    def execute(self, sql: str, args: list | None = None) -> None:
        self.statements.append(sql.split()[0] + (" " + sql.split()[1] if sql.startswith(
            ("LOAD", "SAVE")) else ""))
        if sql.startswith("SELECT COUNT(*) FROM mysql_users"):
            self._row = (int(args[0] in self.users),)
        elif sql.startswith("REPLACE INTO mysql_users"):
            self.users[args[0]] = args[1]
        elif sql.startswith("DELETE FROM mysql_users"):
            self.users.pop(args[0], None)

    def fetchone(self) -> tuple:
        return self._row


def test_admin_loads_to_runtime_and_saves_to_disk():
    stand_in = AdminStandIn()
    admin = ProxySQLAdmin(ENDPOINT, connector=stand_in)
    assert admin.upsert_user("wp_a", "pw1") is True
    assert admin.upsert_user("wp_a", "pw2") is False  # a re-run sets the password again
    assert stand_in.users == {"wp_a": "pw2"}
    assert stand_in.statements[-3:] == ["REPLACE", "LOAD MYSQL", "SAVE MYSQL"]
    assert admin.remove_user("wp_a") is True and admin.remove_user("wp_a") is False
    assert stand_in.users == {}


def test_create_adds_the_user_and_delete_removes_it(lab_farm, tmp_path, cleanup):
    runtime, host = runtime_for(lab_farm)
    stand_in = AdminStandIn()
    admin = ProxySQLAdmin(ENDPOINT, connector=stand_in)
    cleanup.append("proxied.lab.test")
    names = names_for("proxied.lab.test")
    events, verdict = run(CreateSite(lab_farm, runtime, names.domain, db_user_host=host,
                                     proxysql=admin), tmp_path)
    assert verdict.ok, [e for e in events if e.kind == "failed"]
    assert list(stand_in.users) == [names.db_user]
    assert any(e.step == "proxysql user" and e.kind == "done" for e in events)
    events, verdict = run(DeleteSite(lab_farm, runtime, names.domain, db_user_host=host,
                                     proxysql=admin), tmp_path, confirmed=True)
    assert verdict.ok and stand_in.users == {}


def test_a_refusing_proxysql_fails_the_create_and_undoes_it(lab_farm, tmp_path, cleanup):
    runtime, host = runtime_for(lab_farm)
    cleanup.append("refused.lab.test")
    names = names_for("refused.lab.test")
    admin = ProxySQLAdmin(ENDPOINT, connector=AdminStandIn(refuse=True))
    events, verdict = run(CreateSite(lab_farm, runtime, names.domain, db_user_host=host,
                                     proxysql=admin), tmp_path)
    assert not verdict.ok
    assert "Can't connect to ProxySQL admin" in verdict.summary
    undone = {e.step for e in events if e.kind == "done" and e.step.startswith("undo ")}
    assert {"undo register", "undo database", "undo database user"} <= undone, undone
    assert Registry(lab_farm.endpoints.galera).get(names.domain) is None
    assert not runtime.deployed(names)
