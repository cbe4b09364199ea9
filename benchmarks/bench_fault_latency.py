"""Seconds from a source's death to the console showing it, for every source of the lab.

For each lab component (each Galera node, Redis master and replica, each Sentinel, Varnish,
Traefik, CrowdSec, Docker) the console runs headless against the lab, the component is
stopped (SIGTERM, or SIGKILL with --hard), and the time until the status bar names its source
is printed. The component is started again and the console must see it back before the next.

Goal (issue 13): <= the refresh interval + 0.5 s for every source.

    python benchmarks/bench_fault_latency.py [--farm /var/lib/wpfarm-lab/farm.yaml]
                                             [--only varnish,crowdsec] [--hard]

With --swarm, the same on the three-node Swarm lab after the e2e deploy, from outside its
overlay networks (its farm.yaml): a Varnish task killed, the Redis master's task stopped,
a node drained; the time until the pane's row shows it.

    python benchmarks/bench_fault_latency.py --swarm

It stops the lab's servers one at a time: run it on a lab nobody else is using.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from wpfarm_tui.app import WpfarmApp
from wpfarm_tui.inventory import load_farm
from wpfarm_tui.lab import Lab
from wpfarm_tui.status.collectors import build_collectors

# lab component -> the source name the console shows for it
SOURCES = {
    "galera-1": "galera-1", "galera-2": "galera-2", "galera-3": "galera-3",
    "redis-master": "redis-master", "redis-replica": "redis-replica",
    "sentinel-1": "sentinel-1", "sentinel-2": "sentinel-2", "sentinel-3": "sentinel-3",
    "varnish": "varnish", "traefik": "traefik", "crowdsec": "crowdsec", "dockerd": "docker",
    "prometheus": "metrics",
}  # fmt: skip
LIMIT_S = 15.0  # give up on one source after this long


async def _until(pilot, condition, limit: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if condition():
            return time.monotonic() - started
        await pilot.pause(0.05)
    return None


async def measure(farm_path: Path, components: list[str], hard: bool) -> list[tuple]:
    farm = load_farm(farm_path)
    lab = Lab()
    app = WpfarmApp(farm, build_collectors(farm))
    results = []
    async with app.run_test(size=(160, 50)) as pilot:
        await _until(pilot, lambda: len(app.snapshots) == len(app.pane_ids), 30)
        for component in components:
            source = SOURCES[component]

            def shown(source: str = source) -> bool:
                return any(p.name == source for p in app.console_screen.status_bar.problems)

            if await _until(pilot, lambda: not shown(), 30) is None:
                results.append((component, None, "was already failing"))
                continue
            await asyncio.to_thread(lab.stop, component, hard)
            seen = await _until(pilot, shown, LIMIT_S)
            await asyncio.to_thread(lab.start, component, lambda _m: None)
            back = await _until(pilot, lambda: not shown(), 60)
            results.append((component, seen, "" if back is not None else "not seen back"))
    return results


async def measure_swarm() -> list[tuple]:
    """(fault, seconds until its row shows it, note) on the deployed swarm lab."""
    import contextlib

    from wpfarm_tui.swarmlab import NODES, SwarmLab

    lab = SwarmLab()
    farm = load_farm(lab.farm_file)
    label = "com.docker.swarm.service.name"

    def containers(node, service):
        with contextlib.closing(lab.client(node)) as cli:
            return cli.containers.list(filters={"label": f"{label}={service}"})

    def caches():
        return app.snapshots.get("caches")

    def varnish_down(name: str) -> bool:
        snap = caches()
        return bool(snap) and any(v.name == name and not v.reachable for v in snap.varnish)

    def redis_down(name: str) -> bool:
        snap = caches()
        return bool(snap) and any(r.name == name and not r.reachable for r in snap.redis)

    def drained(hostname: str) -> bool:
        snap = app.snapshots.get("nodes")
        return bool(snap) and any(n.hostname == hostname and n.availability == "drain"
                                  for n in snap.nodes)

    app = WpfarmApp(farm, build_collectors(farm))
    results = []
    async with app.run_test(size=(160, 50)) as pilot:
        await _until(pilot, lambda: len(app.snapshots) == len(app.pane_ids), 30)
        await pilot.pause(2 * farm.refresh.interval)
        node = NODES[1]
        (container,) = containers(node, "cache_varnish")
        await asyncio.to_thread(container.kill)
        seen = await _until(pilot, lambda: varnish_down(f"varnish-{node.name}"), LIMIT_S)
        back = await _until(pilot, lambda: not varnish_down(f"varnish-{node.name}"), 90)
        results.append(("varnish task killed", seen, "" if back is not None else "not back"))

        master = next(r for r in caches().redis if r.role == "master")
        instance = next(i for i in farm.endpoints.redis.instances if i.name == master.name)
        node = next(n for n in NODES if n.address == instance.host)
        (container,) = containers(node, f"redis_{instance.announce.split(':')[0]}")
        await asyncio.to_thread(container.stop, timeout=1)
        seen = await _until(pilot, lambda: redis_down(master.name), LIMIT_S)
        back = await _until(pilot, lambda: not redis_down(master.name), 90)
        results.append(("redis master stopped", seen, "" if back is not None else "not back"))

        node = NODES[2]
        with contextlib.closing(lab.client()) as cli:
            swarm_node = next(n for n in cli.nodes.list()
                              if n.attrs["Description"]["Hostname"] == node.name)
            spec = dict(swarm_node.attrs["Spec"])
            await asyncio.to_thread(swarm_node.update, {**spec, "Availability": "drain"})
            seen = await _until(pilot, lambda: drained(node.name), LIMIT_S)
            swarm_node.reload()
            await asyncio.to_thread(swarm_node.update, {**dict(swarm_node.attrs["Spec"]),
                                                        "Availability": "active"})
        results.append(("node drained", seen, ""))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--farm", default="/var/lib/wpfarm-lab/farm.yaml")
    parser.add_argument("--only", help="comma-separated components (default: all)")
    parser.add_argument("--hard", action="store_true", help="SIGKILL instead of SIGTERM")
    parser.add_argument("--swarm", action="store_true",
                        help="the deployed swarm lab's faults instead of the loopback lab's")
    args = parser.parse_args()
    if args.swarm:
        from wpfarm_tui.swarmlab import SwarmLab

        farm = load_farm(SwarmLab().farm_file)
        results = asyncio.run(measure_swarm())
    else:
        components = args.only.split(",") if args.only else list(SOURCES)
        farm = load_farm(Path(args.farm))
        results = asyncio.run(measure(Path(args.farm), components, args.hard))
    goal = farm.refresh.interval + 0.5
    print(f"refresh interval {farm.refresh.interval:g} s; goal <= {goal:.1f} s per source")
    worst = 0.0
    for component, seconds, note in results:
        shown = "not shown" if seconds is None else f"{seconds:5.2f} s"
        verdict = "" if seconds is None else ("ok" if seconds <= goal else "OVER")
        print(f"  {component:14} {shown:>10}  {verdict:4} {note}")
        worst = max(worst, seconds if seconds is not None else float("inf"))
    print(f"worst: {worst:.2f} s (goal <= {goal:.1f} s)")


if __name__ == "__main__":
    main()
