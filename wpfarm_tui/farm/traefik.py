"""Traefik's API (read-only): version, overview and HTTP routers."""

from __future__ import annotations

from typing import Any

import httpx

from wpfarm_tui.inventory import TraefikEndpoint


def _get(client: httpx.Client, path: str) -> Any:
    response = client.get(path)
    response.raise_for_status()
    return response.json()


def snapshot(endpoint: TraefikEndpoint) -> dict[str, Any]:
    """version, overview and routers in one connection."""
    with httpx.Client(base_url=endpoint.api, timeout=endpoint.timeout) as client:
        return {
            "version": _get(client, "/api/version"),
            "overview": _get(client, "/api/overview"),
            "routers": _get(client, "/api/http/routers"),
        }
