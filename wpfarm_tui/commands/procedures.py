"""The CLI side of the catalog: a procedure's parser, arguments and completion come from
its `Entry` (actions/catalog.py), so the console's form, the CLI, its help and the shell's
completion read one description. Not a verb group: it has no `register`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from wpfarm_tui.actions import ActionError
from wpfarm_tui.actions.catalog import Context, Entry, Field
from wpfarm_tui.commands import completion
from wpfarm_tui.commands.runner import (
    add_action_flags,
    load_farm_of,
    print_error,
    run_action_cli,
)


def add_field(parser: argparse.ArgumentParser, field: Field, name: str | None = None,
              **overrides: Any) -> argparse.Action:
    """The field as an argparse argument (positional, or `--key` when `field.option`).
    `name` (a positional's dest) and `overrides` are for a verb that takes more than its
    entry does (backup's many DOMAINs, `cache purge DOMAIN | --all`)."""
    kw: dict[str, Any] = {"help": field.help, "metavar": field.metavar or field.key.upper()}
    if field.choices:
        kw["choices"] = field.choices
    if field.option:
        kw["required"] = field.required
    elif not field.required:
        kw["nargs"] = "?"
    if field.default and not field.required:  # a required value has no default on the CLI
        kw["default"] = field.default
    kw.update(overrides)
    action = parser.add_argument(field.flag if field.option else name or field.key, **kw)
    if field.completer:
        action.completer = getattr(completion, field.completer)  # type: ignore[attr-defined]
    return action


def values_of(entry: Entry, args: argparse.Namespace) -> dict[str, str]:
    """The entry's inputs as the CLI parsed them (what was not given is left out)."""
    return {f.key: str(v) for f in entry.fields if (v := getattr(args, f.key, None)) is not None}


def context_of(args: argparse.Namespace, farm: Any) -> Context:
    """The farm's Context, with what a verb's own options add (--machine-credentials,
    --flag-dir)."""
    creds = getattr(args, "machine_credentials", None)
    flag_dir = getattr(args, "flag_dir", None)
    return Context.for_farm(farm, crowdsec_credentials=Path(creds) if creds else None,
                            maintenance_dir=Path(flag_dir) if flag_dir else None)


def run_entry(entry: Entry, args: argparse.Namespace) -> int:
    """Build the entry's action from the parsed arguments and run it (plan, confirmation,
    read-only refusal, audit, --dry-run, --json)."""
    farm = load_farm_of(args)
    try:
        action = entry.build(farm, context_of(args, farm), values_of(entry, args))
    except ActionError as exc:
        return print_error(args, exc)
    return run_action_cli(action, farm, args)


def procedure_parser(sub: Any, entry: Entry,
                     overrides: dict[str, dict[str, Any]] | None = None,
                     ) -> argparse.ArgumentParser:
    """`wpfarm <group> <verb>` for one entry: its help, the action flags, its fields, and a
    func that runs it. `overrides` by field key, for a verb that also takes --all."""
    p = sub.add_parser(entry.verb[-1], help=entry.help)
    add_action_flags(p)
    for f in entry.fields:
        add_field(p, f, **(overrides or {}).get(f.key, {}))
    p.set_defaults(func=lambda args: run_entry(entry, args))
    return p
