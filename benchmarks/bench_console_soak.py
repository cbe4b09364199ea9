"""The console left running against the lab in a real terminal (tmux, 120x40).

Reports the console process's CPU share of one core and its peak RSS over the
run. Goals (issue 13): CPU no more than the figure before windowed rates, history
and incident grouping + 20 % (6.6 % -> 7.9 % of one core), RSS <= 120 MB, with
30 minutes of history held, at a 1 s refresh.

    python benchmarks/bench_console_soak.py [--farm F] [--seconds 60] [--history 1800]

--history S (default 1800: the 30 minutes a collector keeps) runs the console
through this file's `--child` mode: the real console (cli.main), with
`Histories.record` wrapped so that the first sample of each source is preceded
by S seconds of synthetic samples, one a second, rising steadily, recorded
through the real `Histories.record` -> `CounterHistory.add` path. Every series
(Galera, Varnish, Redis, Traefik routers, CrowdSec) thus holds its full history
from the first poll on, as after 30 minutes of running, and every later poll
computes its windows over a full buffer. --history 0 runs the console as an
operator starts it (`python -m wpfarm_tui`), with the history it gathers during
the run only.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Hashable, Mapping
from pathlib import Path

SESSION = "wpfarm-soak"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(farm: str, history_s: float) -> int:
    """The console, every history prefilled with `history_s` seconds (see the docstring)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's code
    from wpfarm_tui.cli import main as console
    from wpfarm_tui.status.rates import Histories

    record = Histories.record
    steps = int(history_s)

    def prefilled(self: Histories, source: Hashable,
                  counters: Mapping[str, float | int | None], at: float | None = None) -> None:
        now = self.clock() if at is None else at
        seen: set[Hashable] = self.__dict__.setdefault("_soak_prefilled", set())
        if source not in seen:
            seen.add(source)
            for i in range(steps, 0, -1):
                # Counters rising by 1-5 a second, so ratios and rates have values.
                record(self, source, {name: None if v is None else float(v) - i * (1 + n % 5)
                                      for n, (name, v) in enumerate(counters.items())},
                       at=now - i)
        record(self, source, counters, at=now)

    Histories.record = prefilled  # type: ignore[method-assign]
    return console(["--farm", farm])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--farm", default="/var/lib/wpfarm-lab/farm.yaml")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--history", type=float, default=1800,
                        help="seconds of history each series holds from the start (0: none)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.exit(child(args.farm, args.history))

    if args.history > 0:
        command = (f"exec {shlex.quote(sys.executable)} {shlex.quote(os.path.abspath(__file__))}"
                   f" --child --history {args.history:g} --farm {shlex.quote(args.farm)}")
    else:
        command = (f"exec {shlex.quote(sys.executable)} -m wpfarm_tui"
                   f" --farm {shlex.quote(args.farm)}")
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    subprocess.run(["tmux", "new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40",
                    "-c", os.getcwd(),
                    "env", "TERM=xterm-256color", "sh", "-c", command], check=True)
    try:
        pid = int(subprocess.run(["tmux", "list-panes", "-t", SESSION, "-F", "#{pane_pid}"],
                                 capture_output=True, text=True, check=True).stdout.split()[0])
        time.sleep(5)  # start-up (imports, first polls) is not the steady state
        start_ticks, started = cpu_ticks(pid), time.monotonic()
        time.sleep(args.seconds)
        used = (cpu_ticks(pid) - start_ticks) / TICK
        elapsed = time.monotonic() - started
        screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", SESSION],
                                capture_output=True, text=True).stdout
        load = os.getloadavg()
        print(f"ran {elapsed:.0f} s in tmux 120x40 at the farm's refresh interval, "
              f"{args.history:g} s of history held (load average {load[0]:.2f})")
        print(f"CPU: {used:.2f} s = {100 * used / elapsed:.1f} % of one core (goal <= 7.9 %)")
        print(f"peak RSS: {peak_rss_mb(pid):.1f} MB (goal <= 120 MB)")
        print("last screen lines:")
        for line in [ln for ln in screen.splitlines() if ln.strip()][-3:]:
            print(f"  {line}")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)


if __name__ == "__main__":
    main()
