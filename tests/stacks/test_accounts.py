"""The db accounts step's job script (run for real on the swarm lab, tests/swarm/
test_db_accounts.py): valid sh, every account's password read from /run/secrets inside
the job, the job's output parsed into what deploy reports."""

from __future__ import annotations

import subprocess

import pytest

from wpfarm_tui import programs
from wpfarm_tui.stacks.accounts import ACCOUNTS, CONSOLE_USER, parse, script


@pytest.mark.parametrize("check_only", [False, True])
def test_script_is_valid_sh_and_names_every_account(check_only: bool) -> None:
    text = script(ACCOUNTS, ["wp_example_test"], ["mariadb-1", "mariadb-2"], check_only)
    sh = programs.path("sh")  # Debian's dash: the POSIX shell the image runs it with
    res = subprocess.run([sh, "-n"], input=text, capture_output=True, text=True, timeout=10)
    assert res.returncode == 0, res.stderr
    for a in ACCOUNTS:
        assert f"pw {a.secret}" in text and f"acct {a.user}" in text
    assert ("CREATE TABLE IF NOT EXISTS wpfarm.sites" in text) is not check_only
    assert "'SELECT 1 FROM wpfarm.sites LIMIT 1'" in text


def test_parse_reports_problems_by_account() -> None:
    out = parse("host mariadb-1\nacct wordpress set\nacct monitor ok\n"
                "acct exporter nopassword\nacct backup fail ERROR 1045 (28000): denied\n"
                "registry ok\n", ["galera_sst_password"])
    assert out.host == "mariadb-1"
    assert out.accounts["wordpress"] == "set" and out.accounts["monitor"] == "ok"
    assert out.problems == ["exporter: its secret has no password= line",
                            "backup: fail ERROR 1045 (28000): denied"]
    assert out.missing == ("galera_sst_password",)
    assert parse("registry fail denied", []).problems == [
        f"wpfarm.sites as {CONSOLE_USER}: fail denied"]
