"""`wpfarm completion bash|zsh|fish`: each script loaded into the real shell, which calls
this checkout's `wpfarm` back for the words (verbs, options, farm.yaml's names).

bash: the script's function called as bash's completion would (COMP_LINE, COMP_POINT);
zsh: an interactive zsh on a pty, Tab pressed; fish: fish's own `complete -C`.
"""

from __future__ import annotations

import os
import pty
import select
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.needs import unavailable

ROOT = Path(__file__).parents[2]
SECRET = "s3cret-never-shown-4711"
FARM = """\
farm: {{name: comp, domain: comp.test}}
nodes:
  - {{name: mgr1, address: 127.0.0.1, roles: [manager]}}
  - {{name: db1, address: 127.0.0.1, roles: [db]}}
endpoints:
  docker: {{host: "{docker}"}}
  galera:
    user: mon
    password: {{env: COMP_DB_PW}}
    nodes: [{{name: gal-a, host: 127.0.0.1, port: 9}}, {{name: gal-b, host: 127.0.0.1, port: 9}}]
sites:
  static: [alpha.test, beta.test]
"""


@pytest.fixture
def farm_env(tmp_path: Path):
    """A bin/wpfarm running this checkout, a farm.yaml with a render/ beside it, and the
    environment a shell gets. Returns (env, farm.yaml path)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "wpfarm"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m wpfarm_tui "$@"\n')
    wrapper.chmod(0o755)
    compose = tmp_path / "render" / "docker" / "compose"
    compose.mkdir(parents=True)
    (compose / "mariadb.yml").write_text("services:\n  galera: {}\n")
    (compose / "wordpress.yml").write_text("services:\n  php: {}\n")
    farm = tmp_path / "farm.yaml"
    farm.write_text(FARM.format(docker="ssh://root@127.0.0.1"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_ARC", "COMP_", "WPFARM"))}
    env.update(PATH=f"{bin_dir}:{env['PATH']}", PYTHONPATH=str(ROOT), HOME=str(tmp_path),
               WPFARM_FARM=str(farm), COMP_DB_PW=SECRET, TERM="xterm")
    return env, farm


def script(shell: str, env: dict[str, str], tmp_path: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "wpfarm_tui", "completion", shell], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    path = tmp_path / f"wpfarm.{shell}"
    path.write_text(done.stdout)
    return path


def need(shell: str) -> str:
    path = shutil.which(shell)
    if path is None:
        unavailable(f"{shell} is not installed (scripts/install-deps.sh installs it)")
    return path


# ---------------------------------------------------------------- bash
def bash_complete(env: dict[str, str], code: Path, line: str) -> list[str]:
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    prog = f"""source {shlex.quote(str(code))}
COMP_LINE={shlex.quote(line)}; COMP_POINT=${{#COMP_LINE}}; COMP_TYPE=9
COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}
_python_argcomplete wpfarm {shlex.quote(words[-1])} {shlex.quote(words[-2])}
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run([need("bash"), "--norc", "-c", prog], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    return [w.strip() for w in done.stdout.splitlines() if w.strip()]


def test_bash_completes_verbs_options_and_farm_names(farm_env, tmp_path):
    env, farm = farm_env
    code = script("bash", env, tmp_path)
    assert {"site", "status", "service", "swarmlab"} <= set(bash_complete(env, code,
                                                                          "wpfarm s"))
    assert {"list", "delete", "create"} <= set(bash_complete(env, code, "wpfarm site "))
    # Options at depth 2, the global ones included.
    assert {"--farm", "--filter"} == set(bash_complete(env, code, "wpfarm site list --f"))
    assert "--read-only" in bash_complete(env, code, "wpfarm galera rejoin --r")
    # farm.yaml's names; rendered services; sites.static.
    assert bash_complete(env, code, "wpfarm bootstrap ") == ["mgr1", "db1"]
    assert bash_complete(env, code, "wpfarm galera rejoin gal") == ["gal-a", "gal-b"]
    assert bash_complete(env, code, "wpfarm service scale ") == ["db_galera", "wp_php"]
    assert bash_complete(env, code, "wpfarm site delete ") == ["alpha.test", "beta.test"]
    assert bash_complete(env, code, "wpfarm completion ") == ["bash", "zsh", "fish"]


def test_bash_uses_the_farm_named_after_the_verb(farm_env, tmp_path):
    env, farm = farm_env
    other = tmp_path / "other.yaml"
    other.write_text(FARM.format(docker="ssh://x").replace("gal-a", "far-a"))
    code = script("bash", env, tmp_path)
    assert bash_complete(env, code, f"wpfarm galera rejoin --farm {other} ") == [
        "far-a", "gal-b"]
    assert bash_complete(env, code, f"wpfarm --farm {other} galera rejoin f") == ["far-a"]


def test_completers_never_wait_on_the_docker_api(farm_env, tmp_path):
    """A remote Docker API is never asked; a local socket that never answers costs 1 s."""
    env, farm = farm_env
    code = script("bash", env, tmp_path)
    remote = socket.create_server(("127.0.0.1", 0))
    silent = socket.socket(socket.AF_UNIX)
    silent.bind(str(tmp_path / "silent.sock"))
    silent.listen(8)  # connections queue, nothing ever answers
    try:
        farm.write_text(FARM.format(docker=f"tcp://127.0.0.1:{remote.getsockname()[1]}"))
        started = time.monotonic()
        assert bash_complete(env, code, "wpfarm service scale ") == ["db_galera", "wp_php"]
        baseline = time.monotonic() - started
        remote.settimeout(0)
        with pytest.raises(BlockingIOError):
            remote.accept()  # nobody connected
        farm.write_text(FARM.format(docker=f"unix://{tmp_path / 'silent.sock'}"))
        started = time.monotonic()
        assert bash_complete(env, code, "wpfarm service scale ") == ["db_galera", "wp_php"]
        # The 1 s timeout, not the Docker SDK's 60 s (slack for a loaded machine).
        assert time.monotonic() - started < baseline + 20
    finally:
        remote.close()
        silent.close()


# ---------------------------------------------------------------- zsh
def interactive(argv: list[str], env: dict[str, str], setup: str, line: str,
                expect: list[str], timeout: float = 30) -> str:
    """Start a shell on a pty, run `setup`, type `line` and Tab Tab; the screen's text once
    every `expect` shows (or the deadline passes)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    out = b""

    def read_until(done, deadline: float) -> None:
        nonlocal out
        while not done() and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    return

    try:
        os.write(master, (setup + "; echo RE''ADY\n").encode())
        read_until(lambda: b"READY\r\n" in out, time.monotonic() + timeout)
        assert b"READY\r\n" in out, out.decode(errors="replace")
        out = b""
        os.write(master, line.encode() + b"\t")
        time.sleep(1.0)
        os.write(master, b"\t")
        read_until(lambda: all(e.encode() in out for e in expect), time.monotonic() + timeout)
        return out.decode(errors="replace")
    finally:
        proc.kill()
        proc.wait()
        os.close(master)


def test_zsh_tab_completes_in_an_interactive_zsh(farm_env, tmp_path):
    env, _ = farm_env
    code = script("zsh", env, tmp_path)
    zsh = need("zsh")
    setup = f"PS1='> '; autoload -U compinit && compinit -u -D; source {code}"
    screen = interactive([zsh, "-f", "-i"], env, setup, "wpfarm galera rejoin ",
                         ["gal-a", "gal-b"])
    assert "gal-a" in screen and "gal-b" in screen, screen
    assert SECRET not in screen
    screen = interactive([zsh, "-f", "-i"], env, setup, "wpfarm site list --fa", ["--farm"])
    assert "--farm" in screen, screen


# ---------------------------------------------------------------- fish
def fish_complete(env: dict[str, str], code: Path, line: str) -> list[str]:
    done = subprocess.run([need("fish"), "--no-config", "-c",
                           f"source {shlex.quote(str(code))}; complete -C {shlex.quote(line)}"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    return [w.split("\t")[0] for w in done.stdout.splitlines()]


def test_fish_completes_verbs_options_and_farm_names(farm_env, tmp_path):
    env, _ = farm_env
    code = script("fish", env, tmp_path)
    assert {"site", "status", "service", "swarmlab"} <= set(fish_complete(env, code,
                                                                          "wpfarm s"))
    assert set(fish_complete(env, code, "wpfarm site list --f")) == {"--farm", "--filter"}
    assert fish_complete(env, code, "wpfarm node drain ") == ["db1", "mgr1"]
    assert fish_complete(env, code, "wpfarm maintenance on ") == ["alpha.test", "beta.test"]
