"""CrowdSec's Local API, as a bouncer sees it."""

from __future__ import annotations

from typing import Any

import httpx

from wpfarm_tui.inventory import CrowdSecEndpoint


def decisions(endpoint: CrowdSecEndpoint) -> list[dict[str, Any]]:
    """Active decisions (GET /v1/decisions with the bouncer's X-Api-Key)."""
    response = httpx.get(
        f"{endpoint.lapi}/v1/decisions",
        headers={"X-Api-Key": endpoint.bouncer_key.reveal()},
        timeout=endpoint.timeout,
    )
    if response.status_code == 403:
        raise PermissionError(f"LAPI refused the bouncer key {endpoint.bouncer_key} (403)")
    response.raise_for_status()
    return response.json() or []  # the LAPI answers `null` when there are none
