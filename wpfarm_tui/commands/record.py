"""`wpfarm record FILE`: every pane's snapshots, polled at the farm's refresh interval,
into a recording that `wpfarm --replay FILE` opens (status/recording.py)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from wpfarm_tui.commands.runner import ExitCode, load_farm_of, seconds_arg


def cmd_record(args: argparse.Namespace) -> int:
    from wpfarm_tui.status.collectors import build_collectors, close_collectors, refresh_all
    from wpfarm_tui.status.recording import Recorder

    farm = load_farm_of(args)
    path = Path(args.file)
    if path.exists() and not args.force:
        print(f"wpfarm record: {path} exists; choose another file, or --force to replace it",
              file=sys.stderr)
        return ExitCode.FAILED
    collectors = build_collectors(farm)
    recorder = Recorder(path, farm.name)
    started = time.monotonic()
    polls = 0
    last: dict[str, float] = {}
    try:
        while args.seconds is None or time.monotonic() - started < args.seconds:
            began = time.monotonic()
            # A costly source (restic) sets min_interval: polled no faster, as the console.
            due = [c for c in collectors if began - last.get(c.pane, -1e9)
                   >= max(farm.refresh.interval, getattr(c, "min_interval", 0.0))]
            for c in due:
                last[c.pane] = began
            result = refresh_all(due)
            polled_at = time.time()  # one moment per poll: a replay steps poll by poll
            for pane, snapshot in result.snapshots.items():
                recorder.write(pane, snapshot, polled_at)
            polls += 1
            time.sleep(max(0.0, farm.refresh.interval - (time.monotonic() - began)))
    except KeyboardInterrupt:
        pass  # Ctrl-C ends a recording: what was polled is kept
    finally:
        recorder.close()
        close_collectors(collectors)
    size = path.stat().st_size
    print(f"recorded {polls} poll(s) of {len(collectors)} pane(s) in "
          f"{time.monotonic() - started:.0f} s: {path} ({size / 1024:.1f} KiB); "
          f"replay: wpfarm --replay {path}")
    return ExitCode.OK


def register(verbs: Any) -> None:
    p = verbs.add_parser("record", help="record every pane's snapshots for a later replay "
                         "(wpfarm --replay FILE); Ctrl-C ends it")
    p.add_argument("file", metavar="FILE", help="the recording to write (gzip'd JSON lines)")
    p.add_argument("--seconds", type=seconds_arg("--seconds", 600), default=None,
                   help="stop after this long (default: until Ctrl-C)")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=cmd_record)
