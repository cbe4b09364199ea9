"""Checking a would-be node over SSH: reachable, OS, CPU/RAM/disk, Docker present."""

from __future__ import annotations

from pathlib import Path

from wpfarm_tui.farm import ssh
from wpfarm_tui.inventory import Node
from wpfarm_tui.setup.profiles import NodeFacts

# One round trip; each line `key=value`. Docker's absence is an empty value, not an error.
FACTS_COMMAND = (
    ". /etc/os-release 2>/dev/null; echo \"os=${PRETTY_NAME:-unknown}\"; "
    "echo \"cpus=$(nproc)\"; "
    "awk '/^MemTotal:/ {print \"mem_kb=\" $2}' /proc/meminfo; "
    "df -Pk / | awk 'NR==2 {print \"disk_free_kb=\" $4}'; "
    "echo \"docker=$(docker version --format '{{.Server.Version}}' 2>/dev/null)\""
)


def parse_facts(output: str) -> NodeFacts:
    values = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    try:
        return NodeFacts(
            os=values.get("os", "unknown"),
            cpus=int(values["cpus"]),
            ram_gb=int(values["mem_kb"]) / 1024 / 1024,
            disk_free_gb=int(values["disk_free_kb"]) / 1024 / 1024,
            docker=values.get("docker") or None,
        )
    except (KeyError, ValueError) as exc:
        raise ssh.SshError(f"the node's answer could not be read ({exc}): {output[:200]!r}"
                           ) from None


def check_node(node: Node, timeout: float = 10.0, known_hosts: Path | None = None) -> NodeFacts:
    """Facts of a node whose host key is already trusted (fetch_host_key + trust first)."""
    rc, out, err = ssh.run(node, FACTS_COMMAND, timeout, known_hosts)
    if rc != 0 and not out:
        raise ssh.SshError(f"{node.name}: the check failed: {err.strip()[:200]}")
    return parse_facts(out)
