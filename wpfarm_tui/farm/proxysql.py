"""ProxySQL's admin interface (MySQL protocol, port 6032): the site users it forwards.

WordPress connects to ProxySQL (proxysql:6033), which only lets through users it has in
`mysql_users`: a site's own Galera user must be added there too, or the site cannot log
in. Changes go to MEMORY, then RUNTIME (in effect) and DISK (kept across restarts);
the ProxySQL cluster (proxysql_servers) copies them to the other instances.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pymysql

from wpfarm_tui.inventory import ProxySQLEndpoint

SITES_HOSTGROUP = 10  # the writer hostgroup of proxysql.cnf (mysql_servers)


def connect(endpoint: ProxySQLEndpoint) -> Any:
    return pymysql.connect(
        host=endpoint.host, port=endpoint.port, user=endpoint.user,
        password=endpoint.password.reveal() if endpoint.password else "",
        connect_timeout=endpoint.timeout, read_timeout=endpoint.timeout,
        write_timeout=endpoint.timeout, autocommit=True)


class ProxySQLAdmin:
    def __init__(self, endpoint: ProxySQLEndpoint,
                 connector: Callable[[ProxySQLEndpoint], Any] = connect):
        self.endpoint = endpoint
        self.connector = connector

    def _apply(self, statements: list[tuple[str, list[Any] | None]]) -> None:
        conn = self.connector(self.endpoint)
        try:
            with conn.cursor() as cur:
                for sql, args in statements:
                    cur.execute(sql, args)
                cur.execute("LOAD MYSQL USERS TO RUNTIME")
                cur.execute("SAVE MYSQL USERS TO DISK")
        finally:
            conn.close()

    def has_user(self, user: str) -> bool:
        conn = self.connector(self.endpoint)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM mysql_users WHERE username = %s", [user])
                row = cur.fetchone()
                return bool(row and row[0])
        finally:
            conn.close()

    def upsert_user(self, user: str, password: str,
                    hostgroup: int = SITES_HOSTGROUP) -> bool:
        """Add the user (or set its password); True when it was not there before."""
        new = not self.has_user(user)
        # REPLACE: ProxySQL's mysql_users is keyed by (username, backend, frontend).
        self._apply([("REPLACE INTO mysql_users (username, password, default_hostgroup, "
                      "transaction_persistent, active) VALUES (%s, %s, %s, 1, 1)",
                      [user, password, hostgroup])])
        return new

    def remove_user(self, user: str) -> bool:
        if not self.has_user(user):
            return False
        self._apply([("DELETE FROM mysql_users WHERE username = %s", [user])])
        return True
