"""Themes as data: each YAML file in this folder becomes a `textual.theme.Theme`.

The level colours (ok / warning / critical / unknown) live in each file's
`variables` as `level-ok`, `level-warning`, `level-critical`, `level-unknown`;
they are CSS variables for the stylesheet and the source of the cell colours.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from textual.theme import Theme

THEME_DIR = Path(__file__).parent
DARK = "wpfarm-dark"
LIGHT = "wpfarm-light"
LEVEL_VARIABLES = ("level-ok", "level-warning", "level-critical", "level-unknown")

_FIELDS = ("primary", "secondary", "warning", "error", "success", "accent", "foreground",
           "background", "surface", "panel", "boost", "dark", "luminosity_spread",
           "text_alpha")


def theme_from_mapping(data: dict[str, Any]) -> Theme:
    """Build a Theme from one parsed YAML file; unknown keys are an error."""
    unknown = set(data) - {"name", "variables", *_FIELDS}
    if unknown:
        raise ValueError(f"theme {data.get('name')!r}: unknown keys {sorted(unknown)}")
    variables = {str(k): str(v) for k, v in (data.get("variables") or {}).items()}
    missing = [v for v in LEVEL_VARIABLES if v not in variables]
    if missing:
        raise ValueError(f"theme {data.get('name')!r}: missing variables {missing}")
    kwargs = {k: data[k] for k in _FIELDS if k in data}
    return Theme(name=str(data["name"]), variables=variables, **kwargs)


def load_themes(directory: Path = THEME_DIR) -> dict[str, Theme]:
    """All themes in `directory`, by name."""
    themes: dict[str, Theme] = {}
    for path in sorted(directory.glob("*.yaml")):
        theme = theme_from_mapping(yaml.safe_load(path.read_text()))
        themes[theme.name] = theme
    return themes
