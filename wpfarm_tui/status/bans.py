"""CrowdSec pane: the active decisions from the Local API."""

from __future__ import annotations

from typing import Any

from wpfarm_tui.farm.crowdsec import CrowdSecClient
from wpfarm_tui.inventory import CrowdSecEndpoint
from wpfarm_tui.status.base import probe
from wpfarm_tui.status.model import Ban, BansSnapshot, SourceHealth


def ban_from_decision(raw: dict[str, Any]) -> Ban:
    return Ban(
        id=int(raw.get("id", 0)), value=str(raw.get("value", "")), scope=str(raw.get("scope", "")),
        type=str(raw.get("type", "")), origin=str(raw.get("origin", "")),
        reason=str(raw.get("scenario", "")), expires_in=str(raw.get("duration", "")),
    )


class BansCollector:
    pane = "bans"
    title = "CrowdSec"

    def __init__(self, endpoint: CrowdSecEndpoint | None):
        self.endpoint = endpoint
        self._client = CrowdSecClient(endpoint) if endpoint else None

    def collect(self) -> BansSnapshot:
        if self.endpoint is None:
            return BansSnapshot((SourceHealth("crowdsec", "disabled", "no endpoints.crowdsec"),))
        assert self._client is not None
        raw, health = probe("crowdsec", self._client.decisions, self.endpoint.timeout)
        if raw is None:
            return BansSnapshot((health,))
        bans = sorted((ban_from_decision(d) for d in raw), key=lambda b: -b.id)
        return BansSnapshot((health,), tuple(bans))
