"""The loopback lab: a local farm of real servers (Galera, Redis + Sentinel, WordPress on
php-fpm + nginx, Varnish, Traefik, CrowdSec LAPI, a one-node Docker Swarm) on 127.0.0.1.

Everything lives under one root directory (default /var/lib/wpfarm-lab). Each daemon is
started detached with its pid recorded in ``root/run/<component>.pid``; stop/down only signal
pids whose /proc cmdline still names this lab's own config (guards against pid reuse).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import yaml

from wpfarm_tui import programs
from wpfarm_tui.lab.processes import _alive, _write
from wpfarm_tui.lab.reloads import Reloads
from wpfarm_tui.stacks.render import vcl_purge

Progress = Callable[[str], None]

# Every program `lab up` runs, checked before anything starts (wpfarm_tui/programs.py names
# the Debian package of each).
LAB_PROGRAMS = (
    "mariadbd", "mariadb-install-db", "mariadb", "rsync",
    "redis-server", "redis-sentinel", "php-fpm8.2", "php", "runuser", "nginx", "varnishd",
    "varnishstat", "traefik", "crowdsec", "cscli", "dockerd", "docker", "busybox", "restic",
)  # fmt: skip

DEFAULT_ROOT = Path("/var/lib/wpfarm-lab")
LOOPBACK = "127.0.0.1"
SITES = ("site1.test", "site2.test")
GALERA_NODES = (1, 2, 3)
DOCKER_IMAGE = "wpfarm-lab/busybox:1"
DOCKER_SERVICE = "lab-web"
BOUNCER_NAME = "wpfarm-console"
MACHINE_NAME = "wpfarm-lab"

COMPONENTS: tuple[str, ...] = (
    "galera-1", "galera-2", "galera-3",
    "redis-master", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3",
    "php-fpm", "nginx", "varnish", "traefik", "crowdsec", "dockerd",
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


def _registry_sql() -> str:
    return resources.files("wpfarm_tui").joinpath("data", "registry.sql").read_text()


def _port_free(port: int) -> bool:
    """Bind test: fails when anyone listens on the port (on 127.0.0.1 or a wildcard)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT leftovers
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


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


class Lab:
    """The loopback lab under one root directory. See the module docstring."""

    components: tuple[str, ...] = COMPONENTS

    def __init__(self, root: Path | None = None) -> None:
        env_root = os.environ.get("WPFARM_LAB_DIR")
        self.root = Path(root or env_root or DEFAULT_ROOT).absolute()
        self.farm_file = self.root / "farm.yaml"
        self._run = self.root / "run"
        self._secrets = self.root / "secrets"
        self._say_lock = threading.Lock()
        self._recovered: dict[int, str] = {}  # galera node -> position found by --wsrep-recover

    # ------------------------------------------------------------------ public API

    @property
    def reloads(self) -> Reloads:
        """Changes to php-fpm / nginx / Traefik files: serialised, checked, waited for."""
        return Reloads(self)

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
            ]
            self._run_parallel(tasks)
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

    # ------------------------------------------------------------------ for actions

    @property
    def maintenance_dir(self) -> Path:
        """Flag files of maintenance mode: `<domain>` for one site, `all` for every site."""
        return self.root / "maintenance"

    @property
    def site_logs_dir(self) -> Path:
        """nginx's access and error log of each site: `<domain>.access.log`, `.error.log`."""
        return self.root / "nginx" / "logs"

    def galera_node(self, n: int) -> dict[str, Any]:
        """What a Galera control needs of node n: the mariadbd argv and its paths."""
        d = self._dir(f"galera-{n}")
        return {
            "component": f"galera-{n}",
            "argv": self._argv(f"galera-{n}"),
            "dir": d,
            "datadir": d / "data",
            "grastate": d / "data" / "grastate.dat",
            "error_log": d / "error.log",
        }

    def galera_pid(self, n: int) -> int | None:
        """The pid of node n's mariadbd when it runs (and is this lab's), else None."""
        return self._pid_of(f"galera-{n}")

    def galera_spawn(self, n: int, extra: list[str]) -> int:
        """Start node n's mariadbd with extra arguments, detached, without waiting; the pid is
        recorded as for every lab component (so `status`, `stop` and `down` know it)."""
        self._require_root()
        with self._locked():
            if self._pid_of(f"galera-{n}") is not None:
                raise LabError(f"galera-{n} is already running")
            self._prepare_galera()
            return self._spawn(f"galera-{n}", self._argv(f"galera-{n}") + list(extra))

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

    @property
    def restic_repository(self) -> Path:
        return self.root / "restic-repo"

    def _restic_repo(self, say: Progress) -> bool:
        """A local restic repository for the lab's backups (init once: ~3 s of key derivation).
        True when it was created now."""
        if (self.restic_repository / "config").exists():
            return False
        env = dict(os.environ, RESTIC_PASSWORD_FILE=str(self._secret_path("restic_password")))
        self._secret("restic_password")
        out = subprocess.run([self._bin("restic"), "-r", str(self.restic_repository), "init"],
                             env=env, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise LabError(f"restic init of {self.restic_repository} failed: "
                           f"{out.stderr.strip()[-300:]}")
        say(f"restic: repository {self.restic_repository} created")
        return True

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
            if not _port_free(port)
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

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One lab operation at a time (a second `wpfarm lab up` waits for the first)."""
        self._run.mkdir(parents=True, exist_ok=True)
        with open(self._run / "lab.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

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
        }.get(component) or str(self._conf_path(component))

    def _conf_path(self, component: str) -> Path:
        d = self._dir(component)
        if component.startswith("galera-"):
            return d / "my.cnf"
        if component.startswith("sentinel-"):
            return d / "sentinel.conf"
        return d / "redis.conf"

    def _pid_of(self, component: str) -> int | None:
        """Our recorded pid of the component when it is alive and still ours, else None."""
        try:
            pid = int(self._pidfile(component).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        if not _alive(pid):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            return None
        return pid if self._marker(component) in cmdline else None

    def _spawn(self, component: str, argv: list[str]) -> int:
        """Start argv detached (own session, stdin /dev/null, output to the component's log).

        A throwaway sh starts the daemon in the background and exits, so the daemon is
        re-parented to init: no zombies in the caller, whoever the caller is.
        """
        log = self._log(component)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as fh:
            fh.write(
                f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} wpfarm lab starts: {' '.join(argv)}\n"
            )
        env = dict(os.environ, WPFARM_LAB_LOG=str(log))
        out = subprocess.run(
            ["/bin/sh", "-c", '"$@" </dev/null >>"$WPFARM_LAB_LOG" 2>&1 & echo $!', "sh", *argv],
            cwd=log.parent,
            env=env,
            start_new_session=True,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        pid = int(out.stdout.strip())
        _write(self._pidfile(component), f"{pid}\n")
        return pid

    def _signal(self, component: str, sig: int) -> int | None:
        pid = self._pid_of(component)
        if pid is None:
            self._pidfile(component).unlink(missing_ok=True)
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        return pid

    def _wait_exit(self, component: str, pid: int, say: Progress, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                say(f"{component}: still running {timeout:.0f} s after SIGTERM; sending SIGKILL")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 10
                while _alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                break
            time.sleep(0.05)
        if _alive(pid):
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

    def _run_parallel(self, tasks: list[Callable[[], None]]) -> None:
        with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
            futures = [pool.submit(task) for task in tasks]
        errors = [e for f in futures if (e := f.exception()) is not None]
        for err in errors:
            if not isinstance(err, LabError):
                raise err
        if errors:
            raise LabError("; ".join(dict.fromkeys(str(e) for e in errors)))

    # ------------------------------------------------------------------ configuration

    def _secret(self, name: str, nbytes: int = 24) -> str:
        """A random secret kept under root/secrets (0600), created on first use."""
        path = self._secret_path(name)
        with _SECRETS_LOCK:  # two sites installing at once must get the same secret
            if not path.exists():
                _write(path, secrets.token_urlsafe(nbytes) + "\n", mode=0o600)
        return path.read_text().strip()

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
        self._prepare_edge()
        self._prepare_crowdsec()
        (self._dir("dockerd") / "data").mkdir(exist_ok=True)
        (self._dir("dockerd") / "exec").mkdir(exist_ok=True)

    def _prepare_galera(self) -> None:
        for n in GALERA_NODES:
            comp = f"galera-{n}"
            d = self._dir(comp)
            _write(
                self._galera_cnf(n),
                _template(
                    "galera.cnf",
                    NAME=comp,
                    DIR=d,
                    PORT=PORTS[comp][0],
                    GCOMM=PORTS[comp][1],
                    IST=PORTS[comp][2],
                    SST=PORTS[comp][3],
                ),
            )
            (d / "data").mkdir(exist_ok=True)
            shutil.chown(d, "mysql", "mysql")
            shutil.chown(d / "data", "mysql", "mysql")

    def _prepare_redis(self) -> None:
        for comp, port in (("redis-master", 16379), ("redis-replica", 16380)):
            conf = self._conf_path(comp)
            if not conf.exists():  # Sentinel owns it after the first start (CONFIG REWRITE)
                extra = "replicaof 127.0.0.1 16379" if comp == "redis-replica" else ""
                _write(
                    conf,
                    _template("redis.conf", NAME=comp, PORT=port, DIR=self._dir(comp), EXTRA=extra),
                )
        for n in (1, 2, 3):
            comp = f"sentinel-{n}"
            conf = self._conf_path(comp)
            if not conf.exists():
                _write(
                    conf,
                    _template("sentinel.conf", NAME=comp, PORT=PORTS[comp][0], DIR=self._dir(comp)),
                )

    def _prepare_web(self) -> None:
        fpm = self._dir("php-fpm")
        pools = "".join(_template("php-fpm-pool.conf", SITE=site, DIR=fpm) for site in SITES)
        fpm_conf = _template("php-fpm.conf", DIR=fpm, POOLS=pools)
        if not (fpm / "php-fpm.conf").exists() or (fpm / "php-fpm.conf").read_text() != fpm_conf:
            # A running php-fpm reloads a changed config (e.g. after a lab upgrade) the one
            # way shared servers change: serialised with site creates, checked first.
            with self.reloads.lock():
                _write(fpm / "php-fpm.conf", fpm_conf)
                if self._pid_of("php-fpm") is not None:
                    self.reloads.check("php-fpm")
                    self.reloads.reload("php-fpm")
        (fpm / "pools").mkdir(exist_ok=True)
        ngx = self._dir("nginx")
        for sub in ("body", "fastcgi", "proxy", "uwsgi", "scgi"):
            (ngx / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        (ngx / "sites").mkdir(exist_ok=True)
        servers = "".join(
            _template(
                "nginx-server.conf",
                HOST=site,
                CONTENT=self._wp_content(site),
                SOCK=fpm / f"{site}.sock",
                MAINT=self.maintenance_dir,
                LOGS=self.site_logs_dir,
            )
            for site in SITES
        )
        self.site_logs_dir.mkdir(exist_ok=True)
        conf = _template("nginx.conf", DIR=ngx, SERVERS=servers)
        if not (ngx / "nginx.conf").exists() or (ngx / "nginx.conf").read_text() != conf:
            # A running nginx reloads a changed config (e.g. after a lab upgrade), the one
            # way shared servers are changed: serialised with site creates, checked first.
            with self.reloads.lock():
                _write(ngx / "nginx.conf", conf)
                if self._pid_of("nginx") is not None:
                    self.reloads.check("nginx")
                    self.reloads.reload("nginx")
        self.maintenance_dir.mkdir(exist_ok=True)
        self.maintenance_dir.chmod(0o755)  # nginx's workers (www-data) test the flag files
        wp_dir = self.root / "wordpress"
        wp_dir.mkdir(exist_ok=True)
        _write(wp_dir / "wp_install.php", _template("wp_install.php"))
        etc = Path("/etc/wordpress")
        etc.mkdir(parents=True, exist_ok=True)
        for site in SITES:
            content = self._wp_content(site)
            if not content.exists():
                shutil.copytree("/var/lib/wordpress/wp-content", content, symlinks=True)
                _chown_tree(content.parent, "www-data")
            theme = content / "themes" / "wpfarm-lab"
            theme.mkdir(parents=True, exist_ok=True)
            _write(theme / "style.css", _template("theme-style.css"))
            _write(theme / "index.php", _template("theme-index.php"))
            _chown_tree(theme, "www-data")
            db = self._db_name(site)
            salts = "\n".join(f"define('{k}', '{v}');" for k, v in self._wp_salts(db).items())
            conf = etc / f"config-{site}.php"
            _write(
                conf,
                _template(
                    "wp-config.php",
                    HOST=site,
                    DB=db,
                    DBPW=self._secret(f"{db}_db_password"),
                    CONTENT=content,
                    SALTS=salts,
                ),
                mode=0o640,
            )
            shutil.chown(conf, "root", "www-data")  # holds the DB password: www-data only

    @property
    def purge_token_file(self) -> Path:
        """Who holds this token may PURGE and BAN the lab's Varnish (as the farm's Docker
        secret varnish_purge_token); the console itself bans through varnishadm."""
        return self._dir("varnish") / "purge_token"

    def _prepare_edge(self) -> None:
        v = self._dir("varnish")
        token = self.purge_token_file
        if not token.exists():
            _write(token, secrets.token_urlsafe(32) + "\n", mode=0o640)
        # Read by varnishd's worker (user vcache, group varnish) when a PURGE or BAN comes.
        shutil.chown(token, "root", "varnish")
        _write(v / "default.vcl", _template("default.vcl", VCL_PURGE=vcl_purge(str(token))))
        if not (v / "secret").exists():
            _write(v / "secret", secrets.token_hex(32) + "\n", mode=0o600)
        t = self._dir("traefik")
        _write(t / "traefik.yml", _template("traefik.yml", DIR=t))
        (t / "dynamic.d").mkdir(exist_ok=True)
        for name, text in (("lab.yml", _template("traefik-dynamic.yml")),
                           ("edge.yml", _template("traefik-edge.yml"))):
            # Only when changed: Traefik watches the directory and would reload for nothing.
            path = t / "dynamic.d" / name
            if not path.exists() or path.read_text() != text:
                _write(path, text)

    def _varnish_vcl(self, say: Progress) -> None:
        """A varnishd that was already running keeps the VCL it started with: when the
        file changed since, load it and switch to it (the cache is kept)."""
        vcl = self._dir("varnish") / "default.vcl"
        text = vcl.read_text()
        listing = self._varnishadm("vcl.list")
        active = next((line.split()[-1] for line in listing.splitlines()
                       if line.startswith("active")), "")
        if active and self._varnishadm("vcl.show", active).strip() == text.strip():
            return
        name = f"lab_{hashlib.sha256(text.encode()).hexdigest()[:12]}"
        if name not in listing.split():
            self._varnishadm("vcl.load", name, str(vcl))
        self._varnishadm("vcl.use", name)
        say(f"varnish: {vcl} changed since varnishd started; loaded it as {name}")

    def _varnishadm(self, *args: str) -> str:
        done = subprocess.run(["varnishadm", "-n", str(self._dir("varnish") / "inst"), *args],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise LabError(f"varnishadm {args[0]}: {(done.stdout + done.stderr).strip()[:300]}")
        return done.stdout

    def _prepare_crowdsec(self) -> None:
        c = self._dir("crowdsec")
        for sub in ("etc", "data", "log", "etc/notifications"):
            (c / sub).mkdir(parents=True, exist_ok=True)
        _write(self._crowdsec_conf, _template("crowdsec.yaml", DIR=c))
        _write(c / "etc" / "profiles.yaml", _template("crowdsec-profiles.yaml"))
        _write(c / "etc" / "simulation.yaml", _template("crowdsec-simulation.yaml"))
        acquis = c / "etc" / "acquis.yaml"
        if not acquis.exists():
            _write(acquis, "# LAPI only (-no-cs): no acquisition\n")
        (c / "etc" / "local_api_credentials.yaml").touch(mode=0o600)

    def _wp_salts(self, db: str) -> dict[str, str]:
        """WordPress keys and salts, made once per site (new ones would log everyone out)."""
        path = self._secret_path(f"{db}_salts.json")
        with contextlib.suppress(OSError, ValueError):
            return json.loads(path.read_text())
        keys = ("AUTH", "SECURE_AUTH", "LOGGED_IN", "NONCE")
        salts = {f"{k}_{kind}": secrets.token_urlsafe(48) for kind in ("KEY", "SALT") for k in keys}
        _write(path, json.dumps(salts, indent=1) + "\n", mode=0o600)
        return salts

    @staticmethod
    def _db_name(site: str) -> str:
        return "wp_" + site.split(".")[0]

    # ------------------------------------------------------------------ generic start

    def _argv(self, component: str) -> list[str]:
        d = self._dir(component)
        if component.startswith("galera-"):
            cnf = self._galera_cnf(int(component[-1]))
            return [self._bin("mariadbd"), f"--defaults-file={cnf}"]
        if component.startswith("sentinel-"):
            return [self._bin("redis-sentinel"), str(self._conf_path(component))]
        if component.startswith("redis-"):
            return [self._bin("redis-server"), str(self._conf_path(component))]
        if component == "php-fpm":
            return [self._bin("php-fpm8.2"), "-y", str(d / "php-fpm.conf"), "-F"]
        if component == "nginx":
            return [self._bin("nginx"), "-c", str(d / "nginx.conf"), "-p", f"{d}/",
                    "-e", str(d / "error.log")]
        if component == "varnish":
            # -F: foreground, so the recorded pid is the manager process itself.
            return [
                self._bin("varnishd"),
                "-F",
                "-a",
                "127.0.0.1:16081",
                "-T",
                "127.0.0.1:16082",
                "-S",
                str(d / "secret"),
                "-f",
                str(d / "default.vcl"),
                "-n",
                str(d / "inst"),
                "-s",
                "malloc,64m",
                "-P",
                str(d / "varnishd.pid"),
            ]
        if component == "traefik":
            return [self._bin("traefik"), f"--configFile={d / 'traefik.yml'}"]
        if component == "crowdsec":
            return [self._bin("crowdsec"), "-c", str(self._crowdsec_conf), "-no-cs"]
        if component == "dockerd":
            # Plain flags work here (bridge + iptables fine). --shutdown-timeout keeps `down`
            # short: busybox httpd ignores SIGTERM and would hold dockerd 10 s per task.
            return [
                self._bin("dockerd"),
                "--data-root",
                str(d / "data"),
                "--exec-root",
                str(d / "exec"),
                "--pidfile",
                str(d / "docker.pid"),
                "-H",
                f"unix://{self._docker_sock}",
                "--shutdown-timeout",
                "3",
            ]
        raise AssertionError(component)

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
        }.get(component)
        if post:
            post(say)

    def _readiness(self, component: str) -> Callable[[], bool]:
        if component.startswith(("redis-", "sentinel-")):
            return lambda: self._redis_ready(component)
        if component == "php-fpm":
            d = self._dir("php-fpm")
            return lambda: all((d / f"{site}.sock").exists() for site in SITES)
        if component == "nginx":
            return lambda: all(self._http(16200, site) == 200 for site in SITES)
        if component == "varnish":
            return lambda: self._http(16081, SITES[0]) > 0
        if component == "traefik":
            return lambda: httpx.get("http://127.0.0.1:16101/ping", timeout=2).status_code == 200
        if component == "crowdsec":
            return lambda: httpx.get("http://127.0.0.1:16180/health", timeout=2).status_code == 200
        if component == "dockerd":
            return self._docker_ping
        raise AssertionError(component)

    @staticmethod
    def _http(port: int, host: str, path: str = "/") -> int:
        r = httpx.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host}, timeout=10)
        return r.status_code

    # ------------------------------------------------------------------ Galera

    def _mysql(self, n: int, sql: str, timeout: float = 30) -> str:
        """Run SQL as root over node n's socket (root has no TCP login); SQL goes via stdin
        so passwords never show up in a process list."""
        out = subprocess.run(
            [self._bin("mariadb"), f"--socket={self._galera_sock(n)}", "-uroot", "-N", "-B"],
            input=sql,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if out.returncode != 0:
            raise LabError(
                f"SQL on galera-{n} failed: {out.stderr.strip()[:300]}; see "
                f"{self._dir(f'galera-{n}') / 'error.log'}"
            )
        return out.stdout

    def _synced(self, n: int) -> bool:
        out = self._mysql(n, "SHOW STATUS LIKE 'wsrep_local_state_comment'", timeout=5)
        return out.split() == ["wsrep_local_state_comment", "Synced"]

    def _grastate(self, n: int) -> dict[str, str]:
        path = self._dir(f"galera-{n}") / "data" / "grastate.dat"
        try:
            lines = path.read_text().splitlines()
        except OSError:
            return {}
        return {
            k.strip(): v.strip()
            for k, _, v in (ln.partition(":") for ln in lines)
            if not k.startswith("#") and v
        }

    def _galera_start_node(self, n: int, say: Progress, extra: list[str] | None = None) -> None:
        comp = f"galera-{n}"
        argv = self._argv(comp) + (extra or [])
        if n in self._recovered and "--wsrep-new-cluster" not in argv:
            argv.append(f"--wsrep-start-position={self._recovered[n]}")
        self._spawn(comp, argv)
        say(f"{comp}: started{' (bootstrapping the cluster)' if extra else ''}")
        self._wait_ready(
            comp, lambda: self._synced(n), say, log=self._dir(comp) / "error.log", what="synced"
        )

    def _galera_up(
        self, say: Progress, on_writable: Callable[[], None] = lambda: None, only: int | None = None
    ) -> None:
        """Bring the Galera cluster (or one node of it) up.

        All down -> bootstrap one node (node 1 on a cold start; else the one marked
        safe_to_bootstrap after a clean stop; else the most advanced after a crash), then the
        others join one at a time. Nodes running already are left alone.
        """
        self._recovered = {}
        running = [n for n in GALERA_NODES if self._pid_of(f"galera-{n}") is not None]
        for n in running:  # already up: just make sure they are synced
            self._wait_ready(
                f"galera-{n}",
                lambda n=n: self._synced(n),
                say,
                log=self._dir(f"galera-{n}") / "error.log",
                what="synced",
            )
        if not running:
            running = [self._galera_bootstrap(say)]
        if only is None:
            self._galera_provision(running[0], say)
        on_writable()
        for n in GALERA_NODES:
            if n not in running and only in (None, n):
                self._galera_start_node(n, say)

    def _galera_bootstrap(self, say: Progress) -> int:
        """Start a new cluster from the right node; returns that node's number."""
        states = {n: self._grastate(n) for n in GALERA_NODES}
        known = [n for n in GALERA_NODES if states[n]]
        if not known:  # never started: a fresh cluster from node 1
            if not (self._dir("galera-1") / "data" / "mysql").exists():
                self._galera_install_db(say)
            self._galera_start_node(1, say, ["--wsrep-new-cluster"])
            return 1
        safe = [n for n in known if states[n].get("safe_to_bootstrap") == "1"]
        if safe:
            boot = safe[0]
            say(f"galera: restarting the cluster from galera-{boot} (clean shutdown state)")
            self._galera_start_node(boot, say, ["--wsrep-new-cluster"])
            return boot
        # Crash: nobody is marked safe. Ask every node for its last committed position.
        say("galera: no node is safe to bootstrap (crash?); recovering positions")
        with ThreadPoolExecutor(max_workers=len(known)) as pool:
            positions = dict(zip(known, pool.map(self._galera_recover, known), strict=True))
        self._recovered = {n: p for n, p in positions.items() if p}
        if not self._recovered:
            raise LabError(
                "galera: --wsrep-recover found no position on any node; see "
                f"{self.root / 'galera'}/galera-*/recover.log; to start over run "
                "`wpfarm lab down` and delete the galera directory"
            )
        boot = max(self._recovered, key=lambda n: int(self._recovered[n].rsplit(":", 1)[1]))
        say(f"galera: bootstrapping galera-{boot} at {self._recovered[boot]}")
        grastate = self._dir(f"galera-{boot}") / "data" / "grastate.dat"
        grastate.write_text(
            re.sub(r"(?m)^safe_to_bootstrap:.*$", "safe_to_bootstrap: 1", grastate.read_text())
        )
        self._galera_start_node(
            boot, say, ["--wsrep-new-cluster", f"--wsrep-start-position={self._recovered[boot]}"]
        )
        return boot

    def _galera_recover(self, n: int) -> str | None:
        log = self._dir(f"galera-{n}") / "recover.log"
        log.unlink(missing_ok=True)
        subprocess.run(
            [
                self._bin("mariadbd"),
                f"--defaults-file={self._galera_cnf(n)}",
                "--wsrep-recover",
                f"--log-error={log}",
            ],
            capture_output=True,
            timeout=120,
        )
        with contextlib.suppress(OSError):
            found = re.findall(r"Recovered position: (\S+:-?\d+)", log.read_text())
            if found:
                return found[-1]
        return None

    def _galera_install_db(self, say: Progress) -> None:
        log = self._dir("galera-1") / "install-db.log"
        with open(log, "w") as fh:
            rc = subprocess.run(
                [
                    self._bin("mariadb-install-db"),
                    f"--defaults-file={self._galera_cnf(1)}",
                    "--user=mysql",
                    "--skip-test-db",
                ],
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=120,
            ).returncode
        if rc != 0:
            raise LabError(f"galera-1: mariadb-install-db failed; see {log}")
        say("galera-1: data directory initialised")

    def _galera_provision(self, n: int, say: Progress) -> None:
        """Console user, site registry, WordPress databases (idempotent; via node n)."""
        pw = self._secret("galera_password")
        sql = [
            f"CREATE USER IF NOT EXISTS 'wpfarm'@'127.0.0.1' IDENTIFIED BY '{pw}';",
            f"ALTER USER 'wpfarm'@'127.0.0.1' IDENTIFIED BY '{pw}';",
            "GRANT ALL ON *.* TO 'wpfarm'@'127.0.0.1' WITH GRANT OPTION;",
            _registry_sql(),
        ]
        for site in SITES:
            db = self._db_name(site)
            dbpw = self._secret(f"{db}_db_password")
            sql += [
                f"CREATE DATABASE IF NOT EXISTS {db};",
                f"CREATE USER IF NOT EXISTS '{db}'@'127.0.0.1' IDENTIFIED BY '{dbpw}';",
                f"ALTER USER '{db}'@'127.0.0.1' IDENTIFIED BY '{dbpw}';",
                f"GRANT ALL ON {db}.* TO '{db}'@'127.0.0.1';",
                "INSERT IGNORE INTO wpfarm.sites (domain, db_name, db_user) "
                f"VALUES ('{site}', '{db}', '{db}');",
            ]
        self._mysql(n, "\n".join(sql))
        say("galera: console user, site registry and site databases in place")

    # ------------------------------------------------------------------ Redis

    def _redis_up(self, say: Progress) -> None:
        order = ("redis-master", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3")
        for comp in order:  # all spawned at once, then waited for
            if self._pid_of(comp) is None:
                self._spawn(comp, self._argv(comp))
                say(f"{comp}: started")
        for comp in order:
            self._start_and_wait(comp, say)

    def _redis_ready(self, component: str) -> bool:
        import redis

        client = redis.Redis(host=LOOPBACK, port=PORTS[component][0], socket_timeout=2)
        try:
            if not client.ping():
                return False
            if component == "redis-replica":
                info = client.info("replication")
                # After a failover it may be the master; otherwise wait for the link.
                return info.get("role") == "master" or info.get("master_link_status") == "up"
            return True
        finally:
            client.close()

    def _redis_seed(self, say: Progress) -> None:
        """A few keys and GETs so INFO shows keyspace hits and misses (best effort)."""
        import redis

        client = redis.Redis(host=LOOPBACK, port=16379, socket_timeout=2)
        try:
            if client.info("replication").get("role") != "master":
                return  # after a failover: leave the data alone
            for i in range(5):
                client.set(f"lab:key:{i}", f"value {i}")
                client.get(f"lab:key:{i}")
            client.get("lab:missing")
        except redis.RedisError:
            pass
        finally:
            client.close()

    # ------------------------------------------------------------------ WordPress + edge

    def _web_up(self, say: Progress, db_ready: threading.Event, db_failed: threading.Event) -> None:
        for comp in ("php-fpm", "nginx", "traefik"):
            if self._pid_of(comp) is None:
                self._spawn(comp, self._argv(comp))
                say(f"{comp}: started")
        self._start_and_wait("php-fpm", say)
        self._start_and_wait("traefik", say)
        db_ready.wait()
        if db_failed.is_set():
            raise LabError("WordPress was not set up because Galera did not start (see above)")
        with ThreadPoolExecutor(max_workers=len(SITES)) as pool:
            list(pool.map(lambda site: self._wp_install(site, say), SITES))
        self._start_and_wait("nginx", say)
        # Varnish only now: before the install WordPress answers with redirects it would cache.
        self._start_and_wait("varnish", say)

    def _wp_install(self, site: str, say: Progress) -> None:
        script = self.root / "wordpress" / "wp_install.php"
        env = dict(os.environ, WPFARM_WP_ADMIN_PW=self._secret("wp_admin_password"))
        title = f"Lab {site.split('.')[0].capitalize()}"
        out = subprocess.run(
            [self._bin("runuser"), "-u", "www-data", "--", self._bin("php"), str(script), site,
             title],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0 or "installed" not in out.stdout:
            log = self.root / "wordpress" / f"install-{site}.log"
            _write(log, out.stdout + out.stderr)
            raise LabError(f"WordPress install of {site} failed; see {log}")
        if out.stdout.startswith("installed"):
            say(f"wordpress: {site} installed")

    # ------------------------------------------------------------------ CrowdSec

    def _cscli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [self._bin("cscli"), "-c", str(self._crowdsec_conf), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and out.returncode != 0:
            raise LabError(
                f"cscli {args[0]} {args[1]} failed: {out.stderr.strip()[-300:]}; "
                f"see {self._log('crowdsec')}"
            )
        return out

    def _crowdsec_setup(self, say: Progress) -> None:
        key_file = self._secret_path("crowdsec_bouncer_key")
        if not key_file.exists() or not key_file.read_text().strip():
            # `bouncers add` refuses an existing name: drop a bouncer whose key we lost.
            self._cscli("bouncers", "delete", BOUNCER_NAME, check=False)
            key = self._cscli("bouncers", "add", BOUNCER_NAME, "-o", "raw").stdout.strip()
            _write(key_file, key + "\n", mode=0o600)
            say(f"crowdsec: bouncer {BOUNCER_NAME} registered (key in {key_file})")
        creds = self._dir("crowdsec") / "etc" / "local_api_credentials.yaml"
        if "password" not in creds.read_text():
            self._cscli("machines", "add", MACHINE_NAME, "--auto", "--force")
        listed = self._cscli("decisions", "list", "-o", "json").stdout.strip()
        if not json.loads(listed or "null"):
            self._cscli(
                "decisions",
                "add",
                "--ip",
                "203.0.113.7",
                "--duration",
                "4h",
                "--reason",
                "lab: wordpress bruteforce",
            )
            self._cscli(
                "decisions",
                "add",
                "--range",
                "198.51.100.0/24",
                "--duration",
                "4h",
                "--reason",
                "lab: wordpress bruteforce",
            )
            say("crowdsec: two sample decisions added")

    # ------------------------------------------------------------------ Docker Swarm

    def _docker(
        self, *args: str, stdin: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        docker = self._bin("docker")
        out = subprocess.run(
            [docker, "-H", f"unix://{self._docker_sock}", *args],
            input=stdin,
            capture_output=True,
            timeout=60,
        )
        if check and out.returncode != 0:
            raise LabError(
                f"docker {' '.join(args[:2])} failed: "
                f"{out.stderr.decode(errors='replace').strip()[-300:]}; "
                f"see {self._log('dockerd')}"
            )
        return out

    def _docker_ping(self) -> bool:
        return self._docker_sock.exists() and self._docker("version", check=False).returncode == 0

    def _docker_setup(self, say: Progress) -> None:
        state = self._docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
        if state == b"inactive":
            self._docker(
                "swarm", "init", "--advertise-addr", LOOPBACK, "--listen-addr", f"{LOOPBACK}:2377"
            )
            say("dockerd: swarm initialised")
        if self._docker("image", "inspect", DOCKER_IMAGE, check=False).returncode != 0:
            # No registry is reachable: an image made of busybox-static alone.
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                tar.add(self._bin("busybox"), arcname="bin/busybox")
                link = tarfile.TarInfo("bin/sh")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
            self._docker(
                "import",
                "-c",
                'CMD ["/bin/busybox", "sh"]',
                "-",
                DOCKER_IMAGE,
                stdin=buf.getvalue(),
            )
            say(f"dockerd: image {DOCKER_IMAGE} imported")
        if self._docker("service", "inspect", DOCKER_SERVICE, check=False).returncode != 0:
            # dnsrr: this kernel has no IPVS, so service VIPs would not work.
            self._docker(
                "service",
                "create",
                "--detach",
                "--no-resolve-image",
                "--name",
                DOCKER_SERVICE,
                "--replicas",
                "2",
                "--endpoint-mode",
                "dnsrr",
                # busybox httpd as pid 1 ignores SIGTERM: do not hold dockerd's shutdown 10 s.
                "--stop-grace-period",
                "1s",
                DOCKER_IMAGE,
                "/bin/busybox",
                "httpd",
                "-f",
                "-p",
                "8080",
            )
            say(f"dockerd: service {DOCKER_SERVICE} created")
        self._wait_ready("dockerd", self._swarm_ready, say, what="swarm ready")

    def _swarm_ready(self) -> bool:
        nodes = self._docker("node", "ls", "--format", "{{.Status}}").stdout.split()
        tasks = self._docker(
            "service",
            "ps",
            DOCKER_SERVICE,
            "--filter",
            "desired-state=running",
            "--format",
            "{{.CurrentState}}",
        ).stdout
        running = [t for t in tasks.splitlines() if t.startswith(b"Running")]
        return nodes == [b"Ready"] and len(running) >= 2

    # ------------------------------------------------------------------ farm.yaml

    def _write_farm_file(self) -> None:
        local = LOOPBACK
        farm = {
            "farm": {"name": "lab", "domain": "lab.test", "profile": "lab"},
            "nodes": [
                {
                    "name": "lab1",
                    "address": local,
                    "ssh": {"user": "root", "port": 22, "key": "~/.ssh/id_ed25519"},
                    "roles": ["manager", "worker", "db", "cache", "storage", "ops"],
                }
            ],
            "endpoints": {
                "docker": {"host": f"unix://{self._docker_sock}", "timeout": 5},
                "galera": {
                    "user": "wpfarm",
                    "password": {"file": str(self._secret_path("galera_password"))},
                    "timeout": 2,
                    "nodes": [
                        {"name": f"galera-{n}", "host": local, "port": 33060 + n}
                        for n in GALERA_NODES
                    ],
                },
                "redis": {
                    "master_name": "mymaster",
                    "timeout": 2,
                    "instances": [
                        {"name": "redis-master", "host": local, "port": 16379},
                        {"name": "redis-replica", "host": local, "port": 16380},
                    ],
                    "sentinels": [
                        {"name": f"sentinel-{n}", "host": local, "port": 16380 + n}
                        for n in (1, 2, 3)
                    ],
                },
                "varnish": {
                    "timeout": 3,
                    "instances": [
                        {"name": "varnish", "workdir": str(self._dir("varnish") / "inst")}
                    ],
                },
                "traefik": {"api": "http://127.0.0.1:16101",
                            "metrics": "http://127.0.0.1:16101/metrics", "timeout": 2},
                "crowdsec": {
                    "lapi": "http://127.0.0.1:16180",
                    "bouncer_key": {"file": str(self._secret_path("crowdsec_bouncer_key"))},
                    "timeout": 2,
                    "machine_credentials": {
                        "file": str(self._dir("crowdsec") / "etc" / "local_api_credentials.yaml")
                    },
                },
            },
            "sites": {
                "edge_url": "http://127.0.0.1:16100",
                "registry": "galera",
                "timeout": 5,
                "verify_tls": False,
                "maintenance_dir": str(self.maintenance_dir),
            },
            "backup": {
                # A local repository: the lab shows backups working, not the offsite copy.
                "repository": str(self.restic_repository),
                "password": {"file": str(self._secret_path("restic_password"))},
                "sites_root": str(self.root / "wordpress"),
            },
            "refresh": {"interval": 1.0, "max_backoff": 10.0},
            "thresholds": {
                "response_time_ms": {"warning": 500, "critical": 2000},
                "cache_hit_ratio": {"warning": 80, "critical": 60},
                "cache_memory": {"warning": 80, "critical": 95},
                "db_connections": {"warning": 80, "critical": 95},
                "replication_lag_s": {"warning": 1, "critical": 5},
            },
        }
        header = (
            f"# Generated by `wpfarm lab up` for the loopback lab in {self.root}.\n"
            "# Rewritten on every `wpfarm lab up`: edit a copy, not this file.\n"
        )
        _write(self.farm_file, header + yaml.safe_dump(farm, sort_keys=False))
