"""How many access-log lines per second the traffic figures take, on one core.

Synthetic lines in the exact shape the lab's Traefik 3.7 writes (every default field
plus the kept headers), 500 site names, mixed verdicts, statuses, paths and clients.
Prints lines/s for `parse` alone and for parse + count (TrafficAggregator.add_line, what
the follower's thread does per line), then the time of one snapshot of 500 sites and
the aggregator's size. Goal >= 50k lines/s (GoAccess, in C: 51-90k).
It prints figures; it does not assert.

    python benchmarks/bench_traffic_parse.py [LINES]
"""

from __future__ import annotations

import json
import random
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wpfarm_tui.farm.access_log import parse  # noqa: E402
from wpfarm_tui.status.model import SourceHealth  # noqa: E402
from wpfarm_tui.status.thresholds import DEFAULT_THRESHOLDS  # noqa: E402
from wpfarm_tui.status.traffic import TrafficAggregator  # noqa: E402


def lines(n: int) -> list[str]:
    rng = random.Random(1)
    out = []
    for i in range(n):
        host = f"site{rng.randrange(500)}.example.org"
        port = 30000 + i % 30000
        dur = int(rng.lognormvariate(15, 1.2))
        out.append(json.dumps({
            "ClientAddr": f"198.51.100.{i % 200}:{port}", "ClientHost": f"198.51.100.{i % 200}",
            "ClientPort": str(port), "ClientUsername": "-",
            "DownstreamContentSize": rng.randrange(200, 60000),
            "DownstreamStatus": rng.choice((200, 200, 200, 200, 301, 404, 503)),
            "Duration": dur, "OriginContentSize": 13118, "OriginDuration": dur - 300000,
            "OriginStatus": 200, "Overhead": 300000, "RequestAddr": host,
            "RequestContentSize": 0, "RequestCount": i, "RequestHost": host,
            "RequestMethod": "GET", "RequestPath": f"/post-{rng.randrange(2000)}/",
            "RequestPort": "-", "RequestProtocol": "HTTP/2.0", "RequestScheme": "https",
            "RetryAttempts": 0, "RouterName": "site@swarm", "ServiceAddr": "10.0.1.5:80",
            "ServiceName": "varnish@file", "ServiceURL": "http://10.0.1.5:80",
            "StartLocal": "2026-11-29T01:29:05.161019761Z",
            "StartUTC": "2026-11-29T01:29:05.161019761Z",
            "downstream_X-Cache": rng.choice(("HIT", "HIT", "HIT", "MISS", "PASS")),
            "entryPointName": "websecure", "level": "info", "msg": "",
            "origin_X-Cache": "HIT", "request_User-Agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "time": "2026-11-29T01:29:05Z"}, separators=(",", ":")))
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    data = lines(n)
    print(f"{n:,} lines, {sum(map(len, data)) / n:.0f} bytes each on average")
    t = time.perf_counter()
    for line in data:
        parse(line)
    dt = time.perf_counter() - t
    print(f"parse only:        {n / dt:10,.0f} lines/s")
    agg = TrafficAggregator(dict(DEFAULT_THRESHOLDS))
    t = time.perf_counter()
    for line in data:
        agg.add_line(line)
    dt = time.perf_counter() - t
    print(f"parse + count:     {n / dt:10,.0f} lines/s")
    t = time.perf_counter()
    snap = agg.snapshot(SourceHealth("traffic", "ok"))
    print(f"snapshot of {len(snap.sites)} sites: {1000 * (time.perf_counter() - t):.0f} ms")
    tracemalloc.start()
    agg = TrafficAggregator(dict(DEFAULT_THRESHOLDS))
    for line in data:
        agg.add_line(line)
    size, _peak = tracemalloc.get_traced_memory()
    print(f"aggregator after {n:,} lines: {size / 1e6:.1f} MB (bounded: slots, buckets, top-K)")


if __name__ == "__main__":
    main()
