"""`wpfarm bootstrap [NODE...]`: bring the farm's nodes into one labelled Swarm over SSH."""

from __future__ import annotations

import argparse
from pathlib import Path

from wpfarm_tui.actions import ActionError
from wpfarm_tui.actions.bootstrap import BootstrapAction, ssh_runner
from wpfarm_tui.commands import completion as complete
from wpfarm_tui.commands.runner import (
    ExitCode,
    add_action_flags,
    load_farm_of,
    run_action_cli,
    seconds,
)


def cmd_bootstrap(args: argparse.Namespace) -> int:
    farm = load_farm_of(args)
    known_hosts = Path(args.known_hosts) if args.known_hosts else None
    try:
        action = BootstrapAction(farm, ssh_runner(args.timeout, known_hosts),
                                 only=tuple(args.nodes), install_docker=not args.no_install,
                                 secrets_dir=Path(args.secrets_dir))
    except ActionError as exc:
        print(f"wpfarm bootstrap: {exc}")
        return ExitCode.FAILED
    return run_action_cli(action, farm, args)


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("bootstrap", help="install Docker, form the Swarm, labels, networks, "
                                           "secrets (over SSH; safe to re-run)")
    p.add_argument("nodes", nargs="*", metavar="NODE",
                   help="only these nodes (default: all)").completer = complete.farm_nodes
    p.add_argument("--no-install", action="store_true",
                   help="fail instead of installing Docker where it is missing")
    p.add_argument("--known-hosts", metavar="PATH", help="default ~/.ssh/known_hosts")
    p.add_argument("--secrets-dir", default="~/.config/wpfarm/secrets",
                   help="where the console keeps its copies of generated secrets")
    p.add_argument("--timeout", type=seconds(3600), default=60.0,
                   help="per SSH command, seconds")
    add_action_flags(p)
    p.set_defaults(func=cmd_bootstrap)
