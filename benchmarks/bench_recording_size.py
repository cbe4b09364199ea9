"""Size of a recording per hour at the farm's refresh interval (issue 14: <= 20 MB/hour
at 1 s on the lab).

Records the lab for --seconds through `wpfarm record` (every pane, each at its interval)
and prints the file's size, the polls, and the size extrapolated to one hour.

    python benchmarks/bench_recording_size.py [--farm /var/lib/wpfarm-lab/farm.yaml]
                                              [--seconds 120]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wpfarm_tui.inventory import load_farm
from wpfarm_tui.status.recording import load

GOAL_MB_PER_HOUR = 20.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--farm", default="/var/lib/wpfarm-lab/farm.yaml")
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    farm = load_farm(Path(args.farm))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.gz"
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "wpfarm_tui", "--farm", args.farm, "record",
                        str(path), "--seconds", str(args.seconds)], check=True,
                       capture_output=True)
        wall = time.monotonic() - started
        size = path.stat().st_size
        recording = load(path)
    span = (recording.frames[-1].at - recording.frames[0].at) if recording.frames else 0.0
    per_hour = size / max(span, 1.0) * 3600 / 1e6
    print(f"refresh interval {farm.refresh.interval:g} s; recorded {len(recording.frames)} "
          f"snapshots of {len(recording.panes)} panes over {span:.0f} s ({wall:.0f} s wall)")
    verdict = "ok" if per_hour <= GOAL_MB_PER_HOUR else "OVER"
    print(f"file: {size / 1024:.1f} KiB -> {per_hour:.2f} MB/hour "
          f"(goal <= {GOAL_MB_PER_HOUR:g} MB/hour): {verdict}")


if __name__ == "__main__":
    main()
