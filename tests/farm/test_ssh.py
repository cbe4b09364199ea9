"""farm/ssh.py against a real OpenSSH server on loopback: host keys are verified,
an unknown or changed key is refused with a message that says what to do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import keygen
from wpfarm_tui.farm import ssh
from wpfarm_tui.inventory import Node, SshSettings

PORT = 16222  # the sshd fixture's port (tests/conftest.py)


def _node(d: Path) -> Node:
    user = os.environ.get("USER") or "root"
    return Node("lab1", "127.0.0.1", SshSettings(user, PORT, d / "client_key"),
                frozenset({"manager"}))


def test_command_runs_on_a_trusted_host(sshd):
    rc, out, _ = ssh.run(_node(sshd), "echo hello-from-node; exit 3", 5, sshd / "known_hosts")
    assert (rc, out.strip()) == (3, "hello-from-node")


def test_unknown_host_is_refused(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(ssh.SshError, match="is not in .*known_hosts.*fingerprint"):
        ssh.run(_node(sshd), "true", 5, empty)


def test_changed_host_key_is_refused(sshd, tmp_path):
    keygen(tmp_path / "other")
    other = (tmp_path / "other.pub").read_text().split()
    forged = tmp_path / "known_hosts"
    forged.write_text(f"[127.0.0.1]:{PORT} {other[0]} {other[1]}\n")
    with pytest.raises(ssh.SshError, match="host key CHANGED"):
        ssh.run(_node(sshd), "true", 5, forged)


def test_unreachable_node_is_a_clear_error(sshd):
    node = Node("ghost", "127.0.0.1", SshSettings("root", 1, sshd / "client_key"),
                frozenset({"worker"}))
    with pytest.raises(ssh.SshError, match=r"ghost \(127.0.0.1:1\)"):
        ssh.run(node, "true", 2, sshd / "known_hosts")
