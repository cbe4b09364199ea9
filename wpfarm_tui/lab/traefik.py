"""The lab's Traefik, the edge in front of Varnish (file provider: dynamic.d)."""

from __future__ import annotations

import httpx

from wpfarm_tui.files import write_atomic
from wpfarm_tui.lab.base import LabBase, _template


class TraefikMixin(LabBase):
    def _prepare_traefik(self) -> None:
        t = self._dir("traefik")
        write_atomic(t / "traefik.yml", _template("traefik.yml", DIR=t))
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
