"""Secrets are references in farm.yaml, resolved only when a client connects.

A `Secret` never renders its value: `str()`, `repr()` and JSON all show the
reference (``env:WPFARM_GALERA_PASSWORD``), so a secret that ends up in a log
line, an exception or `--json` output leaks only its name.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

SECRET_KINDS = ("env", "file", "docker_secret")
DOCKER_SECRETS_DIR = Path("/run/secrets")
MAX_SECRET_BYTES = 64 << 10  # 64 KiB: a key file or credentials YAML is a few hundred bytes


class SecretError(Exception):
    """A secret reference that cannot be resolved; the message names the reference only."""


def _kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, else OSError (with strerror).

    Never blocks and never reads without end: a FIFO, a device (/dev/zero) or a directory
    is refused before a byte is read, and the read stops one byte past the limit."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, f"{_kind_of(mode)}, not a regular file")
    # O_NONBLOCK: the path may have been swapped for a FIFO since the stat; open must
    # not wait for a writer. fstat then decides on what was actually opened.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(mode := os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, f"{_kind_of(mode)}, not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= limit and (chunk := os.read(fd, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise OSError(errno.EFBIG, f"larger than {limit:,} bytes")
    return b"".join(chunks)


@dataclass(frozen=True)
class Secret:
    kind: str  # one of SECRET_KINDS
    ref: str  # variable name, file path or Docker secret name

    def reveal(self) -> str:
        """The secret's value, for handing to a client library; never for display."""
        if self.kind == "env":
            try:
                value = os.environ.get(self.ref)
            except ValueError:  # an embedded NUL: the inventory refuses it, but be sure
                value = None
            if value is None:
                raise SecretError(f"environment variable {self.ref} is not set")
            return value
        try:
            path = (Path(self.ref).expanduser() if self.kind == "file"
                    else DOCKER_SECRETS_DIR / self.ref)
            data = read_regular_file(path, MAX_SECRET_BYTES)
        except OSError as exc:
            raise SecretError(f"cannot read secret {self}: {exc.strerror}") from None
        except (ValueError, RuntimeError):  # a NUL in the path; ~user with no such user
            raise SecretError(f"cannot read secret {self}: not a usable path") from None
        try:
            return data.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise SecretError(f"cannot read secret {self}: not UTF-8 text "
                              f"(byte offset {exc.start})") from None

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}"

    def __repr__(self) -> str:
        return f"Secret({self})"
