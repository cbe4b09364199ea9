"""`wpfarm nodes [--json]`: the Nodes pane headless: every Swarm node with its CPU, memory,
load, disk and network from the metrics source (endpoints.metrics), the series of nodes the
Swarm does not list, and the rules firing in the source. Exit code 2 when something is
critical, as `wpfarm status`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from wpfarm_tui.commands.runner import ExitCode, console, load_farm_of
from wpfarm_tui.status.thresholds import Level

_STYLE = {Level.OK: "green", Level.UNKNOWN: "yellow", Level.WARNING: "yellow",
          Level.CRITICAL: "bold red"}


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)


def _rate(value: float | None) -> str:
    if value is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}/s" if unit == "B" else f"{value:.1f} {unit}/s"
        value /= 1024
    return "—"  # pragma: no cover


def cmd_nodes(args: argparse.Namespace) -> int:
    from wpfarm_tui.status.jsonable import jsonable
    from wpfarm_tui.status.model import NodeMetrics
    from wpfarm_tui.status.nodes import NodesCollector

    farm = load_farm_of(args)
    collector = NodesCollector(farm)
    try:
        snap = collector.collect()
    finally:
        collector.close()
    code = ExitCode.CRITICAL if snap.level == Level.CRITICAL else ExitCode.OK
    if args.json:
        print(json.dumps({"farm": farm.name, "level": snap.level.label, **jsonable(snap)},
                         indent=2))
        return code
    out = console()
    for s in snap.sources:
        state = f"[{_STYLE[s.level]}]{s.state}[/]"
        out.print(f"{s.name}: {state}" + (f" {s.error}" if s.error and not s.ok else ""))
    table = Table(box=None, padding=(0, 1), show_edge=False)
    for name in ("node", "state", "cpu%", "mem%", "load/c", "disk%", "full in", "net in",
                 "net out"):
        table.add_column(name, justify="left" if name in ("node", "state") else "right",
                         no_wrap=True)

    def styled(text: str, m: NodeMetrics, threshold: str) -> str:
        level = m.levels.get(threshold, Level.OK)
        return f"[{_STYLE[level]}]{text}[/]" if level >= Level.WARNING else text

    rows: list[tuple[Any, ...]] = [(n.hostname, n.state, n.metrics, n.level)
                                   for n in snap.nodes]
    rows += [(m.name, "not in the Swarm", m, m.level) for m in snap.unmatched]
    for name, state, m, level in rows:
        if m is None:
            figures = [snap.metrics_note(None) or "—", *["—"] * 6]
        else:
            disk = _num(m.disk_pct, "{:.0f}") + (f" {m.disk_mount}" if m.disk_mount else "")
            figures = [styled(_num(m.cpu_pct, "{:.0f}"), m, "cpu"),
                       styled(_num(m.memory_pct, "{:.0f}"), m, "memory"),
                       _num(m.load_per_core, "{:.2f}"), styled(disk, m, "disk"),
                       styled(_num(m.days_until_full, "{:.1f} d"), m, "disk_days_until_full"),
                       _rate(m.net_in_bps), _rate(m.net_out_bps)]
        name_cell = f"[{_STYLE[level]}]{name}[/]" if level >= Level.WARNING else name
        table.add_row(name_cell, state, *figures)
    out.print(table)
    for r in snap.rule_alerts:
        if r.level >= Level.WARNING:
            out.print(f"[{_STYLE[r.level]}]firing[/] {r.name}: {r.summary}")
    return code


def register(verbs: argparse._SubParsersAction) -> None:
    nodes = verbs.add_parser("nodes", help="every node's CPU, memory, load, disk and network "
                             "(endpoints.metrics) beside its Swarm state")
    nodes.add_argument("--json", action="store_true", help="machine-readable output")
    nodes.set_defaults(func=cmd_nodes)
