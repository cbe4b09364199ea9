"""The deploy step that finishes the database layer: accounts, site databases, registry.

The rendered init.sql creates no account: this step is the one place that says which
database accounts exist, what each may do (least privilege) and which Docker secret holds
its password. It runs as a one-off Swarm job (ReplicatedJob, restart none) on the db
overlay network, in the Galera image, with the secrets mounted under /run/secrets: the
passwords never leave the job's container, never appear in an argv or an environment
(the SQL is generated there and goes to `mariadb` on stdin; logins use a private
--defaults-extra-file). Galera replicates CREATE/ALTER USER and GRANT, so one node is
enough.

Idempotent: an account that already logs in with its secret is left alone (reported
"ok"); the grants and the registry schema are IF NOT EXISTS / additive. `check` only
logs in as each account and reads wpfarm.sites as the console's account (verify).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import docker

from wpfarm_tui.farm.galera_swarm import job_name, parse_job_output, wrap_script

ROOT_SECRET = "mariadb_root_password"
CONSOLE_USER = "wpfarm_monitor"
_TERMINAL = {"complete", "failed", "shutdown", "rejected", "orphaned", "remove"}
_DB_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


@dataclass(frozen=True)
class Account:
    user: str
    secret: str        # the Docker secret with its password
    grants: tuple[str, ...]
    who: str           # who logs in with it (plan and report)
    cnf: bool = False  # the secret is a my.cnf: the password is its `password=` line
    options: str = ""  # CREATE USER ... <options>


# Every account the stacks and the console use; nothing else has a login but root.
ACCOUNTS: tuple[Account, ...] = (
    Account("wordpress", "mariadb_wordpress_password",
            ("ALL PRIVILEGES ON `wp\\_%`.*",), "WordPress (through ProxySQL)"),
    Account("monitor", "proxysql_monitor_password",
            ("USAGE, REPLICATION CLIENT ON *.*",), "ProxySQL's health checks"),
    Account("mariabackup", "galera_sst_password",
            ("RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.*",),
            "Galera state transfers (mariabackup SST)"),
    Account("backup", "mariadb_backup_password",
            ("SELECT, SHOW VIEW, TRIGGER, LOCK TABLES, EVENT, RELOAD, PROCESS ON *.*",),
            "the backup stack's dumps"),
    Account("exporter", "mysqld_exporter_my_cnf",
            ("PROCESS, REPLICATION CLIENT, SELECT ON *.*",), "mysqld_exporter", cnf=True,
            options="WITH MAX_USER_CONNECTIONS 3"),
    # The console's own login (farm.yaml endpoints.galera): wsrep status, the site
    # registry, database sizes (SHOW VIEW makes the sites' tables visible in
    # information_schema without reading a row).
    Account(CONSOLE_USER, "galera_monitor_password",
            ("PROCESS, BINLOG MONITOR ON *.*",
             "SELECT, INSERT, UPDATE, DELETE ON `wpfarm`.*",
             "SHOW VIEW ON `wp\\_%`.*"), "the wpfarm console"),
)


def registry_sql() -> str:
    return resources.files("wpfarm_tui").joinpath("data", "registry.sql").read_text()


# Shell run in the job (POSIX sh). No secret is ever in an argument: each password is read
# from /run/secrets into a shell variable, written to a 0600 option file or escaped into
# SQL that printf (a builtin) pipes into `mariadb`.
_PRELUDE = r"""
set -u
umask 077
S=/run/secrets
pw() { # the password in secret $1 (a my.cnf's password= line when $2 = cnf)
  if [ "${2:-}" = cnf ]; then
    sed -n 's/^[[:space:]]*password[[:space:]]*=[[:space:]]*//p' "$S/$1" | head -n 1 |
      sed -e 's/[[:space:]]*$//' -e 's/^"\(.*\)"$/\1/' -e "s/^'\(.*\)'$/\1/"
  else cat "$S/$1"; fi
}
sqlq() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/''/g"; }
cnf() { # option file $1 for user $2 with password $3
  printf '[client]\nuser=%s\npassword="%s"\n' "$2" \
    "$(printf '%s' "$3" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')" > "$1"
}
login() { # user, password: 0 when the account logs in
  cnf /tmp/u.cnf "$1" "$2"
  mariadb --defaults-extra-file=/tmp/u.cnf -h "$H" -N -e 'SELECT 1' >/tmp/login.err 2>&1
}
cnf /tmp/root.cnf root "$(pw mariadb_root_password)"
H=""
for h in $HOSTS; do
  if mariadb --defaults-extra-file=/tmp/root.cnf -h "$h" -N -e 'SELECT 1' >/tmp/h.err 2>&1
  then H=$h; break; fi
done
if [ -z "$H" ]; then
  echo "nohost $(tr '\n' ' ' < /tmp/h.err | cut -c1-300)"; exit 4
fi
echo "host $H"
root() { mariadb --defaults-extra-file=/tmp/root.cnf -h "$H" -N "$@"; }
"""


def _q(text: str) -> str:
    """A single-quoted shell word."""
    return "'" + text.replace("'", "'\\''") + "'"


def script(accounts: Sequence[Account], databases: Sequence[str], hosts: Sequence[str],
           check_only: bool) -> str:
    lines = [f"HOSTS={_q(' '.join(hosts))}", _PRELUDE]
    if not check_only:
        sql = [f"CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4 "
               "COLLATE utf8mb4_unicode_ci;" for db in databases]
        lines.append("root <<'__WPFARM_SQL__' || { echo 'failed databases'; exit 5; }\n"
                     + "\n".join(sql) + "\n" + registry_sql() + "\n__WPFARM_SQL__")
        lines.append("echo schema ok")
    err = "$(tr '\\n' ' ' < /tmp/login.err | cut -c1-200)"
    for a in accounts:
        u = a.user
        lines.append(f'P="$(pw {a.secret} {"cnf" if a.cnf else ""})"')
        lines.append(f'if [ -z "$P" ]; then echo "acct {u} nopassword"; else')
        if check_only:
            lines.append(f'  if login {u} "$P"; then echo "acct {u} ok"; else '
                         f'echo "acct {u} fail {err}"; fi')
        else:
            grants = " ".join(_q(f"GRANT {g} TO '{u}'@'%';") for g in a.grants)
            lines.append(
                f'  if login {u} "$P"; then state=ok; else state=set; fi\n'
                f'  Q="$(sqlq "$P")"\n'
                f"  {{ printf \"CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s' %s;\\n\" "
                f'{u} "$Q" {_q(a.options)}\n'
                f"    if [ $state = set ]; then printf \"ALTER USER '%s'@'%%' IDENTIFIED BY "
                f"'%s' ACCOUNT UNLOCK;\\n\" {u} \"$Q\"; fi\n"
                f"    printf '%s\\n' {grants}; }} | root >/tmp/sql.err 2>&1 ||\n"
                f"    state=\"error $(tr '\\n' ' ' < /tmp/sql.err | cut -c1-200)\"\n"
                f'  if [ "$state" = set ] && ! login {u} "$P"; then state="fail {err}"; fi\n'
                f'  echo "acct {u} $state"')
        lines.append("fi")
    # The console's read of the registry, as the console's account.
    lines.append(f'cnf /tmp/u.cnf {CONSOLE_USER} "$(pw galera_monitor_password)"\n'
                 "if mariadb --defaults-extra-file=/tmp/u.cnf -h \"$H\" -N -e "
                 "'SELECT 1 FROM wpfarm.sites LIMIT 1' >/tmp/reg.err 2>&1; "
                 "then echo 'registry ok'; else "
                 "echo \"registry fail $(tr '\\n' ' ' < /tmp/reg.err | cut -c1-200)\"; fi")
    lines.append("rm -f /tmp/*.cnf")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Outcome:
    """What the job found: per account "ok" (logged in already), "set" (password set and
    unlocked), or a failure sentence; the registry read; accounts left without a secret."""
    host: str
    accounts: Mapping[str, str]
    registry: str
    missing: tuple[str, ...]

    @property
    def problems(self) -> list[str]:
        out = [f"{u}: {s}" for u, s in self.accounts.items() if s not in ("ok", "set")]
        if self.registry != "ok":
            out.append(f"wpfarm.sites as {CONSOLE_USER}: {self.registry}")
        return out


def parse(text: str, missing: Sequence[str]) -> Outcome:
    host, registry, accounts = "", "not checked", {}
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word == "host":
            host = rest
        elif word == "registry":
            registry = rest
        elif word == "acct":
            user, _, state = rest.partition(" ")
            state = state.strip()
            accounts[user] = ("its secret has no password= line"
                              if state == "nopassword" else state)
    return Outcome(host, accounts, registry, tuple(missing))


class AccountsJob:
    """Runs the script above as a one-off job on the db network."""

    def __init__(self, api: docker.APIClient, *, image: str, network: str,
                 hosts: Sequence[str], databases: Sequence[str] = (),
                 placement: Sequence[str] = (), timeout: float = 180.0,
                 poll: float = 1.0) -> None:
        self.api, self.image, self.network = api, image, network
        self.hosts, self.databases = list(hosts), [d for d in databases if _DB_NAME.match(d)]
        self.placement, self.timeout, self.poll = list(placement), timeout, poll

    def secrets(self) -> dict[str, str]:
        return {s["Spec"]["Name"]: s["ID"] for s in self.api.secrets()}

    def split(self, have: Mapping[str, str]) -> tuple[list[Account], list[str]]:
        """Accounts whose secret exists, and the secrets missing (their account stays
        without a usable login)."""
        ready = [a for a in ACCOUNTS if a.secret in have]
        return ready, [a.secret for a in ACCOUNTS if a.secret not in have]

    def run(self, check_only: bool) -> Outcome:
        have = self.secrets()
        if ROOT_SECRET not in have:
            raise RuntimeError(f"Docker secret {ROOT_SECRET} is missing: create it first")
        if "galera_monitor_password" not in have:
            raise RuntimeError("Docker secret galera_monitor_password (the console's "
                               "database login) is missing: create it, e.g. `wpfarm "
                               "bootstrap`, or `printf '%s' VALUE | docker secret create "
                               "galera_monitor_password -`")
        # A job an interrupted run left (finished or not): never two at once.
        for job in self.api.services(filters={"label": "wpfarm.job=db-accounts"}):
            with contextlib.suppress(docker.errors.NotFound):
                self.api.remove_service(job["ID"])
        ready, missing = self.split(have)
        body = script(ready, self.databases, self.hosts, check_only)
        names = sorted({ROOT_SECRET, *(a.secret for a in ready)})
        spec = {
            "Name": job_name("wpfarm-db-accounts", "check" if check_only else "apply"),
            "Labels": {"wpfarm.job": "db-accounts"},
            "TaskTemplate": {
                "ContainerSpec": {
                    "Image": self.image,
                    "Command": ["/bin/sh", "-c", wrap_script(body)],
                    "Healthcheck": {"Test": ["NONE"]},
                    "Secrets": [{"SecretID": have[n], "SecretName": n,
                                 "File": {"Name": n, "UID": "0", "GID": "0", "Mode": 0o400}}
                                for n in names],
                },
                "Networks": [{"Target": self.network}],
                "Placement": {"Constraints": self.placement},
                "RestartPolicy": {"Condition": "none", "MaxAttempts": 0},
            },
            "Mode": {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}},
        }
        code, text = self._run(spec)
        if code == 4:
            raise RuntimeError(f"no Galera node answered root's login from the db network "
                               f"({', '.join(self.hosts)}): {text.strip()[-300:]}")
        if code not in (0,):
            raise RuntimeError(f"the accounts job exited {code}: {text.strip()[-300:]}")
        return parse(text, missing)

    def _run(self, spec: dict[str, Any]) -> tuple[int, str]:
        api = self.api
        job_id = api._result(api._post_json(api._url("/services/create"), data=spec),
                             True)["ID"]
        try:
            deadline = time.monotonic() + self.timeout
            task = None
            while time.monotonic() < deadline:
                done = [t for t in api.tasks(filters={"service": job_id})
                        if t["Status"]["State"] in _TERMINAL]
                if done:
                    task = done[0]
                    break
                time.sleep(self.poll)
            if task is None:
                raise RuntimeError(f"the accounts job ({spec['Name']}) did not finish in "
                                   f"{self.timeout:.0f} s")
            parsed, text = None, ""
            logs_deadline = time.monotonic() + 10
            while parsed is None and time.monotonic() < logs_deadline:
                chunks = api.service_logs(job_id, stdout=True, stderr=True, follow=False,
                                          timestamps=False, is_tty=False)
                text = b"".join(chunks).decode(errors="replace")
                parsed = parse_job_output(text)
                if parsed is None:
                    time.sleep(0.5)
            if parsed is None:
                err = task["Status"].get("Err") or task["Status"]["State"]
                raise RuntimeError(f"no output from the accounts job ({err}): "
                                   f"{text.strip()[-300:]}")
            return parsed
        finally:
            with contextlib.suppress(docker.errors.APIError):
                api.remove_service(job_id)
