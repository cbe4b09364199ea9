"""The console left running against the lab in a real terminal (tmux, 120x40).

Reports the console process's CPU share of one core and its peak RSS over the
run. Goals (issue 2): <= 10 % of one core and <= 100 MB at a 1 s refresh.

    python benchmarks/bench_console_soak.py [--farm F] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--farm", default="/var/lib/wpfarm-lab/farm.yaml")
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()

    command = f"exec {shlex.quote(sys.executable)} -m wpfarm_tui --farm {shlex.quote(args.farm)}"
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    subprocess.run(["tmux", "new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40",
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
        print(f"ran {elapsed:.0f} s in tmux 120x40 at the farm's refresh interval")
        print(f"CPU: {used:.2f} s = {100 * used / elapsed:.1f} % of one core (goal <= 10 %)")
        print(f"peak RSS: {peak_rss_mb(pid):.1f} MB (goal <= 100 MB)")
        print("last screen lines:")
        for line in [ln for ln in screen.splitlines() if ln.strip()][-3:]:
            print(f"  {line}")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)


if __name__ == "__main__":
    main()
