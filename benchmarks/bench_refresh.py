"""One full refresh of every pane against the lab: wall time vs the slowest source.

Goal (issue 2): a refresh costs no more than 1.5x its slowest source, i.e. the
panes and their sources are really polled concurrently.

    python benchmarks/bench_refresh.py [--farm /var/lib/wpfarm-lab/farm.yaml] [--rounds 20]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from wpfarm_tui.inventory import load_farm
from wpfarm_tui.status.collectors import build_collectors, refresh_all


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--farm", default="/var/lib/wpfarm-lab/farm.yaml")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    farm = load_farm(Path(args.farm))
    collectors = build_collectors(farm)
    refresh_all(collectors)  # warm-up: connections, thread pools

    ratios, walls, slowest_sources = [], [], []
    pane_times: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        result = refresh_all(collectors)
        sources = [s for snap in result.snapshots.values() for s in snap.sources]
        slowest = max(sources, key=lambda s: s.duration_s)
        slowest_pane = max(result.seconds.values())
        walls.append(result.wall_s)
        slowest_sources.append((slowest.duration_s, slowest.name))
        ratios.append(result.wall_s / slowest_pane)
        for pane, t in result.seconds.items():
            pane_times.setdefault(pane, []).append(t)
        down = [s.name for s in sources if not s.ok]
        if down:
            print(f"  note: sources not ok in this round: {', '.join(down)}")

    print(f"rounds: {args.rounds}")
    print(f"refresh wall time: median {statistics.median(walls) * 1000:.1f} ms, "
          f"max {max(walls) * 1000:.1f} ms")
    for pane, times in sorted(pane_times.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  pane {pane:7}: median {statistics.median(times) * 1000:.1f} ms")
    dur, name = max(slowest_sources)
    print(f"slowest single source: {name} ({dur * 1000:.1f} ms at worst)")
    print(f"wall / slowest pane: median {statistics.median(ratios):.2f}x, "
          f"max {max(ratios):.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
