"""Secrets are references in farm.yaml, resolved only when a client connects.

A `Secret` never renders its value: `str()`, `repr()` and JSON all show the
reference (``env:WPFARM_GALERA_PASSWORD``), so a secret that ends up in a log
line, an exception or `--json` output leaks only its name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SECRET_KINDS = ("env", "file", "docker_secret")
DOCKER_SECRETS_DIR = Path("/run/secrets")


class SecretError(Exception):
    """A secret reference that cannot be resolved; the message names the reference only."""


@dataclass(frozen=True)
class Secret:
    kind: str  # one of SECRET_KINDS
    ref: str  # variable name, file path or Docker secret name

    def reveal(self) -> str:
        """The secret's value, for handing to a client library; never for display."""
        if self.kind == "env":
            value = os.environ.get(self.ref)
            if value is None:
                raise SecretError(f"environment variable {self.ref} is not set")
            return value
        path = Path(self.ref).expanduser() if self.kind == "file" else DOCKER_SECRETS_DIR / self.ref
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise SecretError(f"cannot read secret {self}: {exc.strerror}") from None

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}"

    def __repr__(self) -> str:
        return f"Secret({self})"
