"""The lab's CrowdSec LAPI (no agent: -no-cs), its bouncer and machine, sample decisions."""

from __future__ import annotations

import json
import subprocess

import httpx

from wpfarm_tui.files import write_atomic
from wpfarm_tui.lab.base import LabBase, LabError, Progress, _template

BOUNCER_NAME = "wpfarm-console"
MACHINE_NAME = "wpfarm-lab"


class CrowdsecMixin(LabBase):
    def _prepare_crowdsec(self) -> None:
        c = self._dir("crowdsec")
        for sub in ("etc", "data", "log", "etc/notifications"):
            (c / sub).mkdir(parents=True, exist_ok=True)
        write_atomic(self._crowdsec_conf, _template("crowdsec.yaml", DIR=c))
        write_atomic(c / "etc" / "profiles.yaml", _template("crowdsec-profiles.yaml"))
        write_atomic(c / "etc" / "simulation.yaml", _template("crowdsec-simulation.yaml"))
        acquis = c / "etc" / "acquis.yaml"
        if not acquis.exists():
            write_atomic(acquis, "# LAPI only (-no-cs): no acquisition\n")
        (c / "etc" / "local_api_credentials.yaml").touch(mode=0o600)

    def _crowdsec_argv(self) -> list[str]:
        return [self._bin("crowdsec"), "-c", str(self._crowdsec_conf), "-no-cs"]

    def _crowdsec_ready(self) -> bool:
        return httpx.get("http://127.0.0.1:16180/health", timeout=2).status_code == 200

    def _cscli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [self._bin("cscli"), "-c", str(self._crowdsec_conf), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and out.returncode != 0:
            raise LabError(
                f"cscli {args[0]} {args[1]} failed: {out.stderr.strip()[-300:]}; "
                f"see {self._log('crowdsec')}"
            )
        return out

    def _crowdsec_setup(self, say: Progress) -> None:
        key_file = self._secret_path("crowdsec_bouncer_key")
        if not key_file.exists() or not key_file.read_text().strip():
            # `bouncers add` refuses an existing name: drop a bouncer whose key we lost.
            self._cscli("bouncers", "delete", BOUNCER_NAME, check=False)
            key = self._cscli("bouncers", "add", BOUNCER_NAME, "-o", "raw").stdout.strip()
            write_atomic(key_file, key + "\n", mode=0o600)
            say(f"crowdsec: bouncer {BOUNCER_NAME} registered (key in {key_file})")
        creds = self._dir("crowdsec") / "etc" / "local_api_credentials.yaml"
        if "password" not in creds.read_text():
            self._cscli("machines", "add", MACHINE_NAME, "--auto", "--force")
        listed = self._cscli("decisions", "list", "-o", "json").stdout.strip()
        if not json.loads(listed or "null"):
            self._cscli(
                "decisions",
                "add",
                "--ip",
                "203.0.113.7",
                "--duration",
                "4h",
                "--reason",
                "lab: wordpress bruteforce",
            )
            self._cscli(
                "decisions",
                "add",
                "--range",
                "198.51.100.0/24",
                "--duration",
                "4h",
                "--reason",
                "lab: wordpress bruteforce",
            )
            say("crowdsec: two sample decisions added")
