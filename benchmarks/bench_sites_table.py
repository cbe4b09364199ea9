"""How fast the Sites pane takes a big farm's snapshot.

Mounts the sites pane in an app (run_test, 120x40), shows 5,000 synthetic
sites, then 20 refreshes where ~5 % of the rows change, then 20 more with the
table sorted by TTFB (so each refresh also re-sorts). Prints the initial
fill time, the median and max time per refresh (goal <= 30 ms, measured to
the next screen update), and the process's peak RSS (goal <= 150 MB).
It prints figures; it does not assert.

    python benchmarks/bench_sites_table.py
"""

from __future__ import annotations

import asyncio
import random
import resource
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual.app import App, ComposeResult  # noqa: E402

from wpfarm_tui.status.model import SiteRow, SitesSnapshot, SourceHealth  # noqa: E402
from wpfarm_tui.status.thresholds import Level  # noqa: E402
from wpfarm_tui.themes import DARK, load_themes  # noqa: E402
from wpfarm_tui.widgets.sites_pane import SitesPane  # noqa: E402

SITES = 5_000
REFRESHES = 20
CHANGE = 0.05
SOURCES = (SourceHealth("edge-probe", "ok", checked_at=0.0),
           SourceHealth("registry", "ok", checked_at=0.0))


class BenchApp(App[None]):
    CSS_PATH = str(Path(__file__).resolve().parents[1] / "wpfarm_tui" / "app.tcss")

    def __init__(self) -> None:
        super().__init__()
        for theme in load_themes().values():
            self.register_theme(theme)
        self.theme = DARK

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {"level-critical-text": "#000000"}

    def compose(self) -> ComposeResult:
        yield SitesPane(id="sites-pane")


def synthetic_sites(rng: random.Random) -> list[SiteRow]:
    rows = []
    for i in range(SITES):
        ttfb = rng.uniform(40, 900)
        rows.append(SiteRow(
            domain=f"site{i:05d}.farm.example.com",
            state="active",
            http_status=200,
            ttfb_ms=ttfb,
            cache=rng.choice(("HIT", "MISS")),
            hit_ratio=rng.uniform(30, 100),
            error=None,
            level=Level.OK if ttfb < 500 else Level.WARNING,
        ))
    return rows


def mutate(rows: list[SiteRow], rng: random.Random) -> list[SiteRow]:
    rows = list(rows)
    for i in rng.sample(range(len(rows)), int(len(rows) * CHANGE)):
        ttfb = rng.uniform(40, 2500)
        level = Level.OK if ttfb < 500 else Level.WARNING if ttfb < 2000 else Level.CRITICAL
        rows[i] = replace(rows[i], ttfb_ms=ttfb, hit_ratio=rng.uniform(30, 100), level=level,
                          http_status=rng.choice((200, 200, 200, 502)))
    return rows


async def main() -> None:
    rng = random.Random(42)
    app = BenchApp()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(SitesPane)
        rows = synthetic_sites(rng)

        started = time.perf_counter()
        with app.batch_update():
            pane.show(SitesSnapshot(SOURCES, tuple(rows)))
        fill_sync = time.perf_counter() - started
        await pilot.pause()  # idle: column widths measured, screen drawn
        fill_total = time.perf_counter() - started
        assert pane.table.row_count == SITES

        timings: dict[str, tuple[list[float], list[float]]] = {}
        for sort in (None, "ttfb"):
            started = time.perf_counter()
            if sort is not None:
                pane.table.sort_by(sort, descending=True)
                await pilot.pause()
            sort_time = time.perf_counter() - started
            sync_times, update_times = timings.setdefault(
                f"sorted by {sort} ({sort_time * 1000:.0f} ms to sort)" if sort else "unsorted",
                ([], []))
            for _ in range(REFRESHES):
                rows = mutate(rows, rng)
                snapshot = SitesSnapshot(SOURCES, tuple(rows))
                started = time.perf_counter()
                with app.batch_update():
                    pane.show(snapshot)
                sync_times.append(time.perf_counter() - started)
                await pilot.pause()
                update_times.append(time.perf_counter() - started)

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    ms = 1000.0
    print(f"sites: {SITES:,} rows, {REFRESHES} refreshes, ~{CHANGE:.0%} of rows changed each")
    print(f"initial fill:  sync {fill_sync * ms:7.1f} ms   to screen {fill_total * ms:7.1f} ms")
    for what, (sync_times, update_times) in timings.items():
        print(f"{what}:")
        print(f"  refresh sync:  median {statistics.median(sync_times) * ms:6.1f} ms   "
              f"max {max(sync_times) * ms:6.1f} ms")
        print(f"  refresh total: median {statistics.median(update_times) * ms:6.1f} ms   "
              f"max {max(update_times) * ms:6.1f} ms   (goal <= 30 ms)")
    print(f"peak RSS:      {peak_kib / 1024:6.1f} MB   (goal <= 150 MB)")


if __name__ == "__main__":
    asyncio.run(main())
