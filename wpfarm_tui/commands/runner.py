"""Driving an action from the command line: plan, confirmation, events, verdict.

Human output prints the plan, then one line per event; `--json` prints one
JSON object per line (plan steps, events, verdict) for scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict
from enum import IntEnum
from pathlib import Path
from typing import Any

from rich.console import Console

from wpfarm_tui.actions import (
    Action,
    ActionError,
    AuditLog,
    ReadOnlyError,
    Step,
    StepEvent,
    Verdict,
    execute,
    guard_read_only,
    with_read_only,
)
from wpfarm_tui.contexts import ContextError, context_path
from wpfarm_tui.farm.logs import LogStream
from wpfarm_tui.inventory import Farm, find_farm_file, load_farm


class ExitCode(IntEnum):
    """Every exit status of `wpfarm`, the one definition: `--help` and the README list these."""

    meaning: str

    def __new__(cls, value: int, meaning: str) -> ExitCode:
        member = int.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    OK = 0, "fine (warnings included)"
    FAILED = 1, "bad input (usage, farm.yaml) or a failed, refused or cancelled command"
    CRITICAL = 2, "something in the farm is critical (status, backups)"


def exit_codes_text() -> str:
    """The exit codes as `--help` shows them."""
    return "exit codes:\n" + "\n".join(f"  {c.value}  {c.meaning}" for c in ExitCode)


def no_color() -> bool:
    """https://no-color.org: NO_COLOR set and not empty."""
    return bool(os.environ.get("NO_COLOR"))


def console() -> Console:
    """The CLI's Rich console. Under NO_COLOR no ANSI styling at all: Rich's own NO_COLOR
    handling drops colours but still writes bold and underline escapes."""
    return Console(color_system=None) if no_color() else Console()


_SECONDS = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?")  # ASCII: no 'nan', 'inf', '1e9', '٤'
_WHOLE = re.compile(r"[0-9]{1,9}")


def seconds(maximum: float) -> Callable[[str], float]:
    """An argparse type for a time in seconds: a plain ASCII number, above 0, at most
    `maximum`. argparse names the option in front of the message."""
    def parse(text: str) -> float:
        value = float(text) if _SECONDS.fullmatch(text.strip()) else None
        if value is None or not 0 < value <= maximum:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a number of seconds; write e.g. 30 or 2.5 (more than 0, "
                f"at most {maximum:g})")
        return value
    return parse


def whole(minimum: int, maximum: int) -> Callable[[str], int]:
    """An argparse type for a count: ASCII digits, between `minimum` and `maximum`."""
    def parse(text: str) -> int:
        value = int(text) if _WHOLE.fullmatch(text.strip()) else None
        if value is None or not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number from {minimum} to {maximum}")
        return value
    return parse


def add_action_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    parser.add_argument("--yes", action="store_true",
                        help="confirm a destructive action without asking")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def farm_path_of(args: argparse.Namespace) -> Path:
    """Which farm.yaml: --context NAME (~/.config/wpfarm/farms/NAME.yaml) or --farm PATH,
    else $WPFARM_FARM, else ~/.config/wpfarm/farm.yaml. The one place that decides it."""
    context = getattr(args, "context", None)
    explicit = getattr(args, "farm", None)
    if context and explicit:
        raise ContextError("--context and --farm both name a farm: give one of them")
    if context:
        return context_path(context)
    return find_farm_file(explicit)


def load_farm_of(args: argparse.Namespace) -> Farm:
    """The farm a verb works on (farm_path_of), with --read-only folded into
    farm.read_only once, here, for every verb."""
    farm = load_farm(farm_path_of(args))
    return with_read_only(farm, bool(getattr(args, "read_only", False)))


def refuse_if_read_only(name: str, farm: Farm, args: argparse.Namespace,
                        params: Mapping[str, Any] | None = None) -> int | None:
    """For what is not an action (an image build, a shell) or whose action cannot be built
    without asking the farm: refuse (audited, by the same guard as `execute`) before
    anything is asked. None when the farm may be changed."""
    try:
        guard_read_only(name, params or {}, read_only=farm.read_only, audit=AuditLog())
    except ReadOnlyError as exc:
        return print_error(args, exc)
    return None


def print_error(args: argparse.Namespace, exc: ActionError) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"type": "error", "message": str(exc)}))
    else:
        print(f"wpfarm: {exc}", file=sys.stderr)
    return ExitCode.FAILED


def _confirm(action: Action, args: argparse.Namespace) -> bool:
    if not action.destructive or args.yes or args.dry_run:
        return True
    if not sys.stdin.isatty():
        return False  # never guess: scripts pass --yes
    answer = input(f"{action.name} is destructive. Type 'yes' to go on: ")
    return answer.strip() == "yes"


def run_action_cli(action: Action, farm: Farm, args: argparse.Namespace) -> int:
    """`farm` comes from `load_farm_of`: its read_only is the session's."""
    read_only = farm.read_only
    audit = AuditLog()
    as_json = bool(args.json)
    try:
        confirmed = True
        if not read_only:
            # Show the plan before asking.
            if not as_json:
                print(f"plan: {action.name}")
                for step in action.plan():
                    flag = " [destructive]" if step.destructive else ""
                    print(f"  - {step.name}{flag}" + (f": {step.detail}" if step.detail else ""))
            confirmed = _confirm(action, args)
        for item in execute(action, audit=audit, read_only=read_only, dry_run=args.dry_run,
                            confirmed=confirmed):
            if isinstance(item, Step):
                if as_json:
                    print(json.dumps({"type": "plan", **asdict(item)}))
            elif isinstance(item, StepEvent):
                if as_json:
                    print(json.dumps({"type": "event", **asdict(item)}), flush=True)
                else:
                    text = f"  {item.message}" if item.message else ""
                    print(f"[{item.kind:7}] {item.step}{text}", flush=True)
            elif isinstance(item, Verdict):
                if as_json:
                    print(json.dumps({"type": "verdict", **asdict(item)}))
                else:
                    print(("OK: " if item.ok else "FAILED: ") + item.summary)
                    for line in item.details:
                        print(f"  {line}")
                return ExitCode.OK if item.ok else ExitCode.FAILED
        if args.dry_run and not as_json:
            print("dry run: nothing was changed")
        return ExitCode.OK
    except ActionError as exc:
        return print_error(args, exc)


def print_log_stream(stream: LogStream) -> int:
    """Print a log stream until it ends or Ctrl-C (`service logs`, `site logs`)."""
    try:
        for line in stream.lines():
            print(line, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        stream.close()
    return ExitCode.OK


def add_log_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tail", type=whole(0, 100_000), default=100,
                        help="lines of history (default 100)")
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")


def seconds_arg(option: str, example: float, maximum: float | None = None
                ) -> Callable[[str], float]:
    """An argparse type for a number of seconds > 0 (and <= maximum): one wording of the
    error for every option that takes seconds."""
    bound = f"between 0 and {maximum:g}" if maximum is not None else "> 0"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not (text.isascii() and value > 0 and (maximum is None or value <= maximum)):
            raise argparse.ArgumentTypeError(f"{text[:20]!r}: give seconds {bound}, e.g. "
                                             f"{option} {example:g}")
        return value

    return parse
