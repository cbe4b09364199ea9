"""Read-only mode from the CLI: every verb that changes something is refused, under
--read-only and under farm.read_only, with exit code 1 and one audit line, before the farm
is touched. The verbs are walked from the real parser, not copied here: a new verb must be
classed as reading (below) or get an example, else `test_every_verb_is_classed` fails.
The console's side is in tests/ui/test_action_screen.py and tests/ui/test_stacks_screen.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from wpfarm_tui.actions import AuditLog
from wpfarm_tui.actions.catalog import CATALOG
from wpfarm_tui.cli import build_parser, main

pytestmark = pytest.mark.lab

# Verbs that only read the farm, and verbs that do not work on a farm file at all.
# `serve` is the console in a browser: its actions go through the same guard
# (tests/ui/test_serve_browser.py shows a refusal there).
READS = {"status", "console", "serve", "alerts", "incidents", "bans", "backups",
         "redis status", "site list", "site info", "site logs", "service logs",
         "record", "storage", "nodes", "traffic"}  # record polls as status does, into a file
NOT_THE_FARM = {
    "init": "writes a new farm.yaml on this machine",
    "render": "writes the stack files on this machine; `deploy` is what changes the farm",
    "lab up": "the loopback lab", "lab down": "the loopback lab", "lab status": "the lab",
    "swarmlab up": "the Swarm lab", "swarmlab down": "the Swarm lab",
    "swarmlab status": "the Swarm lab",
    **{f"completion {shell}": "prints a shell completion script"
       for shell in ("bash", "zsh", "fish")},
}
CREDS_FLAG = {"ban", "unban"}


def _verbs(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[str]:
    """Every leaf verb of the real parser: sub-commands, and verbs given as a positional's
    choices (`images build`, `node drain`, `lab up`)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if subs:
        return [v for name, sub in subs[0].choices.items()
                for v in _verbs(sub, (*prefix, name))]
    choice = next((a for a in parser._actions if not a.option_strings and a.choices), None)
    if choice is not None:
        return [" ".join((*prefix, c)) for c in choice.choices]
    return [" ".join(prefix)]


VERBS = _verbs(build_parser())


def _verb_of(argv: list[str]) -> str:
    return max((v for v in VERBS if argv[:len(v.split())] == v.split()), key=len)


# (example argv, the audited name): the catalog's procedures with their lab examples, and
# what the catalog does not hold (not an action, or another form of a catalog verb).
EXAMPLES: list[tuple[list[str], str]] = [(e.cli_args(), e.name) for e in CATALOG] + [
    (["deploy", "db"], "deploy"),
    (["restore", "site1.test"], "restore"),
    (["backup", "--unlock"], "backup-unlock"),
    (["site", "create", "--from-file", "{sites_file}"], "site-create"),
    (["images", "build"], "images-build"),
    (["images", "build", "--push"], "images-build"),
    (["service", "shell", "drill-web"], "service-shell"),
]
IDS = [" ".join(argv).replace("{sites_file}", "FILE") for argv, _ in EXAMPLES]


def _argv(argv: list[str], lab, tmp_path: Path) -> list[str]:
    sites = tmp_path / "sites.txt"
    sites.write_text("bulk1.lab.test\n")
    out = [a.replace("{sites_file}", str(sites)) for a in argv]
    if out[0] in CREDS_FLAG:
        out += ["--machine-credentials",
                str(lab.root / "crowdsec" / "etc" / "local_api_credentials.yaml")]
    return out


def test_every_verb_is_classed():
    changing = set(VERBS) - READS - set(NOT_THE_FARM)
    assert not (READS | set(NOT_THE_FARM)) - set(VERBS), "a classed verb is gone"
    covered = {_verb_of(argv) for argv, _ in EXAMPLES}
    assert changing == covered, (f"verbs without a read-only example: {changing - covered}; "
                                 "add one to EXAMPLES, or class the verb as reading")


def _refused(argv: list[str], name: str, capsys) -> None:
    before = len(AuditLog().entries())
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 1 and "read-only mode" in err, (rc, err)
    new = AuditLog().entries()[before:]
    assert [(e["action"], e["result"]) for e in new] == [(name, "refused: read-only")], new


@pytest.mark.parametrize(("argv", "name"), EXAMPLES, ids=IDS)
def test_read_only_flag_refuses(argv, name, lab, tmp_path, capsys):
    _refused(["--farm", str(lab.farm_file), "--read-only", *_argv(argv, lab, tmp_path)],
             name, capsys)


@pytest.mark.parametrize(("argv", "name"), EXAMPLES, ids=IDS)
def test_farm_read_only_refuses(argv, name, lab, tmp_path, capsys):
    data = yaml.safe_load(Path(lab.farm_file).read_text())
    data["farm"]["read_only"] = True
    farm_file = tmp_path / "farm.yaml"
    farm_file.write_text(yaml.safe_dump(data))
    (tmp_path / "maintenance").mkdir()
    _refused(["--farm", str(farm_file), *_argv(argv, lab, tmp_path)], name, capsys)


@pytest.mark.parametrize("push", [False, True], ids=["build", "push"])
def test_images_build_never_asks_docker(push, lab, lab_farm, tmp_path, capsys):
    """With the farm rendered, a build would go straight to the lab's Docker: the refusal
    comes first. The lab's real dockerd is the witness: no image appears and its event log
    for the run holds no build, tag or push."""
    import time

    from wpfarm_tui.farm import docker
    from wpfarm_tui.stacks.render import render_farm

    render_farm(lab_farm, tmp_path / "render")
    witness = docker.client(lab_farm.endpoints.docker)
    images_before = sorted(i.id for i in witness.images.list(all=True))
    started = int(time.time()) - 1
    argv = ["--farm", str(lab.farm_file), "--read-only", "images", "build",
            "--render-dir", str(tmp_path / "render"), *(["--push"] if push else [])]
    _refused(argv, "images-build", capsys)
    events = list(witness.api.events(since=started, until=int(time.time()) + 1, decode=True,
                                     filters={"type": "image"}))
    assert [e.get("Action") for e in events] == []
    assert sorted(i.id for i in witness.images.list(all=True)) == images_before
    witness.close()
    assert AuditLog().entries()[-1]["params"] == {"images": [], "push": push}
