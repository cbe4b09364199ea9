"""Create N sites on the lab in one bulk run, then delete them.

Prints sites per minute, the per-site time (median, max), the slowest step,
and an extrapolation to 500 sites. The extrapolation is linear in the
per-site wall time at the same concurrency: creation is bound by WordPress's
installer (PHP + ~100 INSERTs into Galera) and the graceful reloads of nginx
and php-fpm, which grow with the number of pools; so it is a lower bound for
500 sites on this lab (2 cores), and a farm with ProxySQL and several app
nodes spreads the PHP work.

On a Swarm farm (`--farm` the swarm lab's farm.yaml) a site is a service and two one-off
jobs; about half of its ~30 s is the deploy step waiting for the first health check
(15 s interval; Docker 20.10 has no start_interval). That is waiting, not work: on the
swarm lab (2 cores) 50 sites at concurrency 4 took 392 s (7.7/min) and 24 at
concurrency 8 took 88 s (16.3/min) with the same ~30 s per site, so 500 scale with the
concurrency until the manager or the app nodes' CPU is the limit.

    python benchmarks/bench_sites_create.py [--farm F] [--sites 50] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--farm", default="/var/lib/wpfarm-lab/farm.yaml")
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    domains = [f"bench{i:03d}.lab.test" for i in range(args.sites)]
    base = [sys.executable, "-m", "wpfarm_tui", "--farm", args.farm]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(domains) + "\n")
    try:
        started = time.monotonic()
        done = subprocess.run([*base, "site", "create", "--from-file", f.name, "--concurrency",
                               str(args.concurrency), "--json"], capture_output=True, text=True)
        wall = time.monotonic() - started
        report = json.loads(done.stdout.strip().splitlines()[-1])
        sites = report["sites"]
        created = [s for s in sites if s["result"] == "created"]
        per_site = [s["seconds"] for s in created]
        slowest = Counter(s["slowest_step"] for s in created)
        worst = max(created, key=lambda s: s["slowest_s"], default=None)
        print(f"sites: {len(created)}/{args.sites} created at concurrency {args.concurrency} "
              f"in {wall:.1f} s ({60 * len(created) / wall:.1f} sites/minute)")
        if per_site:
            print(f"per site: median {statistics.median(per_site):.2f} s, "
                  f"max {max(per_site):.2f} s")
            print(f"slowest step, most often: {slowest.most_common(1)[0][0]} "
                  f"({slowest.most_common(1)[0][1]} sites); worst single step: "
                  f"{worst['slowest_step']} {worst['slowest_s']:.2f} s on {worst['domain']}")
            print(f"500 sites at this rate: ~{500 * wall / len(created) / 60:.1f} minutes "
                  "(linear; see the docstring)")
        failed = [s for s in sites if s["result"] != "created"]
        for s in failed[:5]:
            print(f"  not created: {s['domain']}: {s['detail']}")
    finally:
        t0 = time.monotonic()
        for domain in domains:
            subprocess.run([*base, "site", "delete", domain, "--yes", "--no-backup"],
                           capture_output=True)
        print(f"cleanup: {len(domains)} deleted in {time.monotonic() - t0:.1f} s")
        Path(f.name).unlink()


if __name__ == "__main__":
    main()
