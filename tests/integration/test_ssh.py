"""farm/ssh.py against a real OpenSSH server on loopback: host keys are verified,
an unknown or changed key is refused with a message that says what to do."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from wpfarm_tui.farm import ssh
from wpfarm_tui.inventory import Node, SshSettings

SSHD = "/usr/sbin/sshd"
PORT = 16222


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    if not Path(SSHD).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("sshd is missing: scripts/install-deps.sh installs openssh-server")
        pytest.skip("sshd not installed")  # outside CI only
    d = tmp_path_factory.mktemp("sshd")
    _keygen(d / "host_key")
    _keygen(d / "client_key")
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    (d / "sshd_config").write_text(
        f"Port {PORT}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n"
        f"AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation dir
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
                            stderr=subprocess.PIPE)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", PORT)) == 0:
                break
        time.sleep(0.05)
    host_pub = (d / "host_key.pub").read_text().split()
    (d / "known_hosts").write_text(f"[127.0.0.1]:{PORT} {host_pub[0]} {host_pub[1]}\n")
    yield d
    proc.terminate()
    proc.wait(5)


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
    _keygen(tmp_path / "other")
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
