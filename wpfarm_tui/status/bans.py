"""CrowdSec pane: the active decisions from the Local API."""

from __future__ import annotations

import dataclasses
from typing import Any

from wpfarm_tui.farm.crowdsec import CrowdSecClient
from wpfarm_tui.inventory import CrowdSecEndpoint
from wpfarm_tui.status.base import probe
from wpfarm_tui.status.model import Ban, BansSnapshot, SourceHealth
from wpfarm_tui.status.rates import MINUTE, GraphSeries, Histories
from wpfarm_tui.status.texts import go_duration_text


def ban_from_decision(raw: dict[str, Any]) -> Ban:
    return Ban(
        id=int(raw.get("id", 0)), value=str(raw.get("value", "")), scope=str(raw.get("scope", "")),
        type=str(raw.get("type", "")), origin=str(raw.get("origin", "")),
        reason=str(raw.get("scenario", "")),
        # "3h59m12.123456789s" as the LAPI says it; "3h59m" as an operator reads it.
        expires_in=go_duration_text(str(raw.get("duration", ""))),
    )


class BansCollector:
    pane = "bans"

    def __init__(self, endpoint: CrowdSecEndpoint | None):
        self.endpoint = endpoint
        self._client = CrowdSecClient(endpoint) if endpoint else None
        # New decisions per minute: ids never seen before, counted into a running total
        # whose rate over the minute is the figure (the first poll only learns the ids).
        self._seen: set[int] = set()
        self._new_total = 0
        self.history = Histories()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def graphs(self) -> list[GraphSeries]:
        return [GraphSeries("new decisions", "/min",
                            self.history.rate_series("crowdsec", "new_decisions", 60.0))]

    def collect(self) -> BansSnapshot:
        if self.endpoint is None:
            return BansSnapshot((SourceHealth("crowdsec", "disabled", "no endpoints.crowdsec"),))
        assert self._client is not None
        raw, health = probe("crowdsec", self._client.decisions, self.endpoint.timeout)
        if raw is None:
            return BansSnapshot((health,))
        bans = sorted((ban_from_decision(d) for d in raw), key=lambda b: -b.id)
        ids = {b.id for b in bans}
        if self.history.history("crowdsec", "new_decisions") is not None:
            self._new_total += len(ids - self._seen)
        self._seen = ids  # expired ones drop out: memory follows the active decisions
        self.history.record("crowdsec", {"new_decisions": self._new_total})
        per_minute = self.history.rate("crowdsec", "new_decisions", MINUTE)
        if per_minute.value is not None:
            per_minute = dataclasses.replace(per_minute, value=per_minute.value * 60)
        return BansSnapshot((health,), tuple(bans), new_per_minute=per_minute)
