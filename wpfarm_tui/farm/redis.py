"""Redis and Redis Sentinel over redis-py."""

from __future__ import annotations

from typing import Any

import redis

from wpfarm_tui.inventory import HostPort, RedisEndpoint


def _client(endpoint: RedisEndpoint, node: HostPort, with_password: bool = True) -> redis.Redis:
    password = endpoint.password.reveal() if (endpoint.password and with_password) else None
    return redis.Redis(
        host=node.host, port=node.port, password=password, socket_timeout=endpoint.timeout,
        socket_connect_timeout=endpoint.timeout, decode_responses=True,
    )


def info(endpoint: RedisEndpoint, node: HostPort) -> dict[str, Any]:
    """INFO of one instance (stats, memory, replication, clients, server)."""
    client = _client(endpoint, node)
    try:
        return client.info()
    finally:
        client.close()


def sentinel_master(endpoint: RedisEndpoint, sentinel: HostPort) -> dict[str, Any]:
    """What one Sentinel knows of the farm's master (SENTINEL MASTER <name>)."""
    # Sentinels usually run without the data password.
    client = _client(endpoint, sentinel, with_password=False)
    try:
        return client.sentinel_master(endpoint.master_name)
    finally:
        client.close()
