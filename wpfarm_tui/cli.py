"""`wpfarm` opens the console; `wpfarm <verb>` runs the same collectors headless.

Exit codes: `ExitCode` in wpfarm_tui/commands/runner.py (`--help` lists them).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import pkgutil
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

from wpfarm_tui.commands.runner import (
    ExitCode,
    console,
    exit_codes_text,
    farm_path_of,
    seconds_arg,
)
from wpfarm_tui.contexts import ContextError
from wpfarm_tui.inventory import Farm, InventoryError, load_farm
from wpfarm_tui.programs import MissingPrograms
from wpfarm_tui.status.jsonable import jsonable
from wpfarm_tui.status.thresholds import Level, worst

DISTRIBUTION = "wpfarm-tui"  # pyproject.toml's [project] name


HELPERS = ("runner", "procedures")  # modules of wpfarm_tui/commands/ that are not verbs


def _command_modules() -> list[str]:
    """Verb groups in wpfarm_tui/commands/: every module there with a register(verbs)."""
    import wpfarm_tui.commands as package

    return sorted(m.name for m in pkgutil.iter_modules(package.__path__)
                  if m.name not in HELPERS)


def _load(args: argparse.Namespace) -> Farm:
    return load_farm(farm_path_of(args))


# ---------------------------------------------------------------- status
def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


_LEVEL_STYLE = {Level.OK: "green", Level.UNKNOWN: "yellow", Level.WARNING: "yellow",
                Level.CRITICAL: "bold red"}


def _print_status(console: Console, snapshots: dict[str, Any], seconds: dict[str, float]) -> None:
    for pane, snap in snapshots.items():
        level: Level = snap.level
        console.print(f"[{_LEVEL_STYLE[level]}]{level.label.upper():8}[/] {pane} "
                      f"({seconds[pane] * 1000:.0f} ms)")
        for source in snap.sources:
            if not source.ok:
                console.print(f"         [{_LEVEL_STYLE[source.level]}]{source.name}: "
                              f"{source.state}[/] {source.error or ''}")
        rows = snap.rows()
        if rows:
            table = Table(box=None, padding=(0, 2), show_edge=False)
            for name in rows[0][1]:
                table.add_column(name)
            for row_level, cells in rows:
                table.add_row(*(_cell(v) for v in cells.values()), style=_LEVEL_STYLE[row_level]
                              if row_level >= Level.WARNING else None)
            console.print(table)


def cmd_status(args: argparse.Namespace) -> int:
    from wpfarm_tui.status.collectors import build_collectors, refresh_all

    farm = _load(args)
    collectors = build_collectors(farm)
    if args.sample:
        # Rates need two samples: poll, wait, poll; the figures cover that window.
        refresh_all(collectors)
        time.sleep(args.sample)
    result = refresh_all(collectors)
    overall = worst([s.level for s in result.snapshots.values()])
    if args.json:
        print(json.dumps({
            "farm": farm.name, "level": overall.label, "wall_s": round(result.wall_s, 3),
            "panes": {p: {**jsonable(s), "poll_s": round(result.seconds[p], 3)}
                      for p, s in result.snapshots.items()},
        }, indent=2))
    else:
        out = console()
        out.print(f"[bold]{farm.name}[/] — {overall.label.upper()} "
                  f"(refreshed in {result.wall_s * 1000:.0f} ms)")
        _print_status(out, result.snapshots, result.seconds)
    return ExitCode.CRITICAL if overall == Level.CRITICAL else ExitCode.OK


# ---------------------------------------------------------------- console
def cmd_console(args: argparse.Namespace) -> int:
    from wpfarm_tui.app import run_console
    from wpfarm_tui.status.collectors import build_collectors

    try:
        path = farm_path_of(args)
    except InventoryError:
        if not sys.stdin.isatty():
            raise
        # First time on this bastion: set the farm up, then open it.
        from wpfarm_tui.commands.init import run_wizard

        written = run_wizard()
        if written is None:
            return ExitCode.FAILED
        path = written
    farm = load_farm(path)
    if os.environ.get("NO_COLOR") == "":
        # no-color.org: an empty NO_COLOR means colour; Textual goes monochrome on any.
        del os.environ["NO_COLOR"]
    recorder = None
    if getattr(args, "record", None):
        from wpfarm_tui.status.recording import Recorder

        recorder = Recorder(Path(args.record), farm.name)
    try:
        run_console(farm, build_collectors(farm, live=True), theme=args.theme,
                    read_only=args.read_only, recorder=recorder)
    finally:
        if recorder is not None:
            recorder.close()
    return ExitCode.OK


def cmd_replay(args: argparse.Namespace) -> int:
    """The console on a recording; the farm file, when there is one, gives its
    thresholds and names (nothing is asked of the farm: it is read-only)."""
    from wpfarm_tui.app import WpfarmApp
    from wpfarm_tui.inventory import Endpoints, RefreshSettings, SitesSettings
    from wpfarm_tui.screens.replay import ReplayScreen
    from wpfarm_tui.status.recording import RecordingError, load

    path = Path(args.replay)
    try:
        recording = load(path)
    except (RecordingError, OSError) as exc:
        print(f"wpfarm --replay: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    try:
        farm = load_farm(farm_path_of(args))
    except (InventoryError, ContextError):
        farm = Farm(recording.farm or "replay", "replay.invalid", "lab", (), Endpoints(),
                    SitesSettings(), RefreshSettings())
    WpfarmApp(farm, [], theme=args.theme, read_only=True,
              console=ReplayScreen(farm, recording, path.name)).run()
    return ExitCode.OK


# ---------------------------------------------------------------- lab
def cmd_lab(args: argparse.Namespace) -> int:
    from wpfarm_tui.lab import Lab, LabError

    lab = Lab(Path(args.lab_dir) if args.lab_dir else None)
    try:
        if args.lab_verb == "up":
            from wpfarm_tui.actions.backup import first_lab_backup

            farm_file = lab.up(first_backup=first_lab_backup)
            if args.json:
                print(json.dumps({"farm_file": str(farm_file), "components": lab.status()}))
            else:
                print(f"lab is up; farm definition: {farm_file}")
                print(f"open the console: wpfarm --farm {farm_file}")
        elif args.lab_verb == "down":
            lab.down()
            if args.json:
                print(json.dumps({"components": lab.status()}))
        else:
            states = lab.status()
            if args.json:
                print(json.dumps({"farm_file": str(lab.farm_file), "components": states}))
            else:
                for name, state in states.items():
                    print(f"{name:16} {state}")
            return ExitCode.OK if all(s == "running" for s in states.values()) else ExitCode.FAILED
    except LabError as exc:
        print(f"wpfarm lab {args.lab_verb}: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


# ---------------------------------------------------------------- entry point
def _add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The options every verb takes, before or after it. Only the top parser holds the
    defaults: a verb's parser leaves an option it was not given out of the namespace
    (SUPPRESS), so `wpfarm --farm F status` is not reset by status's own default."""

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    parser.add_argument("--farm", metavar="PATH", default=default(None),
                        help="farm.yaml (default: $WPFARM_FARM, then ~/.config/wpfarm/farm.yaml)")
    parser.add_argument("--context", metavar="NAME", default=default(None),
                        help="a named farm: ~/.config/wpfarm/farms/NAME.yaml (production, "
                             "staging, lab...)")
    parser.add_argument("--theme", default=default("wpfarm-dark"),
                        choices=("wpfarm-dark", "wpfarm-light"), help="console colours")
    parser.add_argument("--read-only", action="store_true", default=default(False),
                        help="refuse every action (as farm.read_only: true does)")


class WpfarmParser(argparse.ArgumentParser):
    """Every parser of the CLI. argparse builds a verb's parser (at any depth) with the
    class of the parser it hangs from, so each one gets the global options here."""

    def __init__(self, *args: Any, top: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _add_global_options(self, top=top)

    def error(self, message: str) -> NoReturn:
        # argparse exits 2 on bad usage, which scripts would read as "critical".
        self.print_usage(sys.stderr)
        self.exit(ExitCode.FAILED, f"{self.prog}: error: {message}\n")


def _version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = WpfarmParser(prog="wpfarm", description=__doc__.splitlines()[0], top=True,
                          epilog=exit_codes_text(),
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--record", metavar="FILE",
                        help="the console records every snapshot it shows into FILE")
    parser.add_argument("--replay", metavar="FILE",
                        help="open the console on a recording (wpfarm record, --record)")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    for module in _command_modules():
        importlib.import_module(f"wpfarm_tui.commands.{module}").register(verbs)

    status = verbs.add_parser("status", help="poll every source once and report")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--sample", type=seconds_arg("--sample", 5, 300), default=0.0,
                        metavar="SECONDS",
                        help="poll twice SECONDS apart, so rates (requests/s, hit %% over the "
                             "window, commits/s) cover that window; default: one poll, no rates")
    status.set_defaults(func=cmd_status)

    lab = verbs.add_parser("lab", help="a local farm of real servers on loopback")
    lab.add_argument("lab_verb", choices=("up", "down", "status"))
    lab.add_argument("--lab-dir", metavar="DIR",
                     help="where the lab keeps its state (default: $WPFARM_LAB_DIR or "
                          "/var/lib/wpfarm-lab)")
    lab.add_argument("--json", action="store_true", help="machine-readable output")
    lab.set_defaults(func=cmd_lab)

    console_verb = verbs.add_parser("console", help="open the console (the default)")
    console_verb.set_defaults(func=cmd_console)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:  # a shell asks for completions: answer and exit
        import argcomplete

        argcomplete.autocomplete(parser, always_complete_options=False)  # options after "-"
    args = parser.parse_args(argv)
    func = getattr(args, "func", cmd_replay if getattr(args, "replay", None) else cmd_console)
    try:
        return func(args)
    except InventoryError as exc:
        print(exc, file=sys.stderr)
        return ExitCode.FAILED
    except ContextError as exc:
        print(f"wpfarm: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    except MissingPrograms as exc:  # a message naming the packages, never a traceback
        print(f"wpfarm: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    except KeyboardInterrupt:
        return ExitCode.FAILED


if __name__ == "__main__":
    sys.exit(main())
