"""Create N sites on the lab in one bulk run, then delete them.

Prints sites per minute, the per-site time (median, max), the slowest step,
and an extrapolation to 500 sites. The extrapolation is linear in the
per-site wall time at the same concurrency: creation is bound by WordPress's
installer (PHP + ~100 INSERTs into Galera) and the graceful reloads of nginx
and php-fpm, which grow with the number of pools; so it is a lower bound for
500 sites on this lab (2 cores), and a farm with ProxySQL and several app
nodes spreads the PHP work.

On a Swarm farm (`--farm` the swarm lab's farm.yaml) a site is a service and two one-off
jobs. The WordPress install runs while the new tasks wait for their first health check
(which passes only once WordPress is installed), so a site takes ~24 s on the swarm lab
(it took ~30 s with the install after the health wait): ~16 s of it is Docker 20.10's
first probe at the 15 s interval, ~5 s Traefik's next poll of the Swarm (15 s). Docker
25+ probes every second until healthy (the site spec's StartInterval; 20.10 ignores it).
That is waiting, not work: on the swarm lab (2 cores) 50 sites at concurrency 4 took 392 s
(7.7/min) and 24 at concurrency 8 took 88 s (16.3/min) with ~30 s per site, so 500 scale
with the concurrency until the manager or the app nodes' CPU is the limit.

While the bulk run goes it also measures what issue #18 asks: the most Galera
connections the bulk process held at once (its own sockets, from /proc; goal
<= 2 x concurrency) and the p95 TTFB of a live site of the lab (site1.test through
Traefik, passed by Varnish with a logged-in cookie) against its idle p95 (goal: within 2x).

    python benchmarks/bench_sites_create.py [--farm F] [--sites 50] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.sites.helpers import tcp_connections_to  # noqa: E402 - one way to count them

EDGE = "http://127.0.0.1:16100/"
LIVE = "site1.test"
GALERA_PORTS = {33061, 33062, 33063}
# The lab's VCL passes requests with a logged-in cookie: WordPress renders the page (PHP +
# Galera), which is what a bulk create competes with; a cache hit would hide it.
UNCACHED = {"Host": LIVE, "Cookie": "wordpress_logged_in_probe=1"}


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)] if ordered else float("nan")


def live_ttfb(client: httpx.Client) -> float | None:
    t0 = time.monotonic()
    try:
        ok = client.get(EDGE, headers=UNCACHED).is_success
    except httpx.HTTPError:
        return None
    return (time.monotonic() - t0) * 1000 if ok else None


class Watch(threading.Thread):
    """The bulk process's Galera connections and the live site's TTFB, every 0.25 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.connections_max, self.ttfb, self.failures = pid, 0, [], 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                self.connections_max = max(self.connections_max,
                                           tcp_connections_to(self.pid, GALERA_PORTS))
                ms = live_ttfb(client)
                if ms is None:
                    self.failures += 1
                else:
                    self.ttfb.append(ms)
                self.stop.wait(0.25)


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
    with httpx.Client(timeout=10) as client:
        idle = [ms for ms in (live_ttfb(client) for _ in range(40)) if ms is not None]
    try:
        started = time.monotonic()
        proc = subprocess.Popen([*base, "site", "create", "--from-file", f.name,
                                 "--concurrency", str(args.concurrency), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        watch = Watch(proc.pid)
        watch.start()
        stdout, _ = proc.communicate()
        watch.stop.set()
        watch.join()
        wall = time.monotonic() - started
        report = json.loads(stdout.strip().splitlines()[-1])
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
        print(f"Galera connections held by the bulk process, max: {watch.connections_max} "
              f"(goal <= {2 * args.concurrency})")
        print(f"live site {LIVE} p95 TTFB: {p95(watch.ttfb):.0f} ms during the run "
              f"({len(watch.ttfb)} probes, {watch.failures} failed), {p95(idle):.0f} ms idle "
              f"(goal <= {2 * p95(idle):.0f} ms)")
        failed = [s for s in sites if s["result"] != "created"]
        for s in failed[:5]:
            print(f"  not created: {s['domain']}: {s['detail']}")
    finally:
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.concurrency) as deleters:
            list(deleters.map(lambda d: subprocess.run(
                [*base, "site", "delete", d, "--yes", "--no-backup"], capture_output=True),
                domains))
        print(f"cleanup: {len(domains)} deleted in {time.monotonic() - t0:.1f} s")
        Path(f.name).unlink()


if __name__ == "__main__":
    main()
