"""What the traffic figures are (plain, frozen): one site or the farm over a window,
with its series and top lists. Apart from status/traffic.py so that the snapshots'
module (status/model.py) can carry them without importing the follower."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wpfarm_tui.status.thresholds import DEFAULT_THRESHOLDS, Level, Threshold, worst

if TYPE_CHECKING:
    from collections.abc import Mapping

    from wpfarm_tui.status.model import SourceHealth

# The architecture's target is about visitors: TTFB p95 < 200 ms. Past it a site warns;
# past the `response_time_ms` critical threshold it is critical.
TTFB_P95_TARGET_MS = 200.0


def traffic_p95_level(p95_ms: float | None, thresholds: Mapping[str, Threshold]) -> Level:
    if p95_ms is None:
        return Level.UNKNOWN
    critical = (thresholds.get("response_time_ms") or DEFAULT_THRESHOLDS["response_time_ms"])
    if p95_ms > critical.critical:
        return Level.CRITICAL
    return Level.WARNING if p95_ms > TTFB_P95_TARGET_MS else Level.OK


@dataclass(frozen=True)
class TrafficFigures:
    """One site (or the farm) over one window."""

    requests: int
    rps: float
    hit_pct: float | None  # of the requests a cache answered (HIT / MISS / PASS)
    miss_pct: float | None
    pass_pct: float | None
    s4_pct: float | None
    s5_pct: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    bytes_s: float
    level: Level = Level.UNKNOWN


@dataclass(frozen=True)
class SiteTraffic:
    host: str
    m1: TrafficFigures
    m5: TrafficFigures
    rps_series: tuple[float, ...] = ()  # requests/s per slot, oldest first (sparklines)
    p95_series: tuple[float | None, ...] = ()
    s5_series: tuple[int, ...] = ()
    top_paths: tuple[tuple[str, int], ...] = ()
    top_status: tuple[tuple[int, int], ...] = ()
    top_clients: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class TrafficSnapshot:
    source: SourceHealth
    farm: SiteTraffic
    sites: dict[str, SiteTraffic] = field(default_factory=dict)
    probes_excluded: int = 0
    lines: int = 0

    @property
    def level(self) -> Level:
        return worst([self.source.level, self.farm.m1.level])
