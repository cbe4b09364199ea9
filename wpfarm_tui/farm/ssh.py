"""Commands on farm nodes over SSH (paramiko), with host keys verified.

Unknown or changed host keys are refused, never added silently: the operator
adds a node's key to known_hosts (`wpfarm init` will show the fingerprint).
"""

from __future__ import annotations

from pathlib import Path

import paramiko

from wpfarm_tui.inventory import Node


class SshError(Exception):
    pass


def open_client(node: Node, timeout: float, known_hosts: Path | None = None) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_system_host_keys()
    hosts_file = known_hosts or Path.home() / ".ssh" / "known_hosts"
    if hosts_file.exists():
        client.load_host_keys(str(hosts_file))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            node.address, port=node.ssh.port, username=node.ssh.user,
            key_filename=str(node.ssh.key) if node.ssh.key else None,
            timeout=timeout, banner_timeout=timeout, auth_timeout=timeout,
        )
    except paramiko.BadHostKeyException:
        client.close()
        raise SshError(f"{node.name} ({node.address}): the host key CHANGED since it was "
                       f"trusted; refusing to connect. If the node was rebuilt, remove its old "
                       f"line from {hosts_file} and trust the new key") from None
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):
            raise SshError(f"{node.name} ({node.address}:{node.ssh.port}) is not in {hosts_file}; "
                           "check its fingerprint and add it (ssh-keyscan) before use") from None
        raise SshError(f"{node.name}: {exc}") from None
    except OSError as exc:
        client.close()
        raise SshError(f"{node.name} ({node.address}:{node.ssh.port}): {exc}") from None
    return client


def run(node: Node, command: str, timeout: float, known_hosts: Path | None = None
        ) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one command on a node."""
    client = open_client(node, timeout, known_hosts)
    try:
        _, stdout, stderr = client.exec_command(command, timeout=timeout)
        out = stdout.read().decode(errors="replace")
        err = stderr.read().decode(errors="replace")
        return stdout.channel.recv_exit_status(), out, err
    finally:
        client.close()
