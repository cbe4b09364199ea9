"""The CLI's habits: global options before or after the verb at any depth, --version,
usage errors, exit codes from one enum (in --help and the README), NO_COLOR."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from wpfarm_tui.cli import build_parser, main
from wpfarm_tui.commands.runner import ExitCode

ROOT = Path(__file__).parents[2]
GLOBAL = {"--farm", "--theme", "--read-only"}


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def every_parser(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(verb path, parser) of the top parser and every verb's, at any depth."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from every_parser(sub, (*path, name))


def test_every_verb_at_every_depth_takes_the_global_options():
    missing = {" ".join(path) or "wpfarm": sorted(GLOBAL - set(p._option_string_actions))
               for path, p in every_parser(build_parser())}
    assert not {k: v for k, v in missing.items() if v}
    assert len(missing) > 30  # the walk did reach the nested verbs


@pytest.mark.parametrize("verb", [
    ["status"],
    ["site", "list"],
    ["galera", "rejoin", "galera-1"],
    ["service", "scale", "wp_wordpress", "3"],
    ["maintenance", "on", "a.test"],
])
def test_global_options_before_or_after_the_verb(verb):
    options = ["--farm", "/f.yaml", "--read-only", "--theme", "wpfarm-light"]
    before, after = parse(*options, *verb), parse(*verb, *options)
    for args in (before, after):
        assert (args.farm, args.read_only, args.theme) == ("/f.yaml", True, "wpfarm-light")
    # Split around a middle level too: `wpfarm site --farm F list --read-only`.
    if len(verb) > 1:
        middle = parse(verb[0], "--farm", "/f.yaml", *verb[1:], "--read-only")
        assert (middle.farm, middle.read_only) == ("/f.yaml", True)


@pytest.mark.parametrize("verb", [["status"], ["site", "list"], ["galera", "rejoin", "g1"]])
def test_global_options_keep_their_defaults_when_not_given(verb):
    args = parse(*verb)
    assert (args.farm, args.read_only, args.theme) == (None, False, "wpfarm-dark")
    # Given before the verb, a verb's parser does not put its own default back.
    args = parse("--farm", "/f.yaml", "--read-only", *verb)
    assert (args.farm, args.read_only) == ("/f.yaml", True)


def test_the_option_nearest_the_end_wins():
    assert parse("--farm", "/a.yaml", "site", "--farm", "/b.yaml", "list").farm == "/b.yaml"


def test_farm_after_the_verb_is_the_farm_used(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("farm: [not, a, mapping\n")
    rc = main(["status", "--farm", str(broken)])
    assert rc == ExitCode.FAILED
    assert str(broken) in capsys.readouterr().err


def test_version_is_the_distributions(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"wpfarm {declared}"
    assert importlib.metadata.version("wpfarm-tui") == declared


def test_usage_error_exits_failed_not_critical(capsys):
    with pytest.raises(SystemExit) as done:
        main(["site", "lsit"])
    assert done.value.code == ExitCode.FAILED == 1
    assert "invalid choice: 'lsit'" in capsys.readouterr().err


def test_help_epilog_lists_every_exit_code():
    text = build_parser().format_help()
    listed = re.findall(r"^  (\d+)  (.+)$", text.split("exit codes:", 1)[1], re.M)
    assert listed == [(str(c.value), c.meaning) for c in ExitCode]


def test_readme_lists_the_same_exit_codes():
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", readme.split("Exit codes", 1)[1], re.M)
    assert rows[:len(ExitCode)] == [(str(c.value), c.meaning) for c in ExitCode]


def test_exit_codes_are_defined_once():
    """No module keeps its own EXIT_* numbers beside the enum."""
    again = [f"{p.relative_to(ROOT)}:{n}" for p in (ROOT / "wpfarm_tui").rglob("*.py")
             for n, line in enumerate(p.read_text().splitlines(), 1)
             if re.match(r"\s*EXIT_\w+(\s*,\s*EXIT_\w+)*\s*=", line)]
    assert again == []


# ---------------------------------------------------------------- NO_COLOR
UNREACHABLE_FARM = """\
farm: {name: dark, domain: dark.test}
nodes:
  - {name: n1, address: 127.0.0.1, roles: [manager, db]}
endpoints:
  galera:
    user: mon
    password: {env: DARK_DB_PW}
    timeout: 0.5
    nodes: [{name: db1, host: 127.0.0.1, port: 9}]
"""


def status_output(tmp_path: Path, **env: str) -> str:
    """`wpfarm status` on a farm whose Galera refuses connections: red CRITICAL lines."""
    farm = tmp_path / "farm.yaml"
    farm.write_text(UNREACHABLE_FARM)
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    done = subprocess.run([sys.executable, "-m", "wpfarm_tui", "status", "--farm", str(farm)],
                          env={**base, "PYTHONPATH": str(ROOT), "DARK_DB_PW": "x",
                               "FORCE_COLOR": "1", **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == ExitCode.CRITICAL, done.stderr
    assert "CRITICAL" in done.stdout
    return done.stdout


def test_no_color_means_no_escape_codes_even_when_colour_is_forced(tmp_path):
    assert "\x1b[" in status_output(tmp_path)  # forced colour without NO_COLOR: escapes
    assert "\x1b[" in status_output(tmp_path, NO_COLOR="")  # empty: colour (no-color.org)
    assert "\x1b[" not in status_output(tmp_path, NO_COLOR="1")
