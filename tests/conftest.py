"""Shared fixtures. Integration tests run against the loopback lab of real
servers (`wpfarm lab up`); under CI=true a lab that cannot start fails the
run instead of skipping it, so a green CI means the real servers were tested."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.needs import unavailable
from wpfarm_tui.actions.backup import first_lab_backup
from wpfarm_tui.inventory import Farm, load_farm


@pytest.fixture(autouse=True, scope="session")
def _audit_log_of_the_tests(tmp_path_factory):
    """Tests' actions are audited into a file of their own, not the operator's log."""
    path = tmp_path_factory.mktemp("audit") / "audit.log"
    old = os.environ.get("WPFARM_AUDIT_LOG")
    os.environ["WPFARM_AUDIT_LOG"] = str(path)
    yield path
    if old is None:
        os.environ.pop("WPFARM_AUDIT_LOG", None)
    else:
        os.environ["WPFARM_AUDIT_LOG"] = old


@pytest.fixture(scope="session")
def lab():
    from wpfarm_tui.lab import Lab, LabError

    lab = Lab()
    try:
        # Idempotent: a no-op when .ci/run started it; else what `wpfarm lab up` does.
        lab.up(progress=lambda _msg: None, first_backup=first_lab_backup)
    except (LabError, OSError) as exc:
        unavailable(f"lab not available: {exc}")
    return lab


@pytest.fixture(scope="session")
def lab_farm(lab) -> Farm:
    return load_farm(Path(lab.farm_file))


SSHD = "/usr/sbin/sshd"
PORT = 16222  # a real OpenSSH server on loopback for SSH tests


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    if not Path(SSHD).exists():
        unavailable("sshd not installed (scripts/install-deps.sh installs openssh-server)")
    d = tmp_path_factory.mktemp("sshd")
    keygen(d / "host_key")
    keygen(d / "client_key")
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
