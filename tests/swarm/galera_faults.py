"""Galera crashes on the swarm lab, for its tests and benchmarks/bench_recovery_load.py."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import docker

from wpfarm_tui.farm.galera_swarm import scaled_spec


def crash_galera(swarm_farm, api, nodes: list[str]) -> None:
    """kill -9 the nodes' mariadbd containers at once, then scale their services to 0
    before Swarm's restart delay (10 s) is over."""
    containers = [swarm_farm._task_container(f"db_{n}") for n in nodes]
    with ThreadPoolExecutor(len(containers)) as pool:
        list(pool.map(lambda c: c.kill(signal="SIGKILL"), containers))
    killed = time.monotonic()
    for n in nodes:
        for attempt in range(3):  # Swarm moves the version itself when it reschedules
            svc = api.inspect_service(f"db_{n}")
            try:
                api._result(api._post_json(api._url("/services/{0}/update", svc["ID"]),
                                           data=scaled_spec(svc["Spec"], 0),
                                           params={"version": svc["Version"]["Index"]}), True)
                break
            except docker.errors.APIError as exc:
                if "out of sequence" not in str(exc.explanation) or attempt == 2:
                    raise
    assert time.monotonic() - killed < 8, "scaled down too late: Swarm may have restarted"
    for n in nodes:
        deadline = time.monotonic() + 30
        while any(t["Status"]["State"] in ("running", "starting")
                  for t in api.tasks(filters={"service": f"db_{n}"})):
            assert time.monotonic() < deadline, f"db_{n} still has a running task"
            time.sleep(0.3)
