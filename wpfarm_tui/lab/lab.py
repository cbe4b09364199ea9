"""The loopback lab: a local farm of real servers (Galera, Redis + Sentinel, WordPress on
php-fpm + nginx, Varnish, Traefik, CrowdSec LAPI, a one-node Docker Swarm, node-exporter and
Prometheus, GlusterFS) on 127.0.0.1.

Everything lives under one root directory (default /var/lib/wpfarm-lab). Each daemon is
started detached with its pid recorded in ``root/run/<component>.pid``; stop/down only signal
pids whose /proc cmdline still names this lab's own config (guards against pid reuse).

`Lab` is the public entry: up/down/status/stop/start and what actions need. Each component
is a module of its own (galera.py, redis.py, web.py, varnish.py, traefik.py, crowdsec.py,
dockerd.py, restic.py, metrics.py, gluster.py), the farm file another (farmfile.py);
base.py holds the layout and guards, processes.py the supervisor shared with the Swarm lab.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from wpfarm_tui.lab.base import COMPONENTS, GALERA_NODES, LabError, Progress
from wpfarm_tui.lab.crowdsec import CrowdsecMixin
from wpfarm_tui.lab.dockerd import DockerdMixin
from wpfarm_tui.lab.farmfile import FarmFileMixin
from wpfarm_tui.lab.galera import GaleraMixin
from wpfarm_tui.lab.gluster import GlusterMixin
from wpfarm_tui.lab.metrics import MetricsMixin
from wpfarm_tui.lab.redis import RedisMixin
from wpfarm_tui.lab.restic import ResticMixin
from wpfarm_tui.lab.traefik import TraefikMixin
from wpfarm_tui.lab.varnish import VarnishMixin
from wpfarm_tui.lab.web import WebMixin

__all__ = ["Lab", "LabError"]


class Lab(GaleraMixin, RedisMixin, WebMixin, VarnishMixin, TraefikMixin, CrowdsecMixin,
          DockerdMixin, ResticMixin, MetricsMixin, GlusterMixin, FarmFileMixin):
    """The loopback lab under one root directory. See the module docstring."""

    components: tuple[str, ...] = COMPONENTS

    # ------------------------------------------------------------------ public API

    def up(self, progress: Progress = print,
           first_backup: Callable[[Path, Path], None] | None = None) -> Path:
        """Start every component not already running, wait until all are ready, write farm.yaml.

        `first_backup(farm_file, audit_log)` runs once, when the restic repository is new, so
        a new lab starts inside its RPO; it is the backup procedure, which this module does
        not import (lab/ sits below actions/): `wpfarm lab up` and the tests pass it."""
        self._require_root()
        self._require_programs()  # before anything is created or started
        say = self._sayer(progress)
        started = time.monotonic()
        with self._locked():
            running = {c for c in COMPONENTS if self._pid_of(c) is not None}
            self._check_ports(skip=running)  # before anything is created or started
            if running:
                say(f"already running: {', '.join(c for c in COMPONENTS if c in running)}")
            self._prepare()
            db_ready = threading.Event()
            db_failed = threading.Event()

            def galera() -> None:
                try:
                    self._galera_up(say, on_writable=db_ready.set)
                except BaseException:
                    db_failed.set()
                    raise
                finally:
                    db_ready.set()

            tasks: list[Callable[[], None]] = [
                galera,
                lambda: self._redis_up(say),
                lambda: self._web_up(say, db_ready, db_failed),
                lambda: self._start_and_wait("crowdsec", say),
                lambda: self._start_and_wait("dockerd", say),
                lambda: self._metrics_up(say),
                lambda: self._start_and_wait("glusterd", say),
            ]
            self._run_parallel(tasks)
            self._exporters_up(say)
            new_repository = self._restic_repo(say)
            self._write_farm_file()
            if new_repository and first_backup is not None:
                try:
                    first_backup(self.farm_file, self.root / "audit.log")
                except Exception as exc:  # noqa: BLE001 - any failure of it fails `up`
                    raise LabError(f"first backup of the lab failed: {exc}") from None
                say("restic: first backup of the lab's sites taken")
        say(f"lab up in {time.monotonic() - started:.1f} s; farm file: {self.farm_file}")
        return self.farm_file

    def down(self, progress: Progress = print) -> None:
        """Stop everything this lab started (by recorded pid); Galera nodes 3, 2, 1 in turn."""
        self._require_root()
        say = self._sayer(progress)
        with self._locked():
            others = [c for c in reversed(COMPONENTS) if not c.startswith("galera-")]
            signalled = {c: pid for c in others if (pid := self._signal(c, signal.SIGTERM))}
            # Galera one at a time so node 1 stops last and is the one safe to bootstrap.
            for n in reversed(GALERA_NODES):
                self._stop_one(f"galera-{n}", hard=False, say=say)
            for comp, pid in signalled.items():
                self._wait_exit(comp, pid, say)
            self._gluster_down(say)
        say("lab down")

    def status(self) -> dict[str, str]:
        """component -> "running" | "stopped" (running = our recorded pid is alive)."""
        return {c: ("running" if self._pid_of(c) is not None else "stopped") for c in COMPONENTS}

    def stop(self, component: str, hard: bool = False) -> None:
        """SIGTERM (SIGKILL when hard) one component and wait until it has exited."""
        self._require_root()
        self._check_component(component)
        with self._locked():
            self._stop_one(component, hard=hard, say=lambda _msg: None)

    def start(self, component: str, progress: Progress = print) -> None:
        """Start one component again and wait until it is ready (Galera nodes rejoin)."""
        self._require_root()
        self._check_component(component)
        say = self._sayer(progress)
        with self._locked():
            running = {c for c in COMPONENTS if self._pid_of(c) is not None}
            if component not in running:
                self._check_ports(skip=running, only=(component,))
            self._prepare()
            if component.startswith("galera-"):
                self._galera_up(say, only=int(component[-1]))
            else:
                self._start_and_wait(component, say)

    # ------------------------------------------------------------------ every component

    def _prepare(self) -> None:
        """Directories, secrets and config files (cheap; done on every up/start)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # mysql and www-data must traverse it
        self._secrets.mkdir(mode=0o700, exist_ok=True)
        self._secrets.chmod(0o700)
        for comp in COMPONENTS:
            self._dir(comp).mkdir(parents=True, exist_ok=True)
        self._prepare_galera()
        self._prepare_redis()
        self._prepare_web()
        self._prepare_varnish()
        self._prepare_traefik()
        self._prepare_crowdsec()
        self._prepare_dockerd()
        self._prepare_metrics()
        self._prepare_gluster()

    def _argv(self, component: str) -> list[str]:
        if component.startswith("galera-"):
            return self._galera_argv(int(component[-1]))
        if component.startswith(("redis-", "sentinel-")):
            return self._redis_argv(component)
        argv = {
            "php-fpm": self._php_fpm_argv,
            "nginx": self._nginx_argv,
            "varnish": self._varnish_argv,
            "traefik": self._traefik_argv,
            "crowdsec": self._crowdsec_argv,
            "dockerd": self._dockerd_argv,
            "node-exporter": self._node_exporter_argv,
            "prometheus": self._prometheus_argv,
            "mysqld-exporter": self._mysqld_exporter_argv,
            "varnish-exporter": self._varnish_exporter_argv,
            "glusterd": self._glusterd_argv,
        }.get(component)
        if argv is None:
            raise AssertionError(component)
        return argv()

    def _start_and_wait(self, component: str, say: Progress) -> None:
        """Start one non-Galera component unless it runs, wait until ready, then set it up."""
        if self._pid_of(component) is None:
            self._spawn(component, self._argv(component))
            say(f"{component}: started")
        self._wait_ready(component, self._readiness(component), say)
        post = {
            "crowdsec": self._crowdsec_setup,
            "dockerd": self._docker_setup,
            "redis-master": self._redis_seed,
            "varnish": self._varnish_vcl,
            "glusterd": self._gluster_setup,
        }.get(component)
        if post:
            post(say)

    def _readiness(self, component: str) -> Callable[[], bool]:
        if component.startswith(("redis-", "sentinel-")):
            return lambda: self._redis_ready(component)
        ready = {
            "php-fpm": self._php_fpm_ready,
            "nginx": self._nginx_ready,
            "varnish": self._varnish_ready,
            "traefik": self._traefik_ready,
            "crowdsec": self._crowdsec_ready,
            "dockerd": self._docker_ping,
            "node-exporter": self._node_exporter_ready,
            "prometheus": self._prometheus_ready,
            "mysqld-exporter": lambda: self._exporter_ready("mysqld-exporter"),
            "varnish-exporter": lambda: self._exporter_ready("varnish-exporter"),
            "glusterd": self._glusterd_ready,
        }.get(component)
        if ready is None:
            raise AssertionError(component)
        return ready

    def _run_parallel(self, tasks: list[Callable[[], None]]) -> None:
        with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
            futures = [pool.submit(task) for task in tasks]
        errors = [e for f in futures if (e := f.exception()) is not None]
        for err in errors:
            if not isinstance(err, LabError):
                raise err
        if errors:
            raise LabError("; ".join(dict.fromkeys(str(e) for e in errors)))
