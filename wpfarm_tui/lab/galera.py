"""The lab's MariaDB Galera cluster of three nodes: configuration, bootstrap (cold start,
clean stop or crash), joiners, provisioning, and the node control `wpfarm` actions use."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any

from wpfarm_tui.files import write_atomic
from wpfarm_tui.lab.base import GALERA_NODES, PORTS, SITES, LabBase, LabError, Progress, _template


def _registry_sql() -> str:
    return resources.files("wpfarm_tui").joinpath("data", "registry.sql").read_text()


class GaleraMixin(LabBase):

    # ------------------------------------------------------------------ for actions

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

    # ------------------------------------------------------------------ configuration

    def _prepare_galera(self) -> None:
        for n in GALERA_NODES:
            comp = f"galera-{n}"
            d = self._dir(comp)
            write_atomic(
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

    def _galera_argv(self, n: int) -> list[str]:
        return [self._bin("mariadbd"), f"--defaults-file={self._galera_cnf(n)}"]

    # ------------------------------------------------------------------ up

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
