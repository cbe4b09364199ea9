"""CrowdSec's Local API, as a bouncer sees it."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx

from wpfarm_tui.farm import ssh
from wpfarm_tui.inventory import CrowdSecEndpoint, Node


class CrowdSecClient:
    def __init__(self, endpoint: CrowdSecEndpoint):
        self.endpoint = endpoint
        # Kept open: a new httpx.Client costs ~30 ms (TLS context), more than the request.
        self._http = httpx.Client(base_url=endpoint.lapi, timeout=endpoint.timeout)

    def close(self) -> None:
        self._http.close()

    def decisions(self, *, ip: str | None = None, range_: str | None = None
                  ) -> list[dict[str, Any]]:
        """Active decisions (GET /v1/decisions with the bouncer's X-Api-Key). With `ip`,
        the decisions covering that address, ranges included; with `range_`, those
        covering the whole range (the LAPI's own matching, as its bouncers see it)."""
        params = {k: v for k, v in (("ip", ip), ("range", range_)) if v}
        response = self._http.get("/v1/decisions", params=params,
                                  headers={"X-Api-Key": self.endpoint.bouncer_key.reveal()})
        if response.status_code == 403:
            raise PermissionError(f"LAPI refused the bouncer key {self.endpoint.bouncer_key} (403)")
        response.raise_for_status()
        return response.json() or []  # the LAPI answers `null` when there are none


class WatcherClient:
    """The LAPI as a machine (watcher) sees it: it may add and delete decisions, which a
    bouncer key cannot. Logs in with machine id + password (POST /v1/watchers/login) and
    uses the JWT it gets for POST /v1/alerts and DELETE /v1/decisions."""

    def __init__(self, lapi: str, machine_id: str, password: str, timeout: float = 5.0):
        self.machine_id = machine_id
        self._password = password
        self._http = httpx.Client(base_url=lapi, timeout=timeout)
        self._token: str | None = None

    @classmethod
    def from_credentials_file(cls, path: str, timeout: float = 5.0) -> WatcherClient:
        """A `local_api_credentials.yaml` as `cscli machines add --auto` writes it: read as
        a regular file of at most 64 KiB and parsed by the farm file's safe loader (no
        anchors, tags or merge keys), so a FIFO or a billion-laughs file cannot hang or
        balloon the console."""
        from wpfarm_tui import safe_yaml
        from wpfarm_tui.secrets import read_regular_file

        try:
            data = safe_yaml.load(safe_yaml.decode(read_regular_file(Path(path), 64 * 1024)))
        except safe_yaml.YamlRefused as exc:
            raise ValueError(f"{path}: not a credentials file the console accepts: {exc}"
                             ) from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the machine credentials are not a YAML mapping")
        missing = [k for k in ("url", "login", "password") if not data.get(k)]
        if missing:
            raise ValueError(f"{path}: no {', '.join(missing)} in the machine credentials")
        return cls(str(data["url"]).rstrip("/"), str(data["login"]), str(data["password"]),
                   timeout)

    def login(self) -> None:
        response = self._http.post("/v1/watchers/login", json={
            "machine_id": self.machine_id, "password": self._password, "scenarios": []})
        if response.status_code in (401, 403):
            raise PermissionError(f"LAPI refused the login of machine {self.machine_id} "
                                  f"({response.status_code}); is it validated (cscli machines "
                                  "list)?")
        response.raise_for_status()
        self._token = response.json()["token"]

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            self.login()
        return {"Authorization": f"Bearer {self._token}"}

    def add_decision(self, value: str, scope: str, duration: str, reason: str,
                     decision_type: str = "ban") -> list[str]:
        """One manual decision, the way `cscli decisions add` sends it (an alert carrying
        it); returns the alert ids."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        source: dict[str, Any] = {"scope": scope, "value": value}
        if scope == "Ip":
            source["ip"] = value
        else:
            source["range"] = value
        alert = {
            "scenario": reason, "scenario_hash": "", "scenario_version": "",
            "message": f"manual '{decision_type}' from '{self.machine_id}'",
            "events_count": 1, "start_at": now, "stop_at": now, "capacity": 0,
            "leakspeed": "0", "simulated": False, "events": [], "source": source,
            "decisions": [{"type": decision_type, "duration": duration, "value": value,
                           "origin": "cscli", "scenario": reason, "scope": scope}],
        }
        response = self._http.post("/v1/alerts", json=[alert], headers=self._headers())
        response.raise_for_status()
        return [str(i) for i in response.json() or []]

    def delete_decisions(self, value: str, scope: str) -> int:
        """DELETE /v1/decisions?ip= (or range=); how many decisions went."""
        key = "ip" if scope == "Ip" else "range"
        response = self._http.delete("/v1/decisions", params={key: value},
                                     headers=self._headers())
        response.raise_for_status()
        return int((response.json() or {}).get("nbDeleted", 0))

    def delete_decision(self, decision_id: int) -> int:
        """DELETE /v1/decisions/{id}: exactly that decision (DELETE ?ip= would also delete
        every range covering the address); how many went (0 or 1)."""
        response = self._http.delete(f"/v1/decisions/{int(decision_id)}",
                                     headers=self._headers())
        response.raise_for_status()
        return int((response.json() or {}).get("nbDeleted", 0))

    def close(self) -> None:
        self._http.close()


class CscliError(Exception):
    """cscli in the LAPI's task failed, or the task could not be reached."""


class TaskDecisions:
    """Adds and deletes decisions with `cscli` inside the LAPI's task on its node (docker
    exec over SSH), as an operator on that node would: no machine password exists outside
    the farm. The same methods as WatcherClient, so ban and unban use either."""

    def __init__(self, node: Node, service: str, timeout: float = 10.0):
        self.node = node
        self.service = service
        self.timeout = timeout
        self.machine_id = f"cscli in {service} on {node.name}"

    def _cscli(self, *args: str) -> str:
        try:
            rc, out, err = ssh.run(self.node, ssh.in_task(self.service, ["cscli", *args]),
                                   self.timeout)
        except ssh.SshError as exc:
            raise CscliError(str(exc)) from None
        if rc != 0:
            message = (err.strip() or out.strip() or f"exit code {rc}").splitlines()[-1]
            raise CscliError(f"cscli {' '.join(args[:2])} on {self.node.name}: {message}")
        return out + err

    def login(self) -> None:
        """Reach the task (cscli answers): the step ban and unban start with."""
        self._cscli("version")

    def add_decision(self, value: str, scope: str, duration: str, reason: str,
                     decision_type: str = "ban") -> list[str]:
        flag = "--ip" if scope == "Ip" else "--range"
        self._cscli("decisions", "add", flag, value, "--duration", duration,
                    "--reason", reason, "--type", decision_type)
        return []  # cscli prints no id; the verify step reads the decision back

    def delete_decision(self, decision_id: int) -> int:
        out = self._cscli("decisions", "delete", "--id", str(int(decision_id)))
        found = re.search(r"(\d+)\s+decision", out)
        return int(found.group(1)) if found else 1

    def close(self) -> None:
        pass
