"""Edge pane: Traefik's routers and its own count of services in error."""

from __future__ import annotations

import dataclasses
from typing import Any

from wpfarm_tui.farm.traefik import TraefikClient
from wpfarm_tui.inventory import TraefikEndpoint
from wpfarm_tui.status.base import probe
from wpfarm_tui.status.model import EdgeSnapshot, Router, SourceHealth
from wpfarm_tui.status.rates import MINUTE, Histories, histogram_quantile


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

    def __init__(self, endpoint: TraefikEndpoint | None):
        self.endpoint = endpoint
        self._client = TraefikClient(endpoint) if endpoint else None
        self.history = Histories()  # per-router counters from Traefik's metrics

    def _with_rates(self, router: Router) -> Router:
        key = ("router", router.name)
        if self.history.history(key, "requests") is None:
            return router
        h = self.history
        total = h.delta(key, "duration_count", MINUTE)
        spent = h.delta(key, "duration_sum", MINUTE)
        mean = (1000.0 * spent.value / total.value
                if total.value and spent.value is not None else None)
        buckets = []
        for name in [n for n in h.names(key) if n.startswith("le:")]:
            d = h.delta(key, name, MINUTE)
            if d.value is not None:
                buckets.append((float(name[3:]), d.value))
        p95 = histogram_quantile(0.95, buckets)
        return dataclasses.replace(
            router, requests_per_s=h.rate(key, "requests"),
            errors_4xx_per_s=h.rate(key, "4xx"), errors_5xx_per_s=h.rate(key, "5xx"),
            latency_ms_1m=mean, p95_ms_1m=None if p95 is None else 1000.0 * p95)

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
        sources = (health,)
        if self.endpoint.metrics:
            counters, metrics_health = probe("traefik-metrics", self._client.router_counters,
                                             self.endpoint.timeout)
            sources = (health, metrics_health)
            for router, values in (counters or {}).items():
                # Counters that appear only after a router's first 4xx start at 0.
                self.history.record(("router", router),
                                    {"4xx": 0.0, "5xx": 0.0, **values})
        services = raw["overview"].get("http", {}).get("services", {})
        routers = tuple(sorted((self._with_rates(router_from_api(r)) for r in raw["routers"]),
                               key=lambda r: r.name))
        return EdgeSnapshot(sources, routers, services.get("total"), services.get("errors"),
                            raw["version"].get("Version"))
