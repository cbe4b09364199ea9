"""The alert thresholds of the architecture's monitoring table, in one place.

Every pane colours its values through `Threshold.level`, so a farm.yaml
override changes the pane, the CLI exit code and the status bar together.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Level(IntEnum):
    """Severity of a value or a source; ordered so max() gives the worst."""

    OK = 0
    UNKNOWN = 1  # no data yet, or a metric the source does not report
    WARNING = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Threshold:
    warning: float
    critical: float
    higher_is_worse: bool = True
    unit: str = ""

    def level(self, value: float | None) -> Level:
        if value is None:
            return Level.UNKNOWN
        if self.higher_is_worse:
            if value > self.critical:
                return Level.CRITICAL
            if value > self.warning:
                return Level.WARNING
            return Level.OK
        if value < self.critical:
            return Level.CRITICAL
        if value < self.warning:
            return Level.WARNING
        return Level.OK


# Names are what farm.yaml's `thresholds:` section accepts.
DEFAULT_THRESHOLDS: dict[str, Threshold] = {
    "cpu": Threshold(70, 90, unit="%"),
    "memory": Threshold(75, 90, unit="%"),
    "disk": Threshold(70, 85, unit="%"),
    "bandwidth": Threshold(70, 90, unit="%"),
    "connection_count": Threshold(5000, 8000),
    "response_time_ms": Threshold(500, 2000, unit="ms"),
    "error_rate": Threshold(1, 5, unit="%"),
    "errors_5xx_per_min": Threshold(10, 50),
    "db_connections": Threshold(80, 95, unit="%"),
    "replication_lag_s": Threshold(1, 5, unit="s"),
    "query_time_s": Threshold(1, 5, unit="s"),
    "cache_hit_ratio": Threshold(80, 60, higher_is_worse=False, unit="%"),
    "cache_memory": Threshold(80, 95, unit="%"),
    # Not in the table: Galera's flow control is the cluster-wide form of
    # replication lag; a node paused 10 % of the time is already slowing writes.
    "galera_flow_control_paused": Threshold(10, 50, unit="%"),
    # Not in the table either: its disk usage row says how full, this one how soon (days
    # until a filesystem is full at its rate of the last 6 hours; predict_linear).
    "disk_days_until_full": Threshold(7, 2, higher_is_worse=False, unit=" days"),
}


# The architecture's backup RPO (< 1 h per site): a database backup older than this is late.
BACKUP_RPO_S = 3600.0


def site_backup_level(age_s: float | None, state: str) -> Level:
    """A site's last database backup as the Sites pane colours it (the Backups pane has
    the detail): past the RPO a warning; never backed up (None), critical for an active
    site."""
    if age_s is None:
        return Level.CRITICAL if state == "active" else Level.UNKNOWN
    return Level.WARNING if age_s > BACKUP_RPO_S else Level.OK


def worst(levels: list[Level] | tuple[Level, ...]) -> Level:
    return max(levels, default=Level.OK)
