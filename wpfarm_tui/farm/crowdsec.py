"""CrowdSec's Local API, as a bouncer sees it."""

from __future__ import annotations

from typing import Any

import httpx

from wpfarm_tui.inventory import CrowdSecEndpoint


class CrowdSecClient:
    def __init__(self, endpoint: CrowdSecEndpoint):
        self.endpoint = endpoint
        # Kept open: a new httpx.Client costs ~30 ms (TLS context), more than the request.
        self._http = httpx.Client(base_url=endpoint.lapi, timeout=endpoint.timeout)

    def decisions(self) -> list[dict[str, Any]]:
        """Active decisions (GET /v1/decisions with the bouncer's X-Api-Key)."""
        response = self._http.get("/v1/decisions",
                                  headers={"X-Api-Key": self.endpoint.bouncer_key.reveal()})
        if response.status_code == 403:
            raise PermissionError(f"LAPI refused the bouncer key {self.endpoint.bouncer_key} (403)")
        response.raise_for_status()
        return response.json() or []  # the LAPI answers `null` when there are none
