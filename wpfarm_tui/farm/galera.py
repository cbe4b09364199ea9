"""MariaDB Galera over pymysql: the wsrep status of each node, and small queries.

Connections are kept between polls (a fresh connection costs 25-35 ms of
handshake per node); one that fails is dropped and reopened on the next call.
A `GaleraConnections` is used by one poll at a time, one thread per node, and
closed by whoever made it (it is a context manager; a closed one reopens on
its next query). `GaleraPool` lends a bounded number of them to threads, so a
long run (a bulk create of 500 sites) holds as many connections as it has
workers, not one per site.
"""

from __future__ import annotations

import contextlib
import queue
import ssl
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pymysql

from wpfarm_tui.inventory import GaleraEndpoint, HostPort


class _Connection(pymysql.connections.Connection):
    """pymysql's connection, with one TLS context for its default "preferred" mode (TLS
    when the server offers it, unverified): pymysql builds a new one per connection, which
    reads the system's CA store (~25 ms of CPU), on every attempt to reach a node that is
    down, every poll. The context holds no per-connection state."""

    _preferred: ClassVar[ssl.SSLContext | None] = None

    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
        if sslp != {}:  # options given: pymysql's own handling, as before
            return super()._create_ssl_ctx(sslp)
        if _Connection._preferred is None:
            _Connection._preferred = super()._create_ssl_ctx({})
        return _Connection._preferred


def connect(endpoint: GaleraEndpoint, node: HostPort, database: str | None = None
            ) -> pymysql.connections.Connection:
    password = endpoint.password.reveal() if endpoint.password else ""
    return _Connection(
        host=node.host, port=node.port, user=endpoint.user, password=password,
        database=database, connect_timeout=endpoint.timeout, read_timeout=endpoint.timeout,
        write_timeout=endpoint.timeout, autocommit=True,
    )


class GaleraConnections:
    def __init__(self, endpoint: GaleraEndpoint):
        self.endpoint = endpoint
        self._open: dict[str, pymysql.connections.Connection] = {}

    def _run(self, node: HostPort, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        conn = self._open.get(node.name)
        if conn is None:
            conn = self._open[node.name] = connect(self.endpoint, node)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        except Exception:
            self._open.pop(node.name, None)
            with contextlib.suppress(Exception):  # the connection is already broken
                conn.close()
            raise

    def node_status(self, node: HostPort) -> dict[str, str]:
        """wsrep_* status, connection counts and max_connections of one node, as strings."""
        rows = self._run(node, "SHOW GLOBAL STATUS WHERE Variable_name LIKE 'wsrep%%' "
                               "OR Variable_name IN ('Threads_connected', 'Uptime')")
        status = {str(k).lower(): str(v) for k, v in rows}
        status["max_connections"] = str(self._run(node, "SELECT @@max_connections")[0][0])
        return status

    def query(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        """Run one read query on the first node that answers (Galera is multi-master)."""
        last: Exception | None = None
        for node in self.endpoint.nodes:
            try:
                return self._run(node, sql, args)
            except pymysql.err.MySQLError as exc:
                last = exc  # this node is down or not Primary: try the next one
        assert last is not None
        raise last

    def first_available(self) -> HostPort:
        """The first node that answers a query (for a new client to connect to)."""
        last: Exception | None = None
        for node in self.endpoint.nodes:
            try:
                self._run(node, "SELECT 1")
                return node
            except pymysql.err.MySQLError as exc:
                last = exc
        assert last is not None
        raise last

    def close(self) -> None:
        """Close every open connection (a broken one too); reopened on the next query."""
        while self._open:
            _name, conn = self._open.popitem()
            with contextlib.suppress(Exception):  # closing a dead socket must not hide others
                conn.close()

    @property
    def open_count(self) -> int:
        return len(self._open)

    def __enter__(self) -> GaleraConnections:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class GaleraPool:
    """At most `size` GaleraConnections, lent to one thread at a time and reused.

    A borrower blocks while all are lent out, so the number of connections is bounded by
    `size` times the nodes each one reaches (one while the first node answers)."""

    def __init__(self, endpoint: GaleraEndpoint, size: int):
        if size < 1:
            raise ValueError("size: at least 1")
        self.endpoint = endpoint
        self._idle: queue.LifoQueue[GaleraConnections] = queue.LifoQueue()
        self._made: list[GaleraConnections] = []
        self._size = size
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lease(self) -> Iterator[GaleraConnections]:
        db = self._take()
        try:
            yield db
        finally:
            self._idle.put(db)

    def _take(self) -> GaleraConnections:
        with self._lock:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                if len(self._made) < self._size:
                    db = GaleraConnections(self.endpoint)
                    self._made.append(db)
                    return db
        return self._idle.get()  # every one is lent out: wait for one back

    @property
    def open_count(self) -> int:
        return sum(db.open_count for db in self._made)

    def close(self) -> None:
        with self._lock:
            for db in self._made:
                db.close()

    def __enter__(self) -> GaleraPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
