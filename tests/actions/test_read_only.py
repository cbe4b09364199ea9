"""Read-only mode refuses every action of the catalog, from the CLI (--read-only and
farm.read_only); the console's walk is in tests/ui/test_action_screen.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wpfarm_tui.actions import AuditLog
from wpfarm_tui.actions.catalog import CATALOG
from wpfarm_tui.cli import main

pytestmark = pytest.mark.lab

CREDS_FLAG = {"ban", "unban"}


def _args(entry, lab) -> list[str]:
    args = entry.cli_args()
    if entry.name in CREDS_FLAG:
        args += ["--machine-credentials",
                 str(lab.root / "crowdsec" / "etc" / "local_api_credentials.yaml")]
    return args


@pytest.mark.parametrize("entry", CATALOG, ids=[e.name for e in CATALOG])
def test_cli_read_only_flag_refuses(entry, lab, capsys):
    rc = main(["--farm", str(lab.farm_file), "--read-only", *_args(entry, lab)])
    err = capsys.readouterr().err
    assert rc == 1 and "read-only mode" in err, err
    assert AuditLog().entries()[-1] == {**AuditLog().entries()[-1],
                                        "action": entry.name, "result": "refused: read-only"}


def test_farm_read_only_refuses_everything(lab, tmp_path: Path, capsys):
    data = yaml.safe_load(Path(lab.farm_file).read_text())
    data["farm"]["read_only"] = True
    farm_file = tmp_path / "farm.yaml"
    farm_file.write_text(yaml.safe_dump(data))
    (tmp_path / "maintenance").mkdir()
    for entry in CATALOG:
        rc = main(["--farm", str(farm_file), *_args(entry, lab)])
        assert rc == 1, entry.name
        assert "read-only mode" in capsys.readouterr().err
