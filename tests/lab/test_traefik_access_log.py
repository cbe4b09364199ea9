"""The lab's Traefik access log: written where the farm file says, kept under a bound."""

from __future__ import annotations

import yaml

from wpfarm_tui.lab import traefik
from wpfarm_tui.lab.lab import Lab


def test_access_log_configured_and_emptied_past_its_bound(tmp_path, monkeypatch):
    lab = Lab(root=tmp_path)
    log = tmp_path / "traefik" / "access.log"
    log.parent.mkdir(parents=True)
    log.write_bytes(b'{"a":1}\n' * 10)
    lab._prepare_traefik()
    assert log.stat().st_size == 80  # under the bound: kept
    static = yaml.safe_load((tmp_path / "traefik" / "traefik.yml").read_text())
    assert static["accessLog"]["filePath"] == str(log)
    assert static["accessLog"]["fields"]["headers"]["names"]["X-Cache"] == "keep"
    monkeypatch.setattr(traefik, "ACCESS_LOG_MAX_BYTES", 50)
    lab._prepare_traefik()
    assert log.stat().st_size == 0
