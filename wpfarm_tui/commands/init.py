"""`wpfarm init`: write a new farm.yaml, checking each node over SSH first.

Host keys are shown (SHA256 fingerprint) and trusted only when the operator
says so (--trust-new-host-keys, after comparing fingerprints); a changed key
is always refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from wpfarm_tui.commands.runner import ExitCode, seconds
from wpfarm_tui.farm import ssh
from wpfarm_tui.inventory import Node, SshSettings
from wpfarm_tui.setup.node_check import check_node
from wpfarm_tui.setup.profiles import PROFILES, shortfalls
from wpfarm_tui.setup.writer import FarmAnswers, NodeAnswer, validate_answers, write_farm_yaml


def parse_node(spec: str, index: int, profile_key: str) -> NodeAnswer:
    """NAME=ADDRESS[:PORT][,user=U][,key=PATH][,roles=a+b]"""
    head, *options = spec.split(",")
    if "=" not in head:
        raise ValueError(f"--node {spec!r}: write NAME=ADDRESS[:PORT][,user=U][,key=K]"
                         "[,roles=manager+db]")
    name, address = head.split("=", 1)
    port = 22
    if address.count(":") == 1:  # host:port (an IPv6 address has more colons)
        address, port_text = address.split(":")
        if not port_text.isdigit():
            raise ValueError(f"--node {spec!r}: the port {port_text!r} is not a number")
        port = int(port_text)
    values = {}
    for option in options:
        key, _, value = option.partition("=")
        if key not in ("user", "key", "roles") or not value:
            raise ValueError(f"--node {spec!r}: unknown option {option!r}; use user=, key=, "
                             "roles=")
        values[key] = value
    slots = PROFILES[profile_key].slots
    default_roles = slots[index].roles if index < len(slots) else ("worker",)
    roles = tuple(values["roles"].split("+")) if "roles" in values else default_roles
    return NodeAnswer(name, address, values.get("user", "root"), port, values.get("key"), roles)


def default_output() -> Path:
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config_home / "wpfarm" / "farm.yaml"


def run_wizard(output: Path | None = None, known_hosts: Path | None = None) -> Path | None:
    """The interactive wizard; the path written, or None when the operator quit."""
    from wpfarm_tui.screens.wizard import WizardApp

    return WizardApp(output or default_output(), known_hosts=known_hosts).run()


def cmd_init(args: argparse.Namespace) -> int:
    if not args.name and not args.domain and not args.node:
        written = run_wizard(Path(args.output) if args.output else None,
                             Path(args.known_hosts) if args.known_hosts else None)
        if written:
            print(f"wrote {written}; next: wpfarm --farm {written} bootstrap --dry-run")
        return ExitCode.OK if written else ExitCode.FAILED
    if not args.name or not args.domain:
        print("wpfarm init: give --name and --domain (and --node ...), or neither to open the "
              "wizard", file=sys.stderr)
        return ExitCode.FAILED
    out = print if not args.json else (lambda *_a, **_k: None)
    report: dict = {"nodes": [], "problems": []}
    try:
        nodes = tuple(parse_node(s, i, args.profile) for i, s in enumerate(args.node or ()))
    except ValueError as exc:
        report["problems"].append(str(exc))
        nodes = ()
    answers = FarmAnswers(args.name, args.domain, PROFILES[args.profile].key, nodes)
    report["problems"] += validate_answers(answers)
    known_hosts = Path(args.known_hosts) if args.known_hosts else None
    if not report["problems"] and not args.no_check:
        for node in nodes:
            entry: dict = {"name": node.name, "address": node.address}
            report["nodes"].append(entry)
            try:
                key = ssh.fetch_host_key(node.address, node.port, args.timeout)
                entry["fingerprint"] = key.fingerprint
                verdict = ssh.known_key(key, known_hosts)
                entry["host_key"] = verdict
                out(f"{node.name} {node.address}:{node.port} {key.key_type} {key.fingerprint} "
                    f"({verdict})")
                if verdict == "changed":
                    raise ssh.SshError(f"{node.name}: the host key CHANGED; refusing. If the "
                                       "node was rebuilt: ssh-keygen -R and check the new key")
                if verdict == "unknown":
                    if not args.trust_new_host_keys:
                        raise ssh.SshError(f"{node.name}: host key not trusted yet; compare "
                                           f"{key.fingerprint} with the node's own "
                                           "(ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and "
                                           "re-run with --trust-new-host-keys")
                    ssh.trust_host_key(key, known_hosts)
                    entry["host_key"] = "trusted now"
                as_node = Node(node.name, node.address, SshSettings(
                    node.user, node.port, Path(node.key).expanduser() if node.key else None),
                    frozenset(node.roles))
                facts = check_node(as_node, args.timeout, known_hosts)
                entry["facts"] = facts.__dict__
                entry["warnings"] = shortfalls(facts, PROFILES[args.profile])
                docker = facts.docker or "not installed (bootstrap installs it)"
                out(f"  {facts.os}, {facts.cpus} CPUs, {facts.ram_gb:.1f} GB RAM, "
                    f"{facts.disk_free_gb:.0f} GB free, Docker {docker}")
                for warning in entry["warnings"]:
                    out(f"  warning: {warning}")
            except ssh.SshError as exc:
                report["problems"].append(str(exc))
    if report["problems"]:
        report["written"] = None
        if args.json:
            print(json.dumps(report))
        else:
            for problem in report["problems"]:
                print(f"wpfarm init: {problem}", file=sys.stderr)
            print("wpfarm init: nothing was written", file=sys.stderr)
        return ExitCode.FAILED
    path = Path(args.output) if args.output else default_output()
    try:
        write_farm_yaml(answers, path, overwrite=args.force)
    except FileExistsError as exc:
        report["problems"].append(str(exc))
        print(json.dumps(report) if args.json else f"wpfarm init: {exc}",
              file=sys.stdout if args.json else sys.stderr)
        return ExitCode.FAILED
    report["written"] = str(path)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"wrote {path}; next: wpfarm --farm {path} bootstrap --dry-run")
    return ExitCode.OK


def register(verbs: argparse._SubParsersAction) -> None:
    init = verbs.add_parser("init", help="write a new farm.yaml, checking each node over SSH")
    init.add_argument("--name", help="the farm's short name (none of --name/--domain/--node: "
                      "the interactive wizard)")
    init.add_argument("--domain", help="the farm's base domain")
    init.add_argument("--profile", choices=tuple(PROFILES), default="small",
                      help="node-topology starting point (minimum=20, consolidated=13, small=3)")
    init.add_argument("--node", action="append", metavar="NAME=ADDR[:PORT][,user=U][,key=K]"
                      "[,roles=a+b]", help="a node; repeat for each")
    init.add_argument("--output", metavar="PATH", help="default ~/.config/wpfarm/farm.yaml")
    init.add_argument("--force", action="store_true", help="replace an existing farm.yaml")
    init.add_argument("--no-check", action="store_true", help="skip the SSH checks")
    init.add_argument("--trust-new-host-keys", action="store_true",
                      help="add unknown host keys to known_hosts (after you compared them)")
    init.add_argument("--known-hosts", metavar="PATH", help="default ~/.ssh/known_hosts")
    init.add_argument("--timeout", type=seconds(600), default=10.0)
    init.add_argument("--json", action="store_true")
    init.set_defaults(func=cmd_init)
