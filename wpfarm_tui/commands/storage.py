"""`wpfarm storage [--json]`: the Storage pane headless: the GlusterFS volume's peers,
bricks (online, pid, port, free), pending heals and split-brain entries per brick, options
drifting from farm.yaml's, and the mount on each app node. Exit code 2 when something is
critical, as `wpfarm status`."""

from __future__ import annotations

import argparse
import json
import sys

from rich.table import Table

from wpfarm_tui.commands.runner import ExitCode, console, load_farm_of
from wpfarm_tui.status.thresholds import Level

_STYLE = {Level.OK: "green", Level.UNKNOWN: "yellow", Level.WARNING: "yellow",
          Level.CRITICAL: "bold red"}


def _gib(value: int | None) -> str:
    return "—" if value is None else f"{value / 2**30:.1f} GiB"


def _n(value: object) -> str:
    return "—" if value is None else str(value)


def cmd_storage(args: argparse.Namespace) -> int:
    from wpfarm_tui.status.jsonable import jsonable
    from wpfarm_tui.status.storage import StorageCollector

    farm = load_farm_of(args)
    if farm.endpoints.gluster is None:
        print("wpfarm storage: farm.yaml has no endpoints.gluster; add `gluster: {volume: "
              "NAME, node: A_STORAGE_NODE}` under `endpoints:`", file=sys.stderr)
        return ExitCode.FAILED
    snap = StorageCollector(farm).collect()
    code = ExitCode.CRITICAL if snap.level == Level.CRITICAL else ExitCode.OK
    if args.json:
        print(json.dumps({"farm": farm.name, "level": snap.level.label, **jsonable(snap)},
                         indent=2))
        return code
    out = console()
    for s in snap.sources:
        out.print(f"{s.name}: [{_STYLE[s.level]}]{s.state}[/]"
                  + (f" {s.error}" if s.error and not s.ok else ""))
    peers = ", ".join(f"{p.hostname} ({'connected' if p.connected else 'DISCONNECTED'})"
                      for p in snap.peers) or "—"
    out.print(f"volume {snap.volume}: {snap.volume_status or 'missing'}"
              + (f", replica {snap.replica}" if snap.replica else "") + f"; peers: {peers}")
    table = Table(box=None, padding=(0, 1), show_edge=False)
    for name in ("brick", "online", "pid", "port", "free", "pending", "split-brain"):
        table.add_column(name, justify="left" if name in ("brick", "online") else "right",
                         no_wrap=name != "brick", overflow="fold")
    for b in snap.bricks:
        online = {True: "yes", False: "[bold red]NO[/]", None: "—"}[b.online]
        table.add_row(f"[{_STYLE[b.level]}]{b.brick}[/]", online, _n(b.pid), _n(b.port),
                      _gib(b.free_bytes), _n(b.pending), _n(b.split_brain))
    out.print(table)
    for f in snap.split_brain_files:
        out.print(f"[bold red]split-brain[/] {f}")
    for d in snap.drift:
        out.print(f"[yellow]option drift[/] {d.name} = {_n(d.actual)} (farm.yaml: {d.wanted})")
    for m in snap.mounts:
        state = "[green]mounted[/]" if m.ok else f"[bold red]{m.error}[/]"
        out.print(f"mount {m.node}:{m.path}: {state}")
    return code


def register(verbs: argparse._SubParsersAction) -> None:
    storage = verbs.add_parser("storage", help="the GlusterFS volume: peers, bricks, pending "
                               "heals, split-brain, option drift, mounts")
    storage.add_argument("--json", action="store_true", help="machine-readable output")
    storage.set_defaults(func=cmd_storage)

    from wpfarm_tui.actions.catalog import entry
    from wpfarm_tui.commands.procedures import procedure_parser

    group = verbs.add_parser("gluster", help="GlusterFS procedures: bootstrap, heal, "
                             "brick-start, split-brain")
    sub = group.add_subparsers(dest="gluster_verb", metavar="VERB", required=True)
    for name in ("gluster-bootstrap", "gluster-heal", "gluster-brick-start",
                 "gluster-split-brain"):
        procedure_parser(sub, entry(name))
