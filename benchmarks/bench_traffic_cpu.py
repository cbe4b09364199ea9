"""What following the edge's access log costs the console, while the lab's edge serves
traffic: CPU of the traffic pipeline (the follower's thread, parsing, counting, and one
snapshot per refresh as the Sites pane takes it) over an idle baseline.

A load generator in another process (its CPU is not counted) sends requests to the lab's
Traefik for `--seconds` at up to `--rate` requests/s, spread over 500 site names (half to
the lab's two real sites, cached; half to names with no router: Traefik's 404, still one
access-log line each, counted together as "(no site)"; bench_traffic_parse.py has 500
real sites). Prints the rate reached, lines read, and CPU % of one core above idle.
Goal: <= 15 % of a core at 1,000 requests/s. It prints figures; it does not assert.

    python benchmarks/bench_traffic_cpu.py [--rate 1000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EDGE = "http://127.0.0.1:16100"
LAB = Path("/var/lib/wpfarm-lab")


def _load(rate: float, seconds: float, workers: int, done: multiprocessing.Queue) -> None:
    import httpx

    stop = time.monotonic() + seconds
    per_worker = rate / workers
    counts = [0] * workers

    def worker(w: int) -> None:
        with httpx.Client(timeout=5) as client:
            i = w
            start = time.monotonic()
            while (now := time.monotonic()) < stop:
                host = (("site1.test", "site2.test")[i % 2] if i % 4 < 2
                        else f"s{(i // 4) % 500}.test")
                try:
                    client.get(EDGE + "/", headers={"Host": host})
                    counts[w] += 1
                except httpx.HTTPError:
                    pass
                i += workers
                ahead = counts[w] / per_worker - (now - start)
                if ahead > 0:
                    time.sleep(ahead)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.put(sum(counts))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    from wpfarm_tui.inventory import load_farm
    from wpfarm_tui.status.traffic import TrafficSource

    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", type=int, default=16)
    args = ap.parse_args()
    farm = load_farm(LAB / "farm.yaml")
    assert farm.endpoints.traefik is not None
    ep = dataclasses.replace(farm.endpoints.traefik,
                             access_log=str(LAB / "traefik" / "access.log"))
    farm = dataclasses.replace(farm, endpoints=dataclasses.replace(farm.endpoints, traefik=ep))
    source = TrafficSource(farm)

    def measure(seconds: float) -> float:
        c0, t0 = _cpu(), time.monotonic()
        end = t0 + seconds
        while time.monotonic() < end:
            source.snapshot()  # one per refresh (2 s), as the Sites collector does
            time.sleep(min(2.0, max(0.0, end - time.monotonic())))
        return 100 * (_cpu() - c0) / (time.monotonic() - t0)

    time.sleep(1)
    idle = measure(5)
    lines0 = source.aggregator.lines
    done: multiprocessing.Queue = multiprocessing.Queue()
    gen = multiprocessing.Process(target=_load, args=(args.rate, args.seconds, args.workers,
                                                      done))
    gen.start()
    busy = measure(args.seconds)
    gen.join()
    sent = done.get()
    time.sleep(1)
    lines = source.aggregator.lines - lines0
    snap = source.snapshot()
    source.close()
    print(f"load: {sent:,} requests in {args.seconds:g} s = {sent / args.seconds:,.0f}/s "
          f"(asked {args.rate:,.0f}/s), {len(snap.sites)} host names")
    print(f"access-log lines read: {lines:,}; source {snap.source.state}")
    print(f"traffic pipeline CPU: idle {idle:.1f} %, under load {busy:.1f} % of a core "
          f"-> {busy - idle:.1f} % above idle (goal <= 15 %)")


if __name__ == "__main__":
    main()
