"""`wpfarm traffic [--site D] [--sample S] [--json]`: the visitors' traffic headless.

Follows the edge's access log (endpoints.traefik.access_log) for `--sample` seconds, then
prints per site (or one site, with its top URLs, statuses and clients) what the Sites
pane shows and more: requests/s, hit / miss / pass, 4xx and 5xx ratios, p50 / p95 / p99,
bytes/s, and the farm-wide line with its p95 against the 200 ms target. The figures are
over the sample (a window is never longer than what was read). Exit code 2 when the
farm's traffic is critical, 1 when the stream could not be read."""

from __future__ import annotations

import argparse
import json
import time

from rich.console import Console
from rich.table import Table

from wpfarm_tui.commands import completion as complete
from wpfarm_tui.commands.runner import ExitCode, console, load_farm_of, print_error, seconds
from wpfarm_tui.status.thresholds import Level
from wpfarm_tui.status.traffic_model import TTFB_P95_TARGET_MS, SiteTraffic, TrafficFigures
from wpfarm_tui.steps import ActionError

_STYLE = {Level.OK: "green", Level.UNKNOWN: "", Level.WARNING: "yellow",
          Level.CRITICAL: "bold red"}
COLUMNS = ("site", "req/s", "hit%", "miss%", "pass%", "4xx%", "5xx%", "p50", "p95", "p99",
           "out/s")


def _n(value: float | None, fmt: str = "{:.1f}") -> str:
    return "—" if value is None else fmt.format(value)


def _bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}/s"
        value /= 1024
    return f"{value:.1f} GiB/s"


def _cells(name: str, f: TrafficFigures) -> list[str]:
    style = _STYLE[f.level]
    return [f"[{style}]{name}[/]" if style and f.level >= Level.WARNING else name,
            _n(f.rps, "{:.2f}"), _n(f.hit_pct), _n(f.miss_pct), _n(f.pass_pct), _n(f.s4_pct),
            _n(f.s5_pct), _n(f.p50_ms, "{:.0f}"), _n(f.p95_ms, "{:.0f}"),
            _n(f.p99_ms, "{:.0f}"), _bytes(f.bytes_s)]


def cmd_traffic(args: argparse.Namespace) -> int:
    from wpfarm_tui.status.jsonable import jsonable
    from wpfarm_tui.status.traffic import TrafficSource

    farm = load_farm_of(args)
    if farm.endpoints.traefik is None or not farm.endpoints.traefik.access_log:
        return print_error(args, ActionError(
            "endpoints.traefik.access_log: missing in farm.yaml; set it to the file Traefik "
            "writes its JSON access log to, or to the edge's Swarm service (edge_traefik)"))
    site = args.site.lower() if args.site else None
    source = TrafficSource(farm, known_hosts=lambda: [site] if site else [])
    try:
        time.sleep(args.sample)
        snap = source.snapshot()
    finally:
        source.close()
    code = (ExitCode.FAILED if not snap.source.ok else
            ExitCode.CRITICAL if snap.farm.m1.level == Level.CRITICAL else ExitCode.OK)
    sites = {h: t for h, t in sorted(snap.sites.items()) if site is None or h == site}
    if args.json:
        print(json.dumps({"farm": farm.name, "level": snap.level.label,
                          "sample_s": args.sample, "ttfb_p95_target_ms": TTFB_P95_TARGET_MS,
                          "source": jsonable(snap.source), "lines": snap.lines,
                          "probes_excluded": snap.probes_excluded,
                          "total": jsonable(snap.farm), "sites": jsonable(sites)}, indent=2))
        return code
    out = console()
    s = snap.source
    out.print(f"traffic: [{_STYLE[s.level] or 'yellow'}]{s.state}[/]"
              + (f" {s.error}" if s.error and not s.ok else "")
              + f" · {args.sample:g} s sampled · {snap.lines} lines,"
              f" {snap.probes_excluded} console probes left out")
    table = Table(box=None, padding=(0, 1), show_edge=False)
    for name in COLUMNS:
        table.add_column(name, justify="left" if name == "site" else "right", no_wrap=True)
    for host, t in sorted(sites.items(), key=lambda kv: -kv[1].m1.requests):
        table.add_row(*_cells(host, t.m1))
    if site is None:
        table.add_row(*_cells("(farm)", snap.farm.m1))
    out.print(table)
    p95 = snap.farm.m1.p95_ms
    if site is None and p95 is not None:
        verdict = "met" if p95 <= TTFB_P95_TARGET_MS else "[yellow]missed[/]"
        out.print(f"farm p95 {p95:.0f} ms: the {TTFB_P95_TARGET_MS:.0f} ms target {verdict}")
    if site is not None and site in sites:
        _tops(out, sites[site])
    return code


def _tops(out: Console, t: SiteTraffic) -> None:
    for title, rows in (("top URLs", t.top_paths), ("top statuses", t.top_status),
                        ("top clients", t.top_clients)):
        out.print(f"{title}: " + (", ".join(f"{k} ({v})" for k, v in rows) or "—"))


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("traffic", help="visitors' requests per site from the edge's access "
                         "log: rates, cache verdicts, errors, p50/p95/p99")
    p.add_argument("--site", metavar="DOMAIN",
                   help="one site, with its top URLs, statuses and clients"
                   ).completer = complete.site_domains  # type: ignore[attr-defined]
    p.add_argument("--sample", type=seconds(3600), default=10.0, metavar="S",
                   help="seconds of the stream to read (default 10)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_traffic)
