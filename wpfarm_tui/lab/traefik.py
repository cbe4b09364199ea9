"""The lab's Traefik, the edge in front of Varnish (file provider: dynamic.d)."""

from __future__ import annotations

import httpx

from wpfarm_tui.files import write_atomic
from wpfarm_tui.lab.base import LabBase, _template

# The lab's access log is not rotated (Traefik has no rotation of its own): past this it is
# emptied in place on `lab up` / `start` (even under a running Traefik: it appends with
# O_APPEND, so it goes on at the new end); the console's reader starts over on it (a
# truncation, farm/access_log.py).
ACCESS_LOG_MAX_BYTES = 256 * 1024 * 1024


class TraefikMixin(LabBase):
    def _prepare_traefik(self) -> None:
        t = self._dir("traefik")
        write_atomic(t / "traefik.yml", _template("traefik.yml", DIR=t))
        access_log = t / "access.log"
        if access_log.exists() and access_log.stat().st_size > ACCESS_LOG_MAX_BYTES:
            with access_log.open("r+b") as f:
                f.truncate(0)
        (t / "dynamic.d").mkdir(exist_ok=True)
        for name, text in (("lab.yml", _template("traefik-dynamic.yml")),
                           ("edge.yml", _template("traefik-edge.yml"))):
            # Only when changed: Traefik watches the directory and would reload for nothing.
            path = t / "dynamic.d" / name
            if not path.exists() or path.read_text() != text:
                write_atomic(path, text)

    def _traefik_argv(self) -> list[str]:
        return [self._bin("traefik"), f"--configFile={self._dir('traefik') / 'traefik.yml'}"]

    def _traefik_ready(self) -> bool:
        return httpx.get("http://127.0.0.1:16101/ping", timeout=2).status_code == 200
