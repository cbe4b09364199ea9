"""Sites a test creates on the lab are deleted after it, whatever happened."""

from __future__ import annotations

import pytest

from tests.sites.helpers import run
from wpfarm_tui.actions.site import DeleteSite
from wpfarm_tui.sites.runtime import runtime_for


@pytest.fixture
def cleanup(lab_farm, tmp_path):
    """Append the domains a test creates: each is deleted (confirmed) after the test."""
    domains: list[str] = []
    yield domains
    runtime, host = runtime_for(lab_farm)
    for domain in domains:
        run(DeleteSite(lab_farm, runtime, domain, db_user_host=host), tmp_path, confirmed=True)
