"""MariaDB Galera over pymysql: the wsrep status of one node, and small queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pymysql

from wpfarm_tui.inventory import GaleraEndpoint, HostPort


@contextmanager
def connect(endpoint: GaleraEndpoint, node: HostPort, database: str | None = None
            ) -> Iterator[pymysql.connections.Connection]:
    password = endpoint.password.reveal() if endpoint.password else ""
    conn = pymysql.connect(
        host=node.host, port=node.port, user=endpoint.user, password=password,
        database=database, connect_timeout=endpoint.timeout, read_timeout=endpoint.timeout,
        write_timeout=endpoint.timeout, autocommit=True,
    )
    try:
        yield conn
    finally:
        conn.close()


def node_status(endpoint: GaleraEndpoint, node: HostPort) -> dict[str, str]:
    """wsrep_* status, connection counts and max_connections of one node, as strings."""
    with connect(endpoint, node) as conn, conn.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS WHERE Variable_name LIKE 'wsrep%%' "
                    "OR Variable_name IN ('Threads_connected', 'Uptime')")
        status = {str(k).lower(): str(v) for k, v in cur.fetchall()}
        cur.execute("SELECT @@max_connections")
        row = cur.fetchone()
        status["max_connections"] = str(row[0]) if row else "0"
        return status


def query(endpoint: GaleraEndpoint, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    """Run one read query on the first node that answers (Galera is multi-master)."""
    last: Exception | None = None
    for node in endpoint.nodes:
        try:
            with connect(endpoint, node) as conn, conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        except pymysql.err.OperationalError as exc:
            last = exc  # this node is down: try the next one
    assert last is not None
    raise last
