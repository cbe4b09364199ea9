"""The lab's Varnish in front of nginx: its VCL (with the farm's purge rules), the
purge token, and a changed VCL loaded into a running varnishd."""

from __future__ import annotations

import hashlib
import secrets
import shutil
import subprocess

from wpfarm_tui.files import write_atomic
from wpfarm_tui.lab.base import SITES, LabBase, LabError, Progress, _template
from wpfarm_tui.stacks.render import vcl_purge


class VarnishMixin(LabBase):
    def _prepare_varnish(self) -> None:
        v = self._dir("varnish")
        token = self.purge_token_file
        if not token.exists():
            write_atomic(token, secrets.token_urlsafe(32) + "\n", mode=0o640)
        # Read by varnishd's worker (user vcache, group varnish) when a PURGE or BAN comes.
        shutil.chown(token, "root", "varnish")
        write_atomic(v / "default.vcl",
                     _template("default.vcl", VCL_PURGE=vcl_purge(str(token))))
        if not (v / "secret").exists():
            write_atomic(v / "secret", secrets.token_hex(32) + "\n", mode=0o600)

    def _varnish_argv(self) -> list[str]:
        d = self._dir("varnish")
        # -F: foreground, so the recorded pid is the manager process itself.
        return [
            self._bin("varnishd"),
            "-F",
            "-a",
            "127.0.0.1:16081",
            "-T",
            "127.0.0.1:16082",
            "-S",
            str(d / "secret"),
            "-f",
            str(d / "default.vcl"),
            "-n",
            str(d / "inst"),
            "-s",
            "malloc,64m",
            "-P",
            str(d / "varnishd.pid"),
        ]

    def _varnish_ready(self) -> bool:
        return self._http(16081, SITES[0]) > 0

    def _varnish_vcl(self, say: Progress) -> None:
        """A varnishd that was already running keeps the VCL it started with: when the
        file changed since, load it and switch to it (the cache is kept)."""
        vcl = self._dir("varnish") / "default.vcl"
        text = vcl.read_text()
        listing = self._varnishadm("vcl.list")
        active = next((line.split()[-1] for line in listing.splitlines()
                       if line.startswith("active")), "")
        if active and self._varnishadm("vcl.show", active).strip() == text.strip():
            return
        name = f"lab_{hashlib.sha256(text.encode()).hexdigest()[:12]}"
        if name not in listing.split():
            self._varnishadm("vcl.load", name, str(vcl))
        self._varnishadm("vcl.use", name)
        say(f"varnish: {vcl} changed since varnishd started; loaded it as {name}")

    def _varnishadm(self, *args: str) -> str:
        done = subprocess.run(["varnishadm", "-n", str(self._dir("varnish") / "inst"), *args],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise LabError(f"varnishadm {args[0]}: {(done.stdout + done.stderr).strip()[:300]}")
        return done.stdout
