"""`wpfarm completion bash|zsh|fish`: the shell's completion script, and the farm-aware
completers that verbs hang on their arguments (`action.completer = ...`; a catalog Field
names its own, `completer="galera_nodes"`, and commands/procedures.py hangs it).

argcomplete writes the scripts: the shell calls `wpfarm` back with _ARGCOMPLETE set and
cli.main answers from the parser itself, so a new verb or option completes with no edit
here. Completers read farm.yaml and files beside it; the Docker API only on a local socket
with a 1 s timeout: a tab never waits on the network. They return names, never a secret.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

import yaml

from wpfarm_tui.commands.runner import ExitCode, farm_path_of
from wpfarm_tui.inventory import Farm, load_farm

SHELLS = ("bash", "zsh", "fish")
LOCAL_DOCKER_TIMEOUT = 1  # seconds; only ever a unix socket on this machine


def _farm(parsed_args: argparse.Namespace | None) -> Farm | None:
    try:
        return load_farm(farm_path_of(parsed_args))
    except Exception:  # noqa: BLE001 - a completer never breaks the shell: no farm, no names
        return None


def _local_swarm(farm: Farm) -> tuple[list[str], list[str]]:
    """(node hostnames, service names) from a Docker API on a local socket, else nothing."""
    endpoint = farm.endpoints.docker
    if endpoint is None or not endpoint.host.startswith("unix://"):
        return [], []
    import docker

    try:
        client = docker.DockerClient(base_url=endpoint.host, timeout=LOCAL_DOCKER_TIMEOUT)
        try:
            return ([n.attrs["Description"]["Hostname"] for n in client.nodes.list()],
                    [s.name for s in client.services.list()])
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - no Swarm or a slow one: complete without its names
        return [], []


def _rendered_services(farm: Farm) -> list[str]:
    """Swarm service names (`<stack>_<service>`) of what `wpfarm render` wrote."""
    from wpfarm_tui.commands.stacks import _default_render_dir
    from wpfarm_tui.stacks.deploy import LAYERS

    compose = _default_render_dir(farm) / "docker" / "compose"
    names = []
    for stack, file in (pair for pairs in LAYERS.values() for pair in pairs):
        try:
            doc = yaml.safe_load((compose / file).read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        names += [f"{stack}_{service}" for service in (doc.get("services") or {})]
    return names


def _unique(names: Iterable[str]) -> list[str]:
    return sorted(set(names))


def farm_nodes(parsed_args: argparse.Namespace | None = None, **_: Any) -> list[str]:
    """farm.yaml's node names (bootstrap NODE)."""
    farm = _farm(parsed_args)
    return [n.name for n in farm.nodes] if farm else []


def swarm_nodes(parsed_args: argparse.Namespace | None = None, **_: Any) -> list[str]:
    """farm.yaml's node names and, on a local Docker socket, the Swarm's hostnames."""
    farm = _farm(parsed_args)
    if farm is None:
        return []
    return _unique([n.name for n in farm.nodes] + _local_swarm(farm)[0])


def galera_nodes(parsed_args: argparse.Namespace | None = None, **_: Any) -> list[str]:
    farm = _farm(parsed_args)
    if farm is None or farm.endpoints.galera is None:
        return []
    return [n.name for n in farm.endpoints.galera.nodes]


def services(parsed_args: argparse.Namespace | None = None, **_: Any) -> list[str]:
    farm = _farm(parsed_args)
    if farm is None:
        return []
    return _unique(_rendered_services(farm) + _local_swarm(farm)[1])


def site_domains(parsed_args: argparse.Namespace | None = None, **_: Any) -> list[str]:
    """farm.yaml's sites.static only: the registry is on Galera, a network call away."""
    farm = _farm(parsed_args)
    return list(farm.sites.static) if farm else []


def cmd_completion(args: argparse.Namespace) -> int:
    from argcomplete import shellcode

    print(shellcode(["wpfarm"], shell=args.shell))
    return ExitCode.OK


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "completion", help="print the shell completion script (bash, zsh, fish)",
        description="Print the completion script for SHELL. Load it with, for bash: "
                    "eval \"$(wpfarm completion bash)\" (in ~/.bashrc); zsh, after compinit: "
                    "eval \"$(wpfarm completion zsh)\" (in ~/.zshrc); fish: "
                    "wpfarm completion fish > ~/.config/fish/completions/wpfarm.fish")
    p.add_argument("shell", metavar="SHELL", choices=SHELLS, help=", ".join(SHELLS))
    p.set_defaults(func=cmd_completion)
