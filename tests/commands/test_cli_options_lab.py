"""Global options after the verb, on the loopback lab's real servers: the farm they name
is the one used, and --read-only there still refuses."""

from __future__ import annotations

import json

import pytest

from wpfarm_tui.actions import AuditLog
from wpfarm_tui.cli import main
from wpfarm_tui.commands.runner import ExitCode

pytestmark = pytest.mark.lab


def test_site_list_with_the_farm_after_the_verb(lab, capsys):
    rc = main(["site", "list", "--json", "--farm", str(lab.farm_file), "--read-only"])
    assert rc == ExitCode.OK
    assert "site1.test" in {s["domain"] for s in json.loads(capsys.readouterr().out)}


def test_read_only_after_a_nested_verb_refuses(lab, capsys):
    # cache purge: the gentlest action, should a regression let it through on the shared lab.
    rc = main(["cache", "purge", "site1.test", "--yes", "--farm", str(lab.farm_file),
               "--read-only"])
    assert rc == ExitCode.FAILED
    assert "read-only mode" in capsys.readouterr().err
    last = AuditLog().entries()[-1]
    assert (last["action"], last["result"]) == ("cache-purge", "refused: read-only")
