"""Traefik's API (read-only): version, overview and HTTP routers."""

from __future__ import annotations

from typing import Any

import httpx

from wpfarm_tui.inventory import TraefikEndpoint


class TraefikClient:
    def __init__(self, endpoint: TraefikEndpoint):
        # Kept open: a new httpx.Client costs ~30 ms (TLS context), more than the requests.
        self._http = httpx.Client(base_url=endpoint.api, timeout=endpoint.timeout)

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str) -> Any:
        response = self._http.get(path)
        response.raise_for_status()
        return response.json()

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": self._get("/api/version"),
            "overview": self._get("/api/overview"),
            "routers": self._get("/api/http/routers"),
        }
