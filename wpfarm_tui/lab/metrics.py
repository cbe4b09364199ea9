"""The lab's metrics: prometheus-node-exporter on loopback and a Prometheus scraping it
every 2 s, evaluating the farm's alert rules (stacks/rules.py, from the lab's thresholds):
the source of the Nodes pane's CPU, memory, disk, load and network columns. The mysqld
exporter (Galera's status: connections, flow control, replication latency) and the Varnish
exporter (hit ratio) feed the rules of the data and cache layers, as in the farm's
observability stack; no Redis exporter: the lab's Redis has no maxmemory, which the only
Redis rule divides by."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import yaml

from wpfarm_tui.files import write_atomic
from wpfarm_tui.lab.base import LOOPBACK, PORTS, LabBase, Progress
from wpfarm_tui.stacks.rules import alert_rules
from wpfarm_tui.status.thresholds import DEFAULT_THRESHOLDS, Threshold

PROMETHEUS_PORT = PORTS["prometheus"][0]
NODE_EXPORTER_PORT = PORTS["node-exporter"][0]
MYSQLD_EXPORTER_PORT = PORTS["mysqld-exporter"][0]
VARNISH_EXPORTER_PORT = PORTS["varnish-exporter"][0]
SCRAPE_INTERVAL = "2s"
# The exporters that query a server (SQL, a varnishstat run) on each scrape: less often, on
# a machine of two cores; their rules look at 5 minutes.
SERVER_SCRAPE_INTERVAL = "10s"

#: The lab farm's overrides of the default thresholds (written into its farm.yaml by
#: farmfile.py, and into its Prometheus's rules here: the same numbers in both).
LAB_THRESHOLDS: dict[str, dict[str, float]] = {
    # The lab's one node is the machine that runs the test suite (and, in development, the
    # other work on it): its CPU near 100 % is the tests', not a farm's incident. A warning
    # still shows; critical (over 100 %) never comes, so `wpfarm status` on the lab keeps
    # its exit code for the lab's servers.
    "cpu": {"warning": 90, "critical": 100},
    # Its disk likewise: a test run writes gigabytes in minutes (images, volumes, logs), and
    # an hour of that extrapolates to "full in a day". Warnings only.
    "disk": {"warning": 70, "critical": 100},
    "disk_days_until_full": {"warning": 7, "critical": 0},
    "response_time_ms": {"warning": 500, "critical": 2000},
    "cache_hit_ratio": {"warning": 80, "critical": 60},
    "cache_memory": {"warning": 80, "critical": 95},
    "db_connections": {"warning": 80, "critical": 95},
    "replication_lag_s": {"warning": 1, "critical": 5},
}


def lab_thresholds() -> dict[str, Threshold]:
    out = dict(DEFAULT_THRESHOLDS)
    for name, limits in LAB_THRESHOLDS.items():
        base = DEFAULT_THRESHOLDS[name]
        out[name] = Threshold(limits["warning"], limits["critical"], base.higher_is_worse,
                              base.unit)
    return out


class MetricsMixin(LabBase):
    @property
    def prometheus_url(self) -> str:
        return f"http://{LOOPBACK}:{PROMETHEUS_PORT}"

    def _prepare_metrics(self) -> None:
        (self._dir("node-exporter") / "textfile").mkdir(parents=True, exist_ok=True)
        d = self._dir("prometheus")
        (d / "data").mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
            "rule_files": [str(d / "rules.yml")],
            "scrape_configs": [
                {"job_name": "node",
                 "static_configs": [{"targets": [f"{LOOPBACK}:{NODE_EXPORTER_PORT}"]}]},
                {"job_name": "mysqld", "scrape_interval": SERVER_SCRAPE_INTERVAL,
                 "static_configs": [{"targets": [f"{LOOPBACK}:{MYSQLD_EXPORTER_PORT}"]}]},
                {"job_name": "varnish", "scrape_interval": SERVER_SCRAPE_INTERVAL,
                 "static_configs": [{"targets": [f"{LOOPBACK}:{VARNISH_EXPORTER_PORT}"]}]},
            ],
        }
        changed = False
        for path, text in (
                (d / "prometheus.yml", "# The loopback lab's Prometheus (written by `wpfarm "
                 "lab up`).\n" + yaml.safe_dump(config, sort_keys=False)),
                (d / "rules.yml", alert_rules("lab", lab_thresholds(), SCRAPE_INTERVAL))):
            if not path.exists() or path.read_text() != text:
                write_atomic(path, text)
                changed = True
        if changed:  # a running Prometheus (a lab from an older wpfarm) reads them again
            self._signal("prometheus", signal.SIGHUP)
        # The exporter logs in as the lab's console user (galera-1); the password stays in
        # this private file, never on its command line.
        self._dir("mysqld-exporter").mkdir(parents=True, exist_ok=True)
        write_atomic(self._mysqld_exporter_cnf,
                     "[client]\nuser=wpfarm\n"
                     f"password={self._secret('galera_password')}\n"
                     f"host={LOOPBACK}\nport={PORTS['galera-1'][0]}\n", mode=0o600)

    @property
    def _mysqld_exporter_cnf(self) -> Path:
        return self._dir("mysqld-exporter") / "my.cnf"

    def _mysqld_exporter_argv(self) -> list[str]:
        return [self._bin("prometheus-mysqld-exporter"),
                f"--config.my-cnf={self._mysqld_exporter_cnf}",
                f"--web.listen-address={LOOPBACK}:{MYSQLD_EXPORTER_PORT}"]

    def _varnish_exporter_argv(self) -> list[str]:
        return [self._bin("prometheus-varnish-exporter"),
                "-n", str(self._dir("varnish") / "inst"),
                "-varnishstat-path", self._bin("varnishstat"),
                "-web.listen-address", f"{LOOPBACK}:{VARNISH_EXPORTER_PORT}"]

    def _node_exporter_argv(self) -> list[str]:
        return [self._bin("prometheus-node-exporter"),
                f"--web.listen-address={LOOPBACK}:{NODE_EXPORTER_PORT}",
                # Ours, and the marker of our process (pid files are checked against it).
                f"--collector.textfile.directory={self._dir('node-exporter') / 'textfile'}"]

    def _prometheus_argv(self) -> list[str]:
        d = self._dir("prometheus")
        return [self._bin("prometheus"), f"--config.file={d / 'prometheus.yml'}",
                f"--storage.tsdb.path={d / 'data'}", "--storage.tsdb.retention.time=2d",
                f"--web.listen-address={LOOPBACK}:{PROMETHEUS_PORT}"]

    def _node_exporter_ready(self) -> bool:
        url = f"http://{LOOPBACK}:{NODE_EXPORTER_PORT}/metrics"
        return httpx.get(url, timeout=2).status_code == 200

    def _prometheus_ready(self) -> bool:
        return httpx.get(f"{self.prometheus_url}/-/ready", timeout=2).status_code == 200

    def _exporter_ready(self, component: str) -> bool:
        port = PORTS[component][0]
        return httpx.get(f"http://{LOOPBACK}:{port}/metrics", timeout=2).status_code == 200

    def _metrics_up(self, say: Progress) -> None:
        self._start_and_wait("node-exporter", say)
        self._start_and_wait("prometheus", say)

    def _exporters_up(self, say: Progress) -> None:
        """After Galera and Varnish are up: the exporters read them from their first scrape."""
        self._start_and_wait("mysqld-exporter", say)
        self._start_and_wait("varnish-exporter", say)
