"""Galera recoveries on a quiet and on a busy machine: times and outcomes.

An incident rarely comes alone: the Swarm full-crash recovery was seen failing with the
machine's CPU busy. Each round crashes Galera (kill -9), runs the procedure the console
runs (GaleraRejoin for one node, GaleraRecover for all three) and prints its time, its
outcome and, when it failed, the step and why. "loaded" rounds run a bounded CPU burner
beside the procedure: one spinning process per core (--burners), each stopping by itself.

    python benchmarks/bench_recovery_load.py            # the loopback lab (wpfarm lab up)
    python benchmarks/bench_recovery_load.py --swarm    # the deployed three-node Swarm lab

It kills the lab's Galera nodes: run it on a lab nobody else is using.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ helpers

from tests.load import cpu_burner  # noqa: E402
from wpfarm_tui.actions import AuditLog, StepEvent, Verdict, execute  # noqa: E402
from wpfarm_tui.actions.galera import GaleraRecover, GaleraRejoin, all_status  # noqa: E402
from wpfarm_tui.inventory import Farm  # noqa: E402


class Target:
    """One lab's Galera: its farm, its node control, and how to crash its nodes."""

    farm: Farm
    control: object
    nodes: list[str]
    crash: Callable[[list[str]], None]
    ready: Callable[[], bool] = staticmethod(lambda: True)  # beyond Synced (Swarm: healthy)

    def close(self) -> None:
        pass


def loopback() -> Target:
    from wpfarm_tui.farm.galera_control import LabGaleraControl
    from wpfarm_tui.inventory import load_farm
    from wpfarm_tui.lab import Lab

    lab = Lab()
    target = Target()
    target.farm = load_farm(lab.farm_file)
    target.control = LabGaleraControl(lab)
    target.nodes = [n.name for n in target.farm.endpoints.galera.nodes]
    target.crash = lambda nodes: [lab.stop(n, hard=True) for n in nodes]
    return target


def swarm() -> Target:
    from tests.swarm.galera_faults import crash_galera
    from wpfarm_tui.farm.galera_swarm import SwarmGaleraControl
    from wpfarm_tui.swarmlab import SwarmLab
    from wpfarm_tui.swarmlab.farm import LabFarm

    lab = SwarmLab()
    lab_farm = LabFarm(lab)
    cli = lab.client()
    target = Target()
    target.farm = lab_farm.farm
    control = SwarmGaleraControl(target.farm)
    target.control = control
    target.nodes = [n.name for n in target.farm.endpoints.galera.nodes]
    target.crash = lambda nodes: crash_galera(lab_farm, cli.api, nodes)
    target.ready = lambda: all(any(  # type: ignore[method-assign]
        t["Status"]["State"] == "running" and t["DesiredState"] == "running"
        for t in cli.api.tasks(filters={"service": f"db_{n}"})) for n in target.nodes)

    def close() -> None:
        control.close()
        cli.close()

    target.close = close  # type: ignore[method-assign]
    return target


def wait_all_synced(target: Target, limit: float = 600) -> None:
    deadline = time.monotonic() + limit
    while True:
        views = all_status(target.farm.endpoints.galera)
        if all(v.get("wsrep_local_state_comment") == "Synced" for v in views.values()) \
                and target.ready():
            return
        if time.monotonic() > deadline:
            states = {n: v.get("wsrep_local_state_comment") for n, v in views.items()}
            raise SystemExit(f"the cluster is not whole before a round: {states}")
        time.sleep(1)


def run(action, audit: AuditLog) -> tuple[Verdict | None, str, float]:
    started = time.monotonic()
    verdict, failed = None, ""
    for item in execute(action, audit=audit, confirmed=True):
        if isinstance(item, StepEvent) and item.kind == "failed" and not failed:
            failed = f"{item.step}: {item.message}"
        elif isinstance(item, Verdict):
            verdict = item
    return verdict, failed, time.monotonic() - started


@contextlib.contextmanager
def load(burners: int, loaded: bool) -> Iterator[None]:
    if not loaded:
        yield
        return
    with cpu_burner(burners, seconds=1800):
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--swarm", action="store_true", help="the deployed swarm lab")
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 1,
                        help="spinning processes in the loaded rounds (default: one per core)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per scenario and load")
    parser.add_argument("--only", choices=["rejoin", "recover"], help="one scenario")
    args = parser.parse_args()
    target = swarm() if args.swarm else loopback()
    results = []
    try:
        with TemporaryDirectory() as tmp:
            audit = AuditLog(Path(tmp) / "audit.log")
            for scenario in ("rejoin", "recover"):
                if args.only and scenario != args.only:
                    continue
                for loaded in (False, True):
                    for _ in range(args.rounds):
                        wait_all_synced(target)
                        crashed = target.nodes[-1:] if scenario == "rejoin" else target.nodes
                        with load(args.burners, loaded):
                            target.crash(crashed)
                            if scenario == "rejoin":
                                action = GaleraRejoin(target.farm, target.control,
                                                      crashed[0])
                            else:
                                action = GaleraRecover(target.farm, target.control,
                                                       journal=Path(tmp) / "recover.json")
                            verdict, failed, took = run(action, audit)
                        ok = bool(verdict and verdict.ok)
                        load_text = f"loaded ({args.burners} burners)" if loaded else "quiet"
                        results.append((scenario, load_text, took, ok, failed))
                        print(f"{scenario:8} {load_text:20} {took:7.1f} s  "
                              f"{'ok' if ok else 'FAILED'}  {failed}", flush=True)
    finally:
        target.close()
    print(f"\n{'lab':8} {'swarm' if args.swarm else 'loopback'}; {os.cpu_count()} cores")
    for scenario, load_text, took, ok, failed in results:
        print(f"{scenario:8} {load_text:20} {took:7.1f} s  {'ok' if ok else 'FAILED: ' + failed}")
    if not all(r[3] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
