"""Commands on farm nodes over SSH (paramiko), with host keys verified.

Unknown or changed host keys are refused, never added silently: the operator
adds a node's key to known_hosts (`wpfarm init` will show the fingerprint).
"""

from __future__ import annotations

import base64
import hashlib
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from wpfarm_tui.inventory import Node


class SshError(Exception):
    pass


@dataclass(frozen=True)
class HostKey:
    address: str
    port: int
    key_type: str  # ssh-ed25519, ecdsa-sha2-nistp256, ...
    base64: str

    @property
    def fingerprint(self) -> str:
        """SHA256:... as `ssh-keygen -lf` prints it, for the operator to compare."""
        raw = base64.b64decode(self.base64)
        return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")

    @property
    def host_entry(self) -> str:
        """How known_hosts names the host: [addr]:port unless the port is 22."""
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"


def default_known_hosts() -> Path:
    return Path.home() / ".ssh" / "known_hosts"


def fetch_host_key(address: str, port: int, timeout: float) -> HostKey:
    """The key a host offers, WITHOUT trusting it: shown to the operator first."""
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except OSError as exc:
        raise SshError(f"{address}:{port}: cannot connect ({exc.strerror or exc})") from None
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
        return HostKey(address, port, key.get_name(), key.get_base64())
    except paramiko.SSHException as exc:
        raise SshError(f"{address}:{port}: no SSH handshake ({exc})") from None
    finally:
        transport.close()


def known_key(host: HostKey, known_hosts: Path | None = None) -> str:
    """'trusted', 'unknown' or 'changed': how known_hosts judges the key a host offers."""
    keys = paramiko.HostKeys()
    path = known_hosts or default_known_hosts()
    if path.exists():
        keys.load(str(path))
    entries = keys.lookup(host.host_entry)
    if not entries:
        return "unknown"
    stored = entries.get(host.key_type)
    if stored is None:
        return "changed" if entries else "unknown"
    return "trusted" if stored.get_base64() == host.base64 else "changed"


def trust_host_key(host: HostKey, known_hosts: Path | None = None) -> None:
    """Append the key to known_hosts; refuses to replace a different key already there."""
    path = known_hosts or default_known_hosts()
    verdict = known_key(host, path)
    if verdict == "trusted":
        return
    if verdict == "changed":
        raise SshError(f"{host.host_entry} already has a DIFFERENT key in {path}; refusing to "
                       "replace it. If the node was rebuilt, remove the old line "
                       f"(ssh-keygen -R '{host.host_entry}') and check the new fingerprint")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(f"{host.host_entry} {host.key_type} {host.base64}\n")
    path.chmod(0o600)


def _ssh_config(address: str) -> dict[str, Any]:
    """What ~/.ssh/config says of this host (IdentityFile, HostName...), if anything."""
    config_path = Path.home() / ".ssh" / "config"
    if not config_path.exists():
        return {}
    return dict(paramiko.SSHConfig.from_path(str(config_path)).lookup(address))


def open_client(node: Node, timeout: float, known_hosts: Path | None = None) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_system_host_keys()
    hosts_file = known_hosts or node.ssh.known_hosts or default_known_hosts()
    if hosts_file.exists():
        client.load_host_keys(str(hosts_file))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    # farm.yaml's key wins; otherwise ~/.ssh/config's IdentityFile, then the agent.
    key_files = [str(node.ssh.key)] if node.ssh.key else _ssh_config(node.address).get(
        "identityfile")
    try:
        client.connect(
            node.address, port=node.ssh.port, username=node.ssh.user,
            key_filename=key_files or None, allow_agent=True,
            timeout=timeout, banner_timeout=timeout, auth_timeout=timeout,
        )
    except paramiko.AuthenticationException:
        client.close()
        raise SshError(f"{node.name} ({node.ssh.user}@{node.address}:{node.ssh.port}): the "
                       "key was refused; check ssh.key / ssh.user in farm.yaml, or the agent"
                       ) from None
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


def run(node: Node, command: str, timeout: float, known_hosts: Path | None = None,
        stdin: str | None = None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one command on a node. `stdin` is how secrets
    reach a command: never on its command line, where `ps` and logs would show them."""
    client = open_client(node, timeout, known_hosts)
    try:
        channel_in, stdout, stderr = client.exec_command(command, timeout=timeout)
        if stdin is not None:
            channel_in.write(stdin)
            channel_in.flush()
        channel_in.channel.shutdown_write()
        out = stdout.read().decode(errors="replace")
        err = stderr.read().decode(errors="replace")
        return stdout.channel.recv_exit_status(), out, err
    finally:
        client.close()


def in_task(service: str, argv: list[str]) -> str:
    """The shell command that runs argv inside the running task of a Swarm service on the
    node it is run on (`docker exec`, no shell in between: argv is passed as it is). For
    what only works where the service runs: varnishstat reads varnishd's shared memory,
    cscli writes the LAPI's database. A node with no such task says so (exit 3)."""
    label = shlex.quote(f"com.docker.swarm.service.name={service}")
    missing = shlex.quote(f"no running task of {service} on this node")
    return (f"c=$(docker ps -q --filter label={label} --filter status=running | head -n 1); "
            f"if [ -z \"$c\" ]; then echo {missing} >&2; exit 3; fi; "
            f"exec docker exec \"$c\" {shlex.join(argv)}")
