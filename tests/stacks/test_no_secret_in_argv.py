"""No secret on a command line: argv is readable by every process on the node
(/proc/<pid>/cmdline), the environment only by the process's owner.

The rendered stacks are read for secrets passed as flags; then the shell the containers
run (healthchecks, start scripts) runs here under strace, with real secret files and a
real Redis, and every program it starts is checked for the secret values in its argv.
The shipped files are never edited: paths that exist only in the container are
rewritten in a copy, and the daemon a start script finally execs is a stub that checks
the file it was given (ProxySQL has no Debian package).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.stacks.test_render import farm_yaml
from tests.stacks.test_validators import free_port, need, server, wait_for
from wpfarm_tui.inventory import parse_farm
from wpfarm_tui.stacks import render_farm

# A flag that takes a password (redis-cli -a, mysql -pX / --password=, curl -u user:pw,
# redis-server --requirepass), followed by a value rather than a file name.
_PASSWORD_FLAG = re.compile(r"(^|\s)(-a\s|-p[\"'$]|--password[= ]|--pass\b|-u\s+\S+:|"
                            r"--requirepass|--masterauth)")
# A secret file's content substituted into a command line: allowed only as the value of
# an environment assignment (NAME="$(cat /run/secrets/x)" cmd ...).
_SUBSTITUTION = re.compile(r"\$\$?\((cat|tr|head)\b[^)]*/run/secrets/[^)]*\)")


@pytest.fixture(scope="module")
def rendered() -> Iterator[Path]:
    out = Path(tempfile.mkdtemp(prefix="wpfarm-argv-"))
    try:
        render_farm(parse_farm(farm_yaml()), out)
        yield out / "docker"
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _command_lines(rendered: Path) -> Iterator[tuple[str, str]]:
    """(where, text) of every healthcheck, command and entrypoint of every service."""
    for stack in sorted((rendered / "compose").glob("*.yml")):
        doc = yaml.safe_load(stack.read_text()) or {}
        for name, svc in (doc.get("services") or {}).items():
            for key in ("command", "entrypoint"):
                value = (svc or {}).get(key)
                if value:
                    yield f"{stack.name} {name} {key}", " ".join(map(str, value)) \
                        if isinstance(value, list) else str(value)
            test = ((svc or {}).get("healthcheck") or {}).get("test")
            if test:
                yield f"{stack.name} {name} healthcheck", " ".join(map(str, test[1:])) \
                    if isinstance(test, list) else str(test)


def test_no_password_flag_or_secret_substitution_in_a_command_line(rendered: Path) -> None:
    lines = list(_command_lines(rendered))
    assert any("redis-cli" in text for _where, text in lines)  # the healthchecks were read
    for where, text in lines:
        assert not _PASSWORD_FLAG.search(text), f"{where}: a password flag: {text}"
        for m in _SUBSTITUTION.finditer(text):
            before = text[: m.start()]
            assert re.search(r"(^|[\s;&|(])[A-Z_][A-Z0-9_]*=\"?$", before), (
                f"{where}: a secret substituted into a command's arguments (give it in the "
                f"environment instead): {text}")


# ---------------------------------------------------------------- traced for real
def _traced(cmd: list[str], log: Path, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `cmd` under strace, every execve (with its full argv) written to `log`."""
    strace = need("strace")
    return subprocess.run([strace, "-f", "-qq", "-s", "65535", "-e", "trace=execve",
                           "-o", str(log), *cmd], capture_output=True, text=True,
                          timeout=60, env=env, cwd=cwd)


def _assert_no_secret_in_execs(log: Path, secrets: list[str], expect: str) -> None:
    execs = [line for line in log.read_text().splitlines() if "execve(" in line]
    assert any(expect in line for line in execs), f"{expect} never ran: {execs}"
    for line in execs:
        for value in secrets:
            assert value not in line, f"a secret in a command line: {line[:300]}"


def _secrets_dir(tmp: Path, **values: str) -> Path:
    d = tmp / "secrets"
    d.mkdir()
    for name, value in values.items():
        (d / name).write_text(value + "\n")
    return d


def test_redis_healthcheck_authenticates_without_the_password_in_argv(
        rendered: Path, tmp_path: Path) -> None:
    redis_server = need("redis-server")
    need("redis-cli")
    password = "hc-Secret-7f3a9c"
    secrets = _secrets_dir(tmp_path, redis_password=password)
    port = free_port(16700, 16799)
    doc = yaml.safe_load((rendered / "compose/redis.yml").read_text())
    test = doc["services"]["redis-cache-1"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    # Compose turns `$$` into `$`; the port and the secret's path exist only in the task.
    shell = test[1].replace("$$", "$").replace("-p 6379", f"-p {port}").replace(
        "/run/secrets/", f"{secrets}/")
    with server([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--requirepass", password], tmp_path / "redis.log"):
        wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"],
                                        capture_output=True, text=True).returncode == 0,
                 10, "redis")
        done = _traced(["sh", "-c", shell], tmp_path / "trace.log")
    assert done.returncode == 0, f"healthcheck failed: {done.stdout}{done.stderr}"
    _assert_no_secret_in_execs(tmp_path / "trace.log", [password], "redis-cli")


def test_redis_start_script_writes_the_password_only_into_the_config(
        rendered: Path, tmp_path: Path) -> None:
    password = "start-Secret-51c0de"
    secrets = _secrets_dir(tmp_path, redis_password=password)
    data = tmp_path / "data"
    script = (rendered / "configs/redis/start.sh").read_text()
    script = script.replace("/run/secrets/", f"{secrets}/").replace("/data", str(data))
    (tmp_path / "start.sh").write_text(script)
    stub = tmp_path / "bin"
    stub.mkdir()
    # Stands in for redis-server: what it was started with is what the test checks.
    (stub / "redis-server").write_text("#!/bin/sh\nexit 0\n")
    (stub / "redis-server").chmod(0o755)
    src = tmp_path / "redis-cache.conf"
    src.write_text((rendered / "configs/redis/redis-cache.conf").read_text())
    env = {"PATH": f"{stub}:/usr/bin:/bin"}
    for kind in ("redis", "sentinel"):
        done = _traced(["sh", str(tmp_path / "start.sh"), kind, str(src)],
                       tmp_path / f"{kind}.log", env=env)
        assert done.returncode == 0, done.stderr
        _assert_no_secret_in_execs(tmp_path / f"{kind}.log", [password], "redis-server")
    assert password in (data / "redis.conf").read_text()
    assert password in (data / "sentinel.conf").read_text()


def test_proxysql_start_fills_the_secrets_without_putting_them_in_argv(
        rendered: Path, tmp_path: Path) -> None:
    values = {"proxysql_admin_password": "admin-S3cret&1",
              "proxysql_monitor_password": "monitor-S3cret|2",
              "mariadb_wordpress_password": "wp-S3cret\\3"}
    secrets = _secrets_dir(tmp_path, **values)
    lib = tmp_path / "lib"
    lib.mkdir()
    tmpl = tmp_path / "proxysql.cnf.tmpl"
    tmpl.write_text((rendered / "configs/proxysql/proxysql.cnf").read_text())
    script = (rendered / "configs/proxysql/proxysql-start.sh").read_text()
    script = (script.replace("/run/secrets/", f"{secrets}/")
              .replace("/etc/proxysql/proxysql.cnf.tmpl", str(tmpl))
              .replace("/var/lib/proxysql", str(lib)))
    (tmp_path / "start.sh").write_text(script)
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "proxysql").write_text("#!/bin/sh\necho started\n")
    (stub / "proxysql").chmod(0o755)
    done = _traced(["sh", str(tmp_path / "start.sh")], tmp_path / "trace.log",
                   env={"PATH": f"{stub}:/usr/bin:/bin"})
    assert done.returncode == 0 and "started" in done.stdout, done.stderr
    _assert_no_secret_in_execs(tmp_path / "trace.log", list(values.values()), "proxysql")
    filled = (lib / "proxysql.cnf").read_text()
    assert not re.search(r"__SECRET_[a-z]", filled)
    assert 'admin_credentials="radmin:admin-S3cret&1"' in filled
    assert 'monitor_password="monitor-S3cret|2"' in filled
    assert 'password="wp-S3cret\\3"' in filled


def test_galera_start_writes_the_sst_password_only_into_a_file(
        rendered: Path, tmp_path: Path) -> None:
    password = "sst-S3cret-9d8e"
    secrets = _secrets_dir(tmp_path, galera_sst_password=password)
    conf = tmp_path / "conf.d"
    conf.mkdir()
    script = (rendered / "configs/mariadb/galera-start.sh").read_text()
    script = (script.replace("/run/secrets/", f"{secrets}/")
              .replace("/etc/mysql/conf.d/", f"{conf}/")
              .replace("chown mysql:mysql", "true"))  # no mysql user needed here
    (tmp_path / "start.sh").write_text(script)
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "docker-entrypoint.sh").write_text("#!/bin/sh\necho started\n")
    (stub / "docker-entrypoint.sh").chmod(0o755)
    done = _traced([need("bash"), str(tmp_path / "start.sh")], tmp_path / "trace.log",
                   env={"PATH": f"{stub}:/usr/bin:/bin", "WPFARM_GALERA_NODE": "db1"})
    assert done.returncode == 0 and "started" in done.stdout, done.stderr
    _assert_no_secret_in_execs(tmp_path / "trace.log", [password], "docker-entrypoint.sh")
    assert f"mariabackup:{password}" in (conf / "zz-sst-auth.cnf").read_text()
