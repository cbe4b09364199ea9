"""The architecture's alert table as Prometheus/Mimir rule files, from the thresholds the
console colours its panes with (status/thresholds.py and farm.yaml `thresholds:`): one
source of truth. The farm's observability stack loads the rendered file into Mimir's ruler
(render.py), the loopback lab's Prometheus loads it as it is (lab/metrics.py), and
`promtool check rules` / `promtool test rules` check it in the tests.

Each rule carries the label `threshold: <name>`: the console matches a firing rule to its
own check of the same threshold (status/alerts.py) and shows the incident once."""

from __future__ import annotations

from collections.abc import Mapping

import yaml

from wpfarm_tui.farm import node_exporter as node
from wpfarm_tui.status.thresholds import Threshold

#: PromQL for each threshold of the console's table (status/thresholds.py), in the unit of
#: the threshold. A threshold without an expression here is reported by render_farm.
ALERT_EXPRESSIONS: dict[str, tuple[str, str]] = {
    "cpu": (node.CPU_PCT, "CPU usage on {{ $labels.instance }}"),
    "memory": (node.MEMORY_PCT, "Memory usage on {{ $labels.instance }}"),
    "disk": (node.DISK_PCT, "Disk usage of {{ $labels.mountpoint }} on {{ $labels.instance }}"),
    "disk_days_until_full": (node.DAYS_UNTIL_FULL,
                             "Days until {{ $labels.mountpoint }} on {{ $labels.instance }} "
                             "is full"),
    "bandwidth": (node.BANDWIDTH_PCT,
                  "Bandwidth of {{ $labels.device }} on {{ $labels.instance }}"),
    "connection_count": ("sum by (instance) (traefik_open_connections)",
                         "Open connections on Traefik {{ $labels.instance }}"),
    "response_time_ms": ("1000 * histogram_quantile(0.95, sum by (le, service) "
                         "(rate(traefik_service_request_duration_seconds_bucket[5m])))",
                         "P95 response time of {{ $labels.service }}"),
    "error_rate": ("100 * sum by (service) "
                   "(rate(traefik_service_requests_total{code=~\"5..\"}[5m]))"
                   " / sum by (service) (rate(traefik_service_requests_total[5m]))",
                   "Error rate of {{ $labels.service }}"),
    "errors_5xx_per_min": ("60 * sum by (service) "
                           "(rate(traefik_service_requests_total{code=~\"5..\"}[5m]))",
                           "5xx per minute on {{ $labels.service }}"),
    "db_connections": ("100 * mysql_global_status_threads_connected"
                       " / mysql_global_variables_max_connections",
                       "Database connections on {{ $labels.instance }}"),
    "replication_lag_s": ("mysql_galera_evs_repl_latency_avg_seconds",
                          "Galera replication latency on {{ $labels.instance }}"),
    "query_time_s": ("sum by (instance) "
                     "(rate(mysql_perf_schema_events_statements_seconds_total[5m]))"
                     " / clamp_min(sum by (instance) "
                     "(rate(mysql_perf_schema_events_statements_total[5m])), 1)",
                     "Mean query time on {{ $labels.instance }}"),
    "cache_hit_ratio": ("100 * sum(rate(varnish_main_cache_hit[5m])) / clamp_min("
                        "sum(rate(varnish_main_cache_hit[5m])) + "
                        "sum(rate(varnish_main_cache_miss[5m])), 1)",
                        "Varnish hit ratio"),
    "cache_memory": ("100 * redis_memory_used_bytes / (redis_memory_max_bytes > 0)",
                     "Redis memory on {{ $labels.instance }}"),
    "galera_flow_control_paused": ("100 * mysql_global_status_wsrep_flow_control_paused",
                                   "Galera flow control paused on {{ $labels.instance }}"),
}

# How long a value must stay past its threshold before the rule fires: a warning may wait,
# a critical should not.
FOR = {"warning": "5m", "critical": "2m"}


class RulesError(Exception):
    """A threshold the rules cannot express; the message names the fix."""


def alert_rule_groups(farm_name: str, thresholds: Mapping[str, Threshold],
                      interval: str = "1m") -> dict:
    """The rule groups (as the YAML document) of every threshold, warning and critical."""
    missing = sorted(set(thresholds) - set(ALERT_EXPRESSIONS))
    if missing:
        raise RulesError(f"no alert expression for threshold(s) {', '.join(missing)}: add "
                         "them to ALERT_EXPRESSIONS in wpfarm_tui/stacks/rules.py")
    rules = []
    for name in sorted(thresholds):
        t = thresholds[name]
        expr, summary = ALERT_EXPRESSIONS[name]
        op = ">" if t.higher_is_worse else "<"
        for severity, value in (("warning", t.warning), ("critical", t.critical)):
            limit = f"{value:g}"
            rules.append({
                "alert": f"wpfarm_{name}_{severity}",
                "expr": f"({expr}) {op} {limit}",
                "for": FOR[severity],
                "labels": {"severity": severity, "farm": farm_name, "threshold": name},
                "annotations": {
                    "summary": f"{summary}: {{{{ $value | printf \"%.4g\" }}}}{t.unit} "
                               f"({op} {limit}{t.unit})",
                },
            })
    return {"groups": [{"name": f"wpfarm-{farm_name}", "interval": interval, "rules": rules}]}


def alert_rules(farm_name: str, thresholds: Mapping[str, Threshold],
                interval: str = "1m") -> str:
    """The rule file's text."""
    head = (f"# Alert rules for farm {farm_name} (rendered by wpfarm from the console's\n"
            "# threshold table: wpfarm_tui/status/thresholds.py and farm.yaml `thresholds:`).\n")
    return head + yaml.safe_dump(alert_rule_groups(farm_name, thresholds, interval),
                                 sort_keys=False, width=200)
