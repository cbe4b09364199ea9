"""Varnish: counters from varnishstat, run on the cache node (over SSH) or locally.

varnishstat reads varnishd's shared memory, so it must run where varnishd runs.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from typing import Any

from wpfarm_tui import programs
from wpfarm_tui.farm import ssh
from wpfarm_tui.inventory import Farm, VarnishInstance


def _workdir(instance: VarnishInstance) -> list[str]:
    return ["-n", instance.workdir] if instance.workdir else []


def _run(farm: Farm, instance: VarnishInstance, argv: list[str], timeout: float) -> str:
    if instance.node is None:
        try:
            argv = [programs.path(argv[0], "reading Varnish on this machine"), *argv[1:]]
        except programs.MissingPrograms as exc:
            raise ConnectionError(str(exc)) from None
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        rc, out, err = done.returncode, done.stdout, done.stderr
    else:
        node = farm.node(instance.node)
        assert node is not None  # the inventory checked the name
        command = (ssh.in_task(instance.container, argv) if instance.container
                   else shlex.join(argv))
        try:
            rc, out, err = ssh.run(node, command, timeout)
        except ssh.SshError as exc:
            raise ConnectionError(str(exc)) from None
    if rc != 0:
        message = (err.strip() or out.strip() or f"exit code {rc}").splitlines()[0]
        raise ConnectionError(f"{argv[0]}: {message}")
    return out


def counters(farm: Farm, instance: VarnishInstance, timeout: float) -> dict[str, int]:
    """MAIN.* counters by short name (cache_hit, cache_miss, n_object, uptime, ...)."""
    # -t 0: no varnishd there is an answer now, not after varnishstat's 5 s wait for one.
    out = _run(farm, instance, ["varnishstat", "-j", "-t", "0", *_workdir(instance)], timeout)
    data: dict[str, Any] = json.loads(out)
    # Varnish 6.5+ nests counters under "counters"; older versions do not.
    raw = data.get("counters", data)
    result: dict[str, int] = {}
    for name, entry in raw.items():
        if name.startswith("MAIN.") and isinstance(entry, dict) and "value" in entry:
            result[name.removeprefix("MAIN.")] = int(entry["value"])
    return result


def ban(farm: Farm, instance: VarnishInstance, expression: str, timeout: float) -> None:
    """`varnishadm -n WORKDIR ban EXPRESSION` where varnishd runs (the caller validates the
    expression: it is VCL). Prefer `obj.http.*` expressions: the ban lurker can apply them."""
    _run(farm, instance, ["varnishadm", *_workdir(instance), "ban", expression], timeout)


def ban_site(farm: Farm, domain: str, timeout: float) -> list[str]:
    """Ban every cached page of one site on every Varnish (`obj.http.x-host`: the ban
    lurker can apply it in the background). The caller validated the domain."""
    endpoint = farm.endpoints.varnish
    done = []
    for instance in endpoint.instances if endpoint else ():
        ban(farm, instance, f"obj.http.x-host == {domain}", timeout)
        done.append(instance.name)
    return done
