"""What every part of the loopback lab shares: its components and ports, its error, where
everything lives under the lab's root (layout), the guards, process supervision of its
components (by lab/processes.py), the secrets it makes, and its templates.

`LabBase` is the root of `Lab` (lab.py); each component's module (galera.py, redis.py,
web.py, varnish.py, traefik.py, crowdsec.py, dockerd.py, restic.py) adds a mixin.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import httpx

import wpfarm_tui.lab.processes as processes
from wpfarm_tui import programs
from wpfarm_tui.files import write_atomic

Progress = Callable[[str], None]

# Every program `lab up` runs, checked before anything starts (wpfarm_tui/programs.py names
# the Debian package of each).
LAB_PROGRAMS = (
    "mariadbd", "mariadb-install-db", "mariadb", "rsync",
    "redis-server", "redis-sentinel", "php-fpm8.2", "php", "runuser", "nginx", "varnishd",
    "varnishstat", "traefik", "crowdsec", "cscli", "dockerd", "docker", "busybox", "restic",
    "prometheus", "prometheus-node-exporter", "prometheus-mysqld-exporter",
    "prometheus-varnish-exporter", "glusterd", "gluster", "glusterfsd", "mount.glusterfs", "umount",
)  # fmt: skip

DEFAULT_ROOT = Path("/var/lib/wpfarm-lab")
LOOPBACK = "127.0.0.1"
SITES = ("site1.test", "site2.test")
GALERA_NODES = (1, 2, 3)

COMPONENTS: tuple[str, ...] = (
    "galera-1", "galera-2", "galera-3",
    "redis-master", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3",
    "php-fpm", "nginx", "varnish", "traefik", "crowdsec", "dockerd",
    "node-exporter", "prometheus", "mysqld-exporter", "varnish-exporter", "glusterd",
)  # fmt: skip

# Every TCP port a component binds (galera: mysql, gcomm, IST, SST receive). Checked before
# anything starts so a clash never leaves a half-started lab.
PORTS: dict[str, tuple[int, ...]] = {
    **{
        f"galera-{n}": (33060 + n, 24557 + 10 * n, 24558 + 10 * n, 24434 + 10 * n)
        for n in GALERA_NODES
    },
    "redis-master": (16379,),
    "redis-replica": (16380,),
    **{f"sentinel-{n}": (16380 + n,) for n in (1, 2, 3)},
    "php-fpm": (),
    "nginx": (16200,),
    "varnish": (16081, 16082),
    "traefik": (16100, 16101),
    "crowdsec": (16180,),
    "dockerd": (2377, 7946),  # swarm manager API and gossip
    "node-exporter": (16091,),
    "prometheus": (16090,),
    "mysqld-exporter": (16104,),
    "varnish-exporter": (16131,),
    "glusterd": (24007,),  # the CLI's default; one glusterd per host
}

# How long a component may take to become ready, seconds.
TIMEOUTS: dict[str, float] = {
    **{f"galera-{n}": 120.0 for n in GALERA_NODES},  # a joiner may need a full SST
    "dockerd": 60.0,
    "crowdsec": 60.0,
}
DEFAULT_TIMEOUT = 30.0


class LabError(Exception):
    """A lab step failed; the message says what failed and what to do."""


def _template(name: str, **values: str | int) -> str:
    """A template from the package, with @@KEY@@ placeholders filled ($ is nginx/VCL syntax)."""
    text = resources.files("wpfarm_tui.lab").joinpath("templates", name).read_text()
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", str(value))
    leftover = re.search(r"@@[A-Z]+@@", text)
    if leftover:  # a bug in the lab, not in the machine
        raise AssertionError(f"template {name}: {leftover.group(0)} not filled")
    return text


_SECRETS_LOCK = threading.Lock()


def _chown_tree(path: Path, user: str) -> None:
    shutil.chown(path, user, user)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            with contextlib.suppress(OSError):
                os.chown(Path(dirpath, name), *_ids(user), follow_symlinks=False)


def _ids(user: str) -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


class LabBase:
    """The loopback lab's root directory and what every component's mixin relies on."""

    def __init__(self, root: Path | None = None) -> None:
        env_root = os.environ.get("WPFARM_LAB_DIR")
        self.root = Path(root or env_root or DEFAULT_ROOT).absolute()
        self.farm_file = self.root / "farm.yaml"
        self._run = self.root / "run"
        self._secrets = self.root / "secrets"
        self._say_lock = threading.Lock()
        self._recovered: dict[int, str] = {}  # galera node -> position found by --wsrep-recover

    # ------------------------------------------------------------------ layout

    def _dir(self, component: str) -> Path:
        if component.startswith("galera-"):
            return self.root / "galera" / component
        if component.startswith(("redis-", "sentinel-")):
            return self.root / "redis" / component
        return self.root / {"dockerd": "docker"}.get(component, component)

    def _log(self, component: str) -> Path:
        return self._dir(component) / f"{component}.log"

    def _pidfile(self, component: str) -> Path:
        return self._run / f"{component}.pid"

    def _secret_path(self, name: str) -> Path:
        return self._secrets / name

    def _conf_path(self, component: str) -> Path:
        d = self._dir(component)
        if component.startswith("galera-"):
            return d / "my.cnf"
        if component.startswith("sentinel-"):
            return d / "sentinel.conf"
        return d / "redis.conf"

    @property
    def maintenance_dir(self) -> Path:
        """Flag files of maintenance mode: `<domain>` for one site, `all` for every site."""
        return self.root / "maintenance"

    @property
    def site_logs_dir(self) -> Path:
        """nginx's access and error log of each site: `<domain>.access.log`, `.error.log`."""
        return self.root / "nginx" / "logs"

    @property
    def purge_token_file(self) -> Path:
        """Who holds this token may PURGE and BAN the lab's Varnish (as the farm's Docker
        secret varnish_purge_token); the console itself bans through varnishadm."""
        return self._dir("varnish") / "purge_token"

    @property
    def restic_repository(self) -> Path:
        return self.root / "restic-repo"

    @property
    def _docker_sock(self) -> Path:
        return self._dir("dockerd") / "docker.sock"

    @property
    def _crowdsec_conf(self) -> Path:
        return self._dir("crowdsec") / "etc" / "config.yaml"

    def _galera_cnf(self, n: int) -> Path:
        return self._dir(f"galera-{n}") / "my.cnf"

    def _galera_sock(self, n: int) -> Path:
        return self._dir(f"galera-{n}") / "mysqld.sock"

    def _wp_content(self, site: str) -> Path:
        return self.root / "wordpress" / site / "wp-content"

    @staticmethod
    def _db_name(site: str) -> str:
        return "wp_" + site.split(".")[0]

    # ------------------------------------------------------------------ for Lab to define

    def _argv(self, component: str) -> list[str]:
        """The component's command line (lab.py asks the component's module)."""
        raise NotImplementedError

    def _start_and_wait(self, component: str, say: Progress) -> None:
        """Start one non-Galera component unless it runs, wait until ready (lab.py)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ guards

    def _require_root(self) -> None:
        if os.geteuid() != 0:
            raise LabError(
                "the lab must run as root (mariadbd runs as mysql, php-fpm as www-data, "
                "dockerd needs root): run it again with sudo"
            )

    def _check_component(self, component: str) -> None:
        if component not in COMPONENTS:
            raise LabError(f"unknown lab component {component!r}; one of: {', '.join(COMPONENTS)}")

    def _check_ports(self, skip: set[str], only: tuple[str, ...] = COMPONENTS) -> None:
        busy = [
            (port, comp)
            for comp in only
            if comp not in skip
            for port in PORTS[comp]
            if not processes.port_free(port, LOOPBACK)
        ]
        if not busy:
            return
        what = ", ".join(f"{port} ({comp})" for port, comp in busy)
        head = (
            f"port {what} is already in use by another process"
            if len(busy) == 1
            else f"ports {what} are already in use by other processes"
        )
        raise LabError(
            f"{head}; stop it (`ss -ltnp 'sport = :{busy[0][0]}'` shows who holds it), or if it "
            f"is a lab started with another WPFARM_LAB_DIR, run `wpfarm lab down` with that "
            f"WPFARM_LAB_DIR set (this lab is {self.root}). Nothing was started."
        )

    @staticmethod
    def _require_programs() -> None:
        try:
            programs.require(LAB_PROGRAMS, "wpfarm lab up")
        except programs.MissingPrograms as exc:
            raise LabError(str(exc)) from None

    @staticmethod
    def _bin(name: str) -> str:
        """A program's full path: sudo's or a non-login shell's PATH may lack sbin."""
        try:
            return programs.path(name, "the lab")
        except programs.MissingPrograms as exc:
            raise LabError(str(exc)) from None

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        """One lab operation at a time (a second `wpfarm lab up` waits for the first)."""
        return processes.locked(self._run / "lab.lock")

    def _sayer(self, progress: Progress) -> Progress:
        def say(msg: str) -> None:
            with self._say_lock:  # tasks report from several threads
                progress(msg)

        return say

    # ------------------------------------------------------------------ processes

    def _marker(self, component: str) -> str:
        """A string only our own instance of the component has in /proc/<pid>/cmdline."""
        d = self._dir(component)
        return {
            "php-fpm": str(d / "php-fpm.conf"),
            "nginx": str(d / "nginx.conf"),
            "varnish": str(d / "inst"),
            "traefik": str(d / "traefik.yml"),
            "crowdsec": str(self._crowdsec_conf),
            "dockerd": str(d / "data"),
            "node-exporter": str(d / "textfile"),
            "prometheus": str(d / "prometheus.yml"),
            "mysqld-exporter": str(d / "my.cnf"),
            "varnish-exporter": str(self._dir("varnish") / "inst"),
            "glusterd": str(d / "glusterd.vol"),
        }.get(component) or str(self._conf_path(component))

    def _pid_of(self, component: str) -> int | None:
        """Our recorded pid of the component when it is alive and still ours, else None."""
        return processes.pid_of(self._pidfile(component), self._marker(component))

    def _spawn(self, component: str, argv: list[str]) -> int:
        """Start argv detached, output to the component's log, its pid recorded."""
        return processes.spawn(argv, self._log(component), self._pidfile(component),
                               "wpfarm lab starts")

    def _signal(self, component: str, sig: int) -> int | None:
        return processes.send(self._pidfile(component), self._marker(component), sig)

    def _wait_exit(self, component: str, pid: int, say: Progress, timeout: float = 60.0) -> None:
        def on_kill() -> None:
            say(f"{component}: still running {timeout:.0f} s after SIGTERM; sending SIGKILL")

        if not processes.wait_exit(pid, timeout, on_kill):
            raise LabError(
                f"{component} (pid {pid}) did not exit even after SIGKILL; "
                f"see {self._log(component)}"
            )
        self._pidfile(component).unlink(missing_ok=True)
        say(f"{component}: stopped")

    def _stop_one(self, component: str, hard: bool, say: Progress) -> None:
        pid = self._signal(component, signal.SIGKILL if hard else signal.SIGTERM)
        if pid is not None:
            self._wait_exit(component, pid, say)

    def _wait_ready(
        self,
        component: str,
        check: Callable[[], bool],
        say: Progress,
        log: Path | None = None,
        what: str = "ready",
    ) -> None:
        """Poll check() until true; fail fast when the process died, or after the timeout."""
        timeout = TIMEOUTS.get(component, DEFAULT_TIMEOUT)
        log = log or self._log(component)
        started = time.monotonic()
        while True:
            with contextlib.suppress(Exception):
                if check():
                    say(f"{component}: {what} ({time.monotonic() - started:.1f} s)")
                    return
            if self._pid_of(component) is None:
                raise LabError(
                    f"{component} exited while starting; see {log}, fix the cause "
                    f"and run `wpfarm lab up` again"
                )
            if time.monotonic() - started > timeout:
                raise LabError(
                    f"{component} was not {what} after {timeout:.0f} s; see {log}, "
                    f"then run `wpfarm lab down` and `wpfarm lab up` again"
                )
            time.sleep(0.1)

    @staticmethod
    def _http(port: int, host: str, path: str = "/") -> int:
        r = httpx.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host}, timeout=10)
        return r.status_code

    # ------------------------------------------------------------------ secrets

    def _secret(self, name: str, nbytes: int = 24) -> str:
        """A random secret kept under root/secrets (0600), created on first use."""
        path = self._secret_path(name)
        with _SECRETS_LOCK:  # two sites installing at once must get the same secret
            if not path.exists():
                write_atomic(path, secrets.token_urlsafe(nbytes) + "\n", mode=0o600)
        return path.read_text().strip()
