"""`wpfarm node drain|activate NODE`,
`wpfarm service scale|restart|rollback|logs|shell NAME`."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from wpfarm_tui.actions import ActionError
from wpfarm_tui.actions.base import AuditLog
from wpfarm_tui.actions.catalog import Context, entry
from wpfarm_tui.actions.swarm import TaskShell, service_log_stream, task_shell
from wpfarm_tui.commands import completion as complete
from wpfarm_tui.commands.procedures import add_field, values_of
from wpfarm_tui.commands.runner import (
    ExitCode,
    add_action_flags,
    add_log_flags,
    load_farm_of,
    print_log_stream,
    refuse_if_read_only,
    run_action_cli,
    whole,
)


def cmd_node(args: argparse.Namespace) -> int:
    farm = load_farm_of(args)
    procedure = entry(f"node-{args.node_verb}")
    # Building it asks the Swarm: refused before, as the console does.
    refused = refuse_if_read_only(procedure.name, farm, args, {"node": args.node})
    if refused is not None:
        return refused
    try:
        action = procedure.build(farm, Context.for_farm(farm), values_of(procedure, args))
    except ActionError as exc:
        print(f"wpfarm node {args.node_verb}: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    return run_action_cli(action, farm, args)


def cmd_service(args: argparse.Namespace) -> int:
    farm = load_farm_of(args)
    if args.service_verb != "logs":  # a shell can change anything: refused too
        refused = refuse_if_read_only(f"service-{args.service_verb}", farm, args,
                                      {"service": args.service})
        if refused is not None:
            return refused
    try:
        if args.service_verb == "logs":
            return print_log_stream(service_log_stream(farm, args.service, args.tail,
                                                       args.follow))
        if args.service_verb == "shell":
            known_hosts = Path(args.known_hosts) if args.known_hosts else None
            return run_shell(task_shell(farm, args.service, args.slot, known_hosts))
        procedure = entry(f"service-{args.service_verb}")  # scale, restart, rollback
        action = procedure.build(farm, Context.for_farm(farm), values_of(procedure, args))
    except ActionError as exc:
        print(f"wpfarm service {args.service_verb}: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    except KeyboardInterrupt:
        return ExitCode.OK
    return run_action_cli(action, farm, args)


def run_shell(shell: TaskShell, audit: AuditLog | None = None) -> int:
    """Run the shell on this terminal; audited when it opens and when it ends."""
    audit = audit or AuditLog()
    params = shell.describe()
    audit.append({"action": "service-shell", "params": params, "result": "opened"})
    print(f"shell in task {shell.task} of {shell.service} on {shell.node} "
          "(exit or Ctrl-D to leave)", file=sys.stderr, flush=True)
    code = subprocess.call(list(shell.argv))
    audit.append({"action": "service-shell", "params": params, "result": f"exit {code}"})
    return code


def register(verbs: argparse._SubParsersAction) -> None:
    node = verbs.add_parser("node", help="drain or activate a Swarm node")
    node.add_argument("node_verb", choices=("drain", "activate"))
    add_field(node, entry("node-drain").field("node"))  # node-activate's is the same
    add_action_flags(node)
    node.set_defaults(func=cmd_node)

    service = verbs.add_parser("service", help="scale, restart, roll back, logs, shell")
    sub = service.add_subparsers(dest="service_verb", metavar="SERVICE_VERB", required=True)
    scaling = entry("service-scale")
    scale = sub.add_parser("scale", help=scaling.help)
    for f in scaling.fields:
        add_field(scale, f)
    for verb in ("restart", "rollback"):
        procedure = entry(f"service-{verb}")
        p = sub.add_parser(verb, help=procedure.help)
        add_field(p, procedure.field("service"))
        add_action_flags(p)
        p.set_defaults(func=cmd_service)
    add_action_flags(scale)
    scale.set_defaults(func=cmd_service)
    logs = sub.add_parser("logs", help="the service's log lines (every task)")
    logs.add_argument("service", metavar="SERVICE").completer = complete.services
    add_log_flags(logs)
    logs.set_defaults(func=cmd_service)
    shell = sub.add_parser("shell", help="an interactive shell in one of the service's tasks")
    shell.add_argument("service", metavar="SERVICE").completer = complete.services
    shell.add_argument("--slot", type=whole(1, 10_000),
                       help="the task's slot (default: the lowest)")
    shell.add_argument("--known-hosts", metavar="PATH",
                       help="for a task on another node (ssh); default ~/.ssh/known_hosts")
    shell.set_defaults(func=cmd_service)
