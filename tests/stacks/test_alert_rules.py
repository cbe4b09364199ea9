"""The alert rules rendered from the console's thresholds (stacks/rules.py): valid for
`promtool check rules`, and for each threshold a `promtool test rules` unit test: a value
between warning and critical fires the warning only, a value past critical fires both, a
value inside the threshold fires nothing. Debian's promtool (package prometheus) is the
one Prometheus and Mimir's ruler share the rule format with."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.needs import unavailable
from wpfarm_tui import programs
from wpfarm_tui.stacks.render import render_farm
from wpfarm_tui.stacks.rules import ALERT_EXPRESSIONS, alert_rule_groups, alert_rules
from wpfarm_tui.status.thresholds import DEFAULT_THRESHOLDS, Threshold

STEP_S = 15  # the test series' interval: rate()s over [1m] see four samples


def _promtool() -> str:
    found = programs.find("promtool")
    if found is None:
        unavailable("promtool (Debian package prometheus): scripts/install-deps.sh installs it")
    return found


def _counter(per_s: float) -> str:
    """A counter growing `per_s` a second, sampled every STEP_S seconds for 2 hours."""
    return f"0+{per_s * STEP_S:g}x480"


def _gauge(value: float) -> str:
    return f"{value:g}x480"


N = {"instance": "n1:9100"}
SERVICE = {"service": "site1@swarm"}
DB = {"instance": "db1:9104"}
FS = {"instance": "n1:9100", "device": "/dev/vda1", "fstype": "ext4", "mountpoint": "/"}
DAYS_EVAL_MIN = 100  # past the hour of history days-until-full asks for


def _days(v: float) -> list[tuple[str, dict[str, str], str]]:
    # Free space falling 1 byte per step: full in `v` days at the evaluation time.
    steps_per_day = 86400 / STEP_S
    start = v * steps_per_day + DAYS_EVAL_MIN * 60 / STEP_S
    return [("node_filesystem_avail_bytes", FS, f"{start:g}-1x480"),
            ("node_filesystem_size_bytes", FS, _gauge(10 * start))]


def _p95(v_ms: float) -> list[tuple[str, dict[str, str], str]]:
    # Every request in one bucket [0, U]: histogram_quantile(0.95) is 0.95 * U.
    upper = v_ms / 1000 / 0.95
    name = "traefik_service_request_duration_seconds_bucket"
    return [(name, {**SERVICE, "le": f"{upper:g}"}, _counter(10)),
            (name, {**SERVICE, "le": "+Inf"}, _counter(10))]


# threshold -> (the input series giving the expression the value v, the alert's own labels)
SERIES: dict[str, tuple[Callable[[float], list[tuple[str, dict[str, str], str]]],
                        dict[str, str]]] = {
    "cpu": (lambda v: [("node_cpu_seconds_total", {**N, "cpu": "0", "mode": "idle"},
                        _counter(1 - v / 100))], N),
    "memory": (lambda v: [("node_memory_MemAvailable_bytes", N, _gauge(1000 - 10 * v)),
                          ("node_memory_MemTotal_bytes", N, _gauge(1000))], N),
    "disk": (lambda v: [("node_filesystem_avail_bytes", FS, _gauge(1000 - 10 * v)),
                        ("node_filesystem_size_bytes", FS, _gauge(1000))], FS),
    "disk_days_until_full": (_days, FS),
    "bandwidth": (lambda v: [
        ("node_network_transmit_bytes_total", {**N, "device": "eth0"}, _counter(10 * v)),
        ("node_network_speed_bytes", {**N, "device": "eth0"}, _gauge(1000))],
        {**N, "device": "eth0"}),
    "connection_count": (lambda v: [("traefik_open_connections", N, _gauge(v))], N),
    "response_time_ms": (_p95, SERVICE),
    "error_rate": (lambda v: [
        ("traefik_service_requests_total", {**SERVICE, "code": "500"}, _counter(v)),
        ("traefik_service_requests_total", {**SERVICE, "code": "200"}, _counter(100 - v))],
        SERVICE),
    "errors_5xx_per_min": (lambda v: [
        ("traefik_service_requests_total", {**SERVICE, "code": "502"}, _counter(v / 60))],
        SERVICE),
    "db_connections": (lambda v: [("mysql_global_status_threads_connected", DB, _gauge(v)),
                                  ("mysql_global_variables_max_connections", DB,
                                   _gauge(100))], DB),
    "replication_lag_s": (lambda v: [("mysql_galera_evs_repl_latency_avg_seconds", DB,
                                      _gauge(v))], DB),
    "query_time_s": (lambda v: [
        ("mysql_perf_schema_events_statements_seconds_total", DB, _counter(10 * v)),
        ("mysql_perf_schema_events_statements_total", DB, _counter(10))], DB),
    "cache_hit_ratio": (lambda v: [("varnish_main_cache_hit", {"instance": "v1"}, _counter(v)),
                                   ("varnish_main_cache_miss", {"instance": "v1"},
                                    _counter(100 - v))], {}),
    "cache_memory": (lambda v: [("redis_memory_used_bytes", {"instance": "r1"}, _gauge(v)),
                                ("redis_memory_max_bytes", {"instance": "r1"}, _gauge(100))],
                     {"instance": "r1"}),
    "galera_flow_control_paused": (lambda v: [
        ("mysql_global_status_wsrep_flow_control_paused", DB, _gauge(v / 100))], DB),
}


def test_every_threshold_has_a_rule_and_a_unit_test_here() -> None:
    assert set(DEFAULT_THRESHOLDS) <= set(ALERT_EXPRESSIONS)
    assert set(SERIES) == set(DEFAULT_THRESHOLDS)


def test_the_rendered_rules_pass_promtool_check(tmp_path: Path) -> None:
    promtool = _promtool()
    from tests.stacks.test_render import farm_yaml
    from wpfarm_tui.inventory import parse_farm

    farm = parse_farm(farm_yaml(extra="thresholds:\n  cpu: {warning: 65, critical: 88}\n"))
    render_farm(farm, tmp_path)
    rendered = tmp_path / "docker/configs/grafana/alerting/wpfarm-alerts.yml"
    out = subprocess.run([promtool, "check", "rules", str(rendered)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {2 * len(DEFAULT_THRESHOLDS)} rules found" in out.stdout
    # The farm's override, not the default: one source of truth for console and rules.
    rules = {r["alert"]: r for r in yaml.safe_load(rendered.read_text())["groups"][0]["rules"]}
    assert rules["wpfarm_cpu_warning"]["expr"].endswith("> 65")


def _summary(name: str, t: Threshold, labels: dict[str, str], value: float,
             severity: str) -> str:
    text = ALERT_EXPRESSIONS[name][1]
    for key, val in labels.items():
        text = text.replace(f"{{{{ $labels.{key} }}}}", val)
    op = ">" if t.higher_is_worse else "<"
    limit = t.warning if severity == "warning" else t.critical
    return f"{text}: {value:.4g}{t.unit} ({op} {limit:g}{t.unit})"


def _alerts(name: str, t: Threshold, labels: dict[str, str], value: float,
            severities: tuple[str, ...]) -> list[dict]:
    return [{"exp_labels": {**labels, "severity": s, "farm": "t", "threshold": name},
             "exp_annotations": {"summary": _summary(name, t, labels, value, s)}}
            for s in severities]


@pytest.mark.parametrize("name", sorted(DEFAULT_THRESHOLDS))
def test_each_threshold_fires_as_the_console_colours(name: str, tmp_path: Path) -> None:
    promtool = _promtool()
    t = DEFAULT_THRESHOLDS[name]
    rules = tmp_path / "rules.yml"
    rules.write_text(alert_rules("t", {name: t}))
    series, labels = SERIES[name]
    # A value inside, between warning and critical, and past critical, as the console's own
    # Threshold.level sees it: the rules must agree.
    past = t.critical * 1.2 if t.higher_is_worse else t.critical * 0.5
    between = (t.warning + t.critical) / 2
    inside = t.warning * 0.5 if t.higher_is_worse else t.warning * 1.2
    if name.endswith("_pct") or t.unit == "%":
        past, inside = min(past, 99.0), min(inside, 99.0)
    cases = [(inside, ()), (between, ("warning",)), (past, ("warning", "critical"))]
    assert [t.level(v).label for v, _ in cases] == ["ok", "warning", "critical"]
    at = f"{DAYS_EVAL_MIN}m" if name == "disk_days_until_full" else "10m"
    tests = []
    for value, severities in cases:
        inputs = [{"series": series_name + "{" + ",".join(
            f'{k}="{v}"' for k, v in sorted(lab.items())) + "}", "values": values}
            for series_name, lab, values in series(value)]
        tests.append({"interval": f"{STEP_S}s", "input_series": inputs, "alert_rule_test": [
            {"eval_time": at, "alertname": f"wpfarm_{name}_{s}",
             "exp_alerts": _alerts(name, t, labels, value, (s,)) if s in severities else []}
            for s in ("warning", "critical")]})
    spec = tmp_path / "test.yml"
    spec.write_text(yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": "15s",
                                    "tests": tests}, sort_keys=False))
    out = subprocess.run([promtool, "test", "rules", str(spec)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_group_names_the_farm() -> None:
    doc = alert_rule_groups("prod-eu1", {"cpu": DEFAULT_THRESHOLDS["cpu"]})
    (group,) = doc["groups"]
    assert group["name"] == "wpfarm-prod-eu1"
    assert [r["labels"]["threshold"] for r in group["rules"]] == ["cpu", "cpu"]
