"""Edge pane: Traefik's routers and its own count of services in error."""

from __future__ import annotations

from typing import Any

from wpfarm_tui.farm.traefik import TraefikClient
from wpfarm_tui.inventory import TraefikEndpoint
from wpfarm_tui.status.base import probe
from wpfarm_tui.status.model import EdgeSnapshot, Router, SourceHealth


def router_from_api(raw: dict[str, Any]) -> Router:
    errors = raw.get("error") or []
    return Router(
        name=str(raw.get("name", "")), rule=str(raw.get("rule", "")),
        service=str(raw.get("service", "")), entrypoints=tuple(raw.get("entryPoints") or ()),
        status=str(raw.get("status", "")), provider=str(raw.get("provider", "")),
        error="; ".join(map(str, errors)) if errors else None,
    )


class EdgeCollector:
    pane = "edge"
    title = "Edge"

    def __init__(self, endpoint: TraefikEndpoint | None):
        self.endpoint = endpoint
        self._client = TraefikClient(endpoint) if endpoint else None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def collect(self) -> EdgeSnapshot:
        if self.endpoint is None:
            return EdgeSnapshot((SourceHealth("traefik", "disabled", "no endpoints.traefik"),))
        assert self._client is not None
        raw, health = probe("traefik", self._client.snapshot, self.endpoint.timeout)
        if raw is None:
            return EdgeSnapshot((health,))
        services = raw["overview"].get("http", {}).get("services", {})
        routers = tuple(sorted((router_from_api(r) for r in raw["routers"]),
                               key=lambda r: r.name))
        return EdgeSnapshot((health,), routers, services.get("total"), services.get("errors"),
                            raw["version"].get("Version"))
