"""Named farms: production, staging and a lab side by side, each a farm.yaml of its own.

`~/.config/wpfarm/farms/NAME.yaml` is the farm called NAME (`wpfarm --context NAME`); the
single `~/.config/wpfarm/farm.yaml` stays the default when no context is named. A context name
is a file name, so it is checked before it becomes a path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class ContextError(ValueError):
    """A context that is badly named or missing; the message names the fix."""


@dataclass(frozen=True)
class Context:
    name: str
    path: Path


def config_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "wpfarm"


def farms_dir() -> Path:
    return config_dir() / "farms"


def contexts() -> list[Context]:
    """Every named farm, sorted by name."""
    found = []
    if farms_dir().is_dir():
        for path in sorted(farms_dir().glob("*.yaml")):
            if NAME.match(path.stem):
                found.append(Context(path.stem, path))
    return found


def context_path(name: str) -> Path:
    """The farm.yaml of context `name`; ContextError naming the ones there are."""
    if not NAME.match(name):
        raise ContextError(f"--context {name[:40]!r}: a context name is lower-case letters, "
                           "digits, '-' and '_' (the file farms/NAME.yaml)")
    path = farms_dir() / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(c.name for c in contexts()) or "none yet"
        raise ContextError(f"--context {name}: no {path} (known contexts: {known}); create it "
                           "from wpfarm_tui/data/farm.example.yaml or copy a farm.yaml there")
    return path
