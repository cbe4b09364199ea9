"""Traefik's API (read-only): version, overview and HTTP routers."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from wpfarm_tui.inventory import TraefikEndpoint


class TraefikClient:
    def __init__(self, endpoint: TraefikEndpoint):
        # Kept open: a new httpx.Client costs ~30 ms (TLS context), more than the requests.
        self._http = httpx.Client(base_url=endpoint.api, timeout=endpoint.timeout)
        self._metrics_url = endpoint.metrics

    def close(self) -> None:
        self._http.close()

    def ping_error(self) -> str | None:
        """None when Traefik answers its /ping, else why not."""
        try:
            response = self._http.get("/ping")
        except httpx.HTTPError as exc:
            return f"traefik /ping: {(str(exc) or type(exc).__name__).splitlines()[0][:160]}"
        if response.status_code != 200:
            return f"traefik /ping: HTTP {response.status_code}"
        return None

    def _get(self, path: str) -> Any:
        response = self._http.get(path)
        response.raise_for_status()
        return response.json()

    def router_counters(self) -> dict[str, dict[str, float]]:
        """Per router, its counters from Traefik's Prometheus metrics (empty when the
        endpoint configures none): requests, 4xx, 5xx, duration sum/count, and the
        cumulative latency buckets as "le:<seconds>"."""
        if not self._metrics_url:
            return {}
        response = self._http.get(self._metrics_url)
        response.raise_for_status()
        return parse_router_counters(response.text)

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": self._get("/api/version"),
            "overview": self._get("/api/overview"),
            "routers": self._get("/api/http/routers"),
        }


def parse_router_counters(text: str) -> dict[str, dict[str, float]]:
    """traefik_router_* samples summed per router over codes, methods and protocols."""
    out: dict[str, dict[str, float]] = {}
    # Only the router families go to the parser: the rest (Go runtime, entry points,
    # services) is most of the text and of the parse time, every poll.
    routers = "\n".join(line for line in text.splitlines()
                        if line.startswith(("traefik_router_", "# HELP traefik_router_",
                                            "# TYPE traefik_router_")))
    for family in text_string_to_metric_families(routers + "\n"):
        if not family.name.startswith("traefik_router_"):
            continue
        for sample in family.samples:
            router = sample.labels.get("router")
            if not router:
                continue
            c = out.setdefault(router, {})

            def add(key: str, value: float, c: dict[str, float] = c) -> None:
                c[key] = c.get(key, 0.0) + value

            if sample.name == "traefik_router_requests_total":
                add("requests", sample.value)
                code = sample.labels.get("code", "")
                if code.startswith(("4", "5")):
                    add(f"{code[0]}xx", sample.value)
            elif sample.name == "traefik_router_request_duration_seconds_sum":
                add("duration_sum", sample.value)
            elif sample.name == "traefik_router_request_duration_seconds_count":
                add("duration_count", sample.value)
            elif sample.name == "traefik_router_request_duration_seconds_bucket":
                add(f"le:{sample.labels.get('le', '+Inf')}", sample.value)
    return out
