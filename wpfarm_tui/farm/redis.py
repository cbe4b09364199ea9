"""Redis and Redis Sentinel over redis-py."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from wpfarm_tui.inventory import HostPort, RedisEndpoint


def _client(endpoint: RedisEndpoint, node: HostPort, with_password: bool = True) -> redis.Redis:
    password = endpoint.password.reveal() if (endpoint.password and with_password) else None
    # One attempt: redis-py retries a refused connection three times with backoff by default
    # (3.3 s before a stopped server is seen down); the poll loop is the retry.
    return redis.Redis(
        host=node.host, port=node.port, password=password, socket_timeout=endpoint.timeout,
        socket_connect_timeout=endpoint.timeout, decode_responses=True,
        retry=Retry(NoBackoff(), 0),
    )


def info(endpoint: RedisEndpoint, node: HostPort) -> dict[str, Any]:
    """INFO of one instance (stats, memory, replication, clients, server)."""
    client = _client(endpoint, node)
    try:
        return client.info()
    finally:
        client.close()


class RedisClients:
    """One client per instance and per Sentinel, kept between polls: a fresh one costs a
    TCP connect and a HELLO handshake every poll (at a 1 s refresh, five sources, the
    largest share of the Caches pane's CPU). redis-py drops a connection whose call fails
    and opens a new one on the next call, still with one attempt (see _client). Used by
    one poll thread per node at a time; `close()` lets go of every connection."""

    def __init__(self, endpoint: RedisEndpoint) -> None:
        self.endpoint = endpoint
        self._clients: dict[tuple[str, int, bool], redis.Redis] = {}
        self._lock = threading.Lock()

    def _client(self, node: HostPort, with_password: bool = True) -> redis.Redis:
        key = (node.host, node.port, with_password)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = _client(self.endpoint, node, with_password)
            return client

    def info(self, node: HostPort) -> dict[str, Any]:
        """INFO of one instance, as `info` below."""
        return self._client(node).info()

    def sentinel_master(self, sentinel: HostPort) -> dict[str, Any]:
        """SENTINEL MASTER <name> of one Sentinel, as `sentinel_master` below."""
        return self._client(sentinel, with_password=False).sentinel_master(
            self.endpoint.master_name)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(Exception):  # a dead socket must not keep the others
                client.close()


def console_address(endpoint: RedisEndpoint, farm_address: str) -> str:
    """The address the console reaches an instance by, for the one the farm names it by
    (Sentinel's answer, INFO's master_host:master_port): on a Swarm Sentinel says
    "redis-cache-2:6379", an overlay name the bastion cannot resolve."""
    found = next((i for i in endpoint.instances if i.farm_address == farm_address), None)
    return found.address if found else farm_address


def master_address(endpoint: RedisEndpoint, master: dict[str, Any]) -> str:
    """The console's address of the master one Sentinel names (SENTINEL MASTER's ip, port)."""
    return console_address(endpoint, f"{master.get('ip')}:{master.get('port')}")


def sentinel_master(endpoint: RedisEndpoint, sentinel: HostPort) -> dict[str, Any]:
    """What one Sentinel knows of the farm's master (SENTINEL MASTER <name>)."""
    # Sentinels usually run without the data password.
    client = _client(endpoint, sentinel, with_password=False)
    try:
        return client.sentinel_master(endpoint.master_name)
    finally:
        client.close()


def current_master(endpoint: RedisEndpoint) -> HostPort:
    """The master as the first answering Sentinel names it (SENTINEL GET-MASTER-ADDR-BY-NAME),
    as a HostPort of the inventory when it is one of endpoint.instances."""
    last: Exception | None = None
    for sentinel in endpoint.sentinels:
        client = _client(endpoint, sentinel, with_password=False)
        try:
            host, port = client.sentinel_get_master_addr_by_name(endpoint.master_name)
        except redis.RedisError as exc:
            last = exc
            continue
        finally:
            client.close()
        found = next((i for i in endpoint.instances
                      if i.farm_address == f"{host}:{int(port)}"), None)
        return found or HostPort(f"{host}:{port}", host, int(port))
    raise ConnectionError(f"no Sentinel answered: {last}")


def failover(endpoint: RedisEndpoint, sentinel: HostPort) -> None:
    """SENTINEL FAILOVER <master>: promote a replica without asking the other Sentinels."""
    client = _client(endpoint, sentinel, with_password=False)
    try:
        client.execute_command("SENTINEL", "FAILOVER", endpoint.master_name)
    finally:
        client.close()


def unlink_prefix(endpoint: RedisEndpoint, node: HostPort, prefix: str, batch: int = 500) -> int:
    """Delete every key starting with `prefix` (SCAN + UNLINK, never KEYS); how many."""
    client = _client(endpoint, node)
    pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in prefix) + "*"
    removed = 0
    try:
        keys: list[str] = []
        for key in client.scan_iter(match=pattern, count=batch):
            keys.append(key)
            if len(keys) >= batch:
                removed += int(client.unlink(*keys))
                keys.clear()
        if keys:
            removed += int(client.unlink(*keys))
    finally:
        client.close()
    return removed
