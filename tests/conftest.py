"""Shared fixtures. Integration tests run against the loopback lab of real
servers (`wpfarm lab up`); under CI=true a lab that cannot start fails the
run instead of skipping it, so a green CI means the real servers were tested."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wpfarm_tui.inventory import Farm, load_farm

IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(scope="session")
def lab():
    from wpfarm_tui.lab import Lab, LabError

    lab = Lab()
    try:
        lab.up(progress=lambda _msg: None)  # idempotent: a no-op when .ci/run started it
    except (LabError, OSError) as exc:
        if IN_CI:
            pytest.fail(f"the lab must run under CI: {exc}")
        pytest.skip(f"lab not available: {exc}")
    return lab


@pytest.fixture(scope="session")
def lab_farm(lab) -> Farm:
    return load_farm(Path(lab.farm_file))
