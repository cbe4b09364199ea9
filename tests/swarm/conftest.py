"""The three-node swarm lab, once per session; under CI=true a missing tool fails."""

from __future__ import annotations

import os
import time

import pytest

from tests.needs import unavailable
from tests.swarm.deploying import deploy_layers, verdict_of
from wpfarm_tui import programs
from wpfarm_tui.swarmlab.lab import SWARMLAB_PROGRAMS


def _unavailable(why: str) -> None:
    unavailable(f"swarm lab not available: {why}")


@pytest.fixture(scope="session")
def swarmlab():
    from wpfarm_tui.swarmlab import SwarmLab, SwarmLabError

    try:
        programs.require([*SWARMLAB_PROGRAMS, "docker", "curl"], "the swarm tests")
    except programs.MissingPrograms as exc:
        _unavailable(str(exc))
    if os.geteuid() != 0:
        _unavailable("needs root")
    lab = SwarmLab()
    try:
        lab.up(progress=lambda _m: None)
    except (SwarmLabError, OSError) as exc:
        _unavailable(str(exc))
    yield lab
    if os.environ.get("WPFARM_SWARMLAB_KEEP") != "1":
        # Disk cleaned after: images, volumes, the registry's storage (the debootstrap
        # cache stays, so the next run skips the 25-50 s).
        lab.down(purge=True, progress=lambda _m: None)


@pytest.fixture(scope="session")
def swarm_farm(swarmlab):
    """Rendered with lab images, secrets created, images built and pushed (once)."""
    from wpfarm_tui.swarmlab.farm import LabFarm

    lf = LabFarm(swarmlab)
    lf.render()
    lf.create_secrets(progress=lambda _m: None)
    lf.build_images(progress=lambda _m: None)
    lf.seed_content()
    return lf


@pytest.fixture(scope="session")
def deployed(swarm_farm, tmp_path_factory):
    """db, app, cache, edge and security deployed (about 5 min on a purged lab; idempotent). No
    test-side provisioning: the db layer's accounts step makes the accounts, the site's
    database and the registry; only the lab's WordPress install (wp-install.php) is here."""
    tmp = tmp_path_factory.mktemp("deploy")
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    _a, items = deploy_layers(swarm_farm, tmp, "db")
    assert verdict_of(items).ok, verdict_of(items)
    timings["db"] = time.monotonic() - t0
    t0 = time.monotonic()
    _a, items = deploy_layers(swarm_farm, tmp, "app")
    assert verdict_of(items).ok, verdict_of(items)
    timings["app"] = time.monotonic() - t0
    swarm_farm.install_site()
    t0 = time.monotonic()
    _a, items = deploy_layers(swarm_farm, tmp, "cache", "edge", "security")
    assert verdict_of(items).ok, verdict_of(items)
    timings["cache+edge+security"] = time.monotonic() - t0
    return timings
