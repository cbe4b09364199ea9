"""Every action test writes its audit log (and the Galera recovery journal) to a temp dir."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _audit_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("WPFARM_AUDIT_LOG", str(tmp_path / "audit.log"))
