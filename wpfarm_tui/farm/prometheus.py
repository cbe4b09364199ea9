"""A Prometheus-compatible query API (Prometheus itself, or Mimir's /prometheus): instant
and range queries, and the alerts its rules fire. Read-only.

No retries here: the console polls again at its next refresh, and a retry hidden in a
client would make a source that is down look slow instead (status/base.py says which)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx

from wpfarm_tui.inventory import MetricsEndpoint


class PrometheusError(Exception):
    """The API answered with an error (a bad query, a tenant it does not know...)."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float  # NaN and ±Inf as Prometheus sends them


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: tuple[tuple[float, float], ...]  # (unix time, value)


@dataclass(frozen=True)
class FiringAlert:
    name: str  # the rule's alertname
    state: str  # firing | pending
    labels: dict[str, str]
    summary: str  # the summary (or description) annotation, else the alertname
    active_at: str  # RFC 3339, as the API gives it


def range_step(window_s: float, width: int) -> float:
    """A graph's step: one point per column of its widget, never below a second."""
    return max(1.0, window_s / max(1, width))


def _number(text: str) -> float:
    try:
        return float(text)  # "NaN", "+Inf" and "-Inf" parse too
    except ValueError:
        return math.nan


class PrometheusClient:
    def __init__(self, endpoint: MetricsEndpoint):
        headers = {}
        if endpoint.tenant:
            headers["X-Scope-OrgID"] = endpoint.tenant
        auth: httpx.Auth | None = None
        if endpoint.token is not None:
            # Read at connect, kept in the client only: never in a log or an error text.
            headers["Authorization"] = f"Bearer {endpoint.token.reveal()}"
        elif endpoint.user and endpoint.password is not None:
            auth = httpx.BasicAuth(endpoint.user, endpoint.password.reveal())
        # Kept open between polls (a new client costs a TLS context); the timeout covers
        # connect and read alike, so a server that hangs is a timeout within one refresh.
        self._http = httpx.Client(base_url=endpoint.url, timeout=endpoint.timeout,
                                  headers=headers, auth=auth)

    def close(self) -> None:
        self._http.close()

    def _api(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = self._http.get(path, params=params)
        try:
            body = response.json()
        except ValueError:
            response.raise_for_status()
            raise PrometheusError(f"{path}: not a Prometheus API answer "
                                  f"(HTTP {response.status_code})") from None
        if body.get("status") != "success":
            raise PrometheusError(f"{body.get('errorType', 'error')}: "
                                  f"{body.get('error', f'HTTP {response.status_code}')}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """An instant query: one value per series (an instant vector or a scalar)."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._api("/api/v1/query", params)
        if data["resultType"] in ("scalar", "string"):
            return [Sample({}, _number(data["result"][1]))]
        if data["resultType"] != "vector":
            raise PrometheusError(f"{expr}: a {data['resultType']}, not an instant vector")
        return [Sample(r["metric"], _number(r["value"][1])) for r in data["result"]]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        """A range query from start to end (unix seconds), one point per step seconds (for a
        graph: `range_step(window, width)`)."""
        data = self._api("/api/v1/query_range", {
            "query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"})
        return [Series(r["metric"], tuple((float(t), _number(v)) for t, v in r["values"]))
                for r in data["result"]]

    def alerts(self) -> list[FiringAlert]:
        """Every alert its rules hold now, firing or pending (Mimir: the ruler's)."""
        data = self._api("/api/v1/alerts")
        out = []
        for a in data.get("alerts", []):
            labels = dict(a.get("labels", {}))
            notes = a.get("annotations", {})
            name = labels.get("alertname", "?")
            out.append(FiringAlert(name, a.get("state", "?"), labels,
                                   notes.get("summary") or notes.get("description") or name,
                                   a.get("activeAt", "")))
        return out

    def rules(self) -> list[dict[str, Any]]:
        """The rule groups it evaluates (each with its rules, their health and last error)."""
        return list(self._api("/api/v1/rules").get("groups", []))
