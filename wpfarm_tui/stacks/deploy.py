"""Deploy the rendered stacks to the Swarm through the Docker Engine API, as an Action.

Why not `docker stack deploy`: the SDK route lets the plan say, before anything runs,
which service is created, updated or unchanged; lets the run refuse a missing secret by
name; and lets it wait for convergence and roll back one service with a reason. The
compose subset the farm's stack files use is translated here to Swarm ServiceSpecs the
way the CLI does it (services `<stack>_<name>`, the short name as a network alias,
`com.docker.stack.namespace` labels, stack-scoped volumes and networks), so `docker stack
ls/ps` still show what was deployed.

Layers (deploy order): the stack files of each layer and the stack name each gets.
Overrides: files with the same name in `override_dirs` are merged over each stack file
(mappings merge, lists replace), e.g. docker/compose/lab/ from `render_farm(lab=True)`.
Two keys only an override may carry: `x-wpfarm-skip: "<reason>"` (skip the whole stack)
and `x-wpfarm-remove: {service: "<reason>"}` (leave a service out); the plan shows both.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import yaml

from wpfarm_tui.inventory import Farm
from wpfarm_tui.stacks.accounts import ACCOUNTS, CONSOLE_USER, AccountsJob
from wpfarm_tui.stacks.render import NETWORKS
from wpfarm_tui.steps import ActionError, Step, StepEvent, Verdict

#: layer -> ((stack name, stack file), ...), in the order a full deploy runs them.
# In deploy order: Varnish resolves its one backend (Traefik's `sites` entry point) when it
# loads its VCL, so the edge layer goes before the cache layer; Traefik finds Varnish and
# the sites by their labels whenever they appear.
LAYERS: dict[str, tuple[tuple[str, str], ...]] = {
    "db": (("db", "mariadb.yml"), ("proxysql", "proxysql.yml")),
    "app": (("wp", "wordpress.yml"),),
    "edge": (("edge", "traefik.yml"),),
    "cache": (("redis", "redis.yml"), ("cache", "varnish.yml")),
    "security": (("security", "crowdsec.yml"),),
    "backup": (("backup", "backup.yml"),),
    "observability": (("obs", "observability.yml"),),
    "management": (("mgmt", "management.yml"),),
}
NAMESPACE_LABEL = "com.docker.stack.namespace"
SPEC_LABEL = "wpfarm.spec-sha"
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_SIZE = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class DeployError(ActionError):
    """A stack file cannot be translated or the Swarm refused it; names the fix."""


ACCOUNTS_RERUN = ("the db accounts step is left: fix the above, then run `wpfarm deploy db` "
                  "again (it changes nothing that already works)")


def _left_locked(secret: str) -> str:
    user = next(a.user for a in ACCOUNTS if a.secret == secret)
    return (f"account {user} has no login: Docker secret {secret} is missing; create it, "
            "then run `wpfarm deploy db` again")


# ---------------------------------------------------------------- compose -> spec
def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """`${VAR}`, `${VAR:-default}`, `$VAR` and `$$` as compose does, over a loaded doc."""
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name = m.group(1) or m.group(3)
            default = m.group(2)
            got = env.get(name)
            return got if got not in (None, "") else (default or "")
        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    return value


def merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def duration_ns(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value * 10**9)
    parts = _DURATION.findall(str(value))
    if not parts:
        raise DeployError(f"cannot read duration {value!r}: write e.g. 10s, 1m30s")
    return int(sum(float(n) * _UNITS[u] for n, u in parts))


def size_bytes(value: Any) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmg]?)b?\s*", str(value).lower())
    if not m:
        raise DeployError(f"cannot read size {value!r}: write e.g. 512M, 2G")
    return int(float(m.group(1)) * _SIZE[m.group(2)])


@dataclass
class Stack:
    name: str          # "db"
    file: Path         # docker/compose/mariadb.yml
    doc: dict[str, Any]
    skip: str | None = None
    removed: dict[str, str] = field(default_factory=dict)
    declared_in: dict[str, Path] = field(default_factory=dict)  # "configs.x" -> file

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in (self.doc.get("services") or {}).items()
                if k not in self.removed}


def load_stack(name: str, file: Path, override_dirs: Sequence[Path] = (),
               env: Mapping[str, str] | None = None) -> Stack:
    if not file.exists():
        raise DeployError(f"{file} is missing: run `wpfarm render` first")
    env = dict(os.environ if env is None else env)
    doc = yaml.safe_load(file.read_text()) or {}
    declared: dict[str, Path] = {}
    for section in ("configs", "secrets"):
        for key in doc.get(section) or {}:
            declared[f"{section}.{key}"] = file
    skip, removed = None, {}
    for d in override_dirs:
        over_file = Path(d) / file.name
        if not over_file.exists():
            continue
        over = yaml.safe_load(over_file.read_text()) or {}
        skip = over.pop("x-wpfarm-skip", skip)
        removed.update(over.pop("x-wpfarm-remove", {}) or {})
        for section in ("configs", "secrets"):
            for key, val in (over.get(section) or {}).items():
                if isinstance(val, dict) and "file" in val:
                    declared[f"{section}.{key}"] = over_file
        doc = merge(doc, over)
    doc = {k: v for k, v in doc.items() if not k.startswith("x-")}
    return Stack(name, file, interpolate(doc, env), skip, removed, declared)


def _ext_name(stack: Stack, section: str, key: str) -> str:
    entry = (stack.doc.get(section) or {}).get(key) or {}
    if entry.get("name"):
        return str(entry["name"])
    if entry.get("external"):
        return key
    return f"{stack.name}_{key}"


def _mounts(stack: Stack, svc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for raw in svc.get("volumes") or []:
        if isinstance(raw, dict):
            src, dst, ro = raw.get("source", ""), raw["target"], raw.get("read_only", False)
            opts = ""
        else:
            parts = str(raw).split(":")
            src, dst = parts[0], parts[1]
            opts = parts[2] if len(parts) > 2 else ""
            ro = "ro" in opts.split(",")
        if src.startswith("/"):
            m: dict[str, Any] = {"Type": "bind", "Source": src, "Target": dst, "ReadOnly": ro}
            prop = next((o for o in opts.split(",") if o.endswith("slave") or
                         o.endswith("shared") or o.endswith("private")), None)
            if prop:
                m["BindOptions"] = {"Propagation": prop}
        else:
            m = {"Type": "volume", "Source": f"{stack.name}_{src}", "Target": dst,
                 "ReadOnly": ro,
                 "VolumeOptions": {"Labels": {NAMESPACE_LABEL: stack.name}}}
        out.append(m)
    return out


def _healthcheck(hc: dict[str, Any] | None) -> dict[str, Any] | None:
    if not hc:
        return None
    if hc.get("disable"):
        return {"Test": ["NONE"]}
    test = hc.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    out: dict[str, Any] = {"Test": test}
    for key, api in (("interval", "Interval"), ("timeout", "Timeout"),
                     ("start_period", "StartPeriod")):
        if key in hc:
            out[api] = duration_ns(hc[key])
    if "retries" in hc:
        out["Retries"] = int(hc["retries"])
    return out


def _ports(svc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            out.append({"Protocol": p.get("protocol", "tcp"), "TargetPort": int(p["target"]),
                        "PublishedPort": int(p["published"]),
                        "PublishMode": p.get("mode", "ingress")})
        else:
            text, _, proto = str(p).partition("/")
            pub, _, tgt = text.rpartition(":")
            out.append({"Protocol": proto or "tcp", "TargetPort": int(tgt),
                        "PublishedPort": int(pub or tgt), "PublishMode": "ingress"})
    return out


def _env(svc: dict[str, Any]) -> list[str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        return [str(e) for e in env]
    return [f"{k}={'' if v is None else v}" for k, v in env.items()]


@dataclass(frozen=True)
class Refs:
    """Names the Swarm already has, looked up once per run: name -> id."""
    networks: Mapping[str, str]
    secrets: Mapping[str, str]
    configs: Mapping[str, str]


def service_spec(stack: Stack, short: str, svc: dict[str, Any], refs: Refs) -> dict[str, Any]:
    """The ServiceSpec `docker stack deploy` would send for one compose service."""
    deploy = svc.get("deploy") or {}
    name = f"{stack.name}_{short}"
    ns = {NAMESPACE_LABEL: stack.name}
    container: dict[str, Any] = {
        "Image": svc["image"],
        "Labels": {**ns, **(svc.get("labels") or {})},
        "Env": _env(svc),
        "Mounts": _mounts(stack, svc),
    }
    if "entrypoint" in svc:
        ep = svc["entrypoint"]
        container["Command"] = ep if isinstance(ep, list) else ["/bin/sh", "-c", ep]
    if "command" in svc:
        cmd = svc["command"]
        container["Args"] = cmd if isinstance(cmd, list) else cmd.split()
    if svc.get("hostname"):
        container["Hostname"] = svc["hostname"]
    if svc.get("stop_grace_period"):
        container["StopGracePeriod"] = duration_ns(svc["stop_grace_period"])
    hc = _healthcheck(svc.get("healthcheck"))
    if hc:
        container["Healthcheck"] = hc
    secrets = []
    for s in svc.get("secrets") or []:
        key, target = (s, s) if isinstance(s, str) else (s["source"], s.get("target", s["source"]))
        sname = _ext_name(stack, "secrets", key)
        secrets.append({"SecretID": refs.secrets.get(sname, ""), "SecretName": sname,
                        "File": {"Name": target, "UID": "0", "GID": "0", "Mode": 0o444}})
    if secrets:
        container["Secrets"] = secrets
    configs = []
    for c in svc.get("configs") or []:
        key, target = (c, f"/{c}") if isinstance(c, str) else (c["source"], c["target"])
        mode = c.get("mode", 0o444) if isinstance(c, dict) else 0o444
        cname = _ext_name(stack, "configs", key)
        configs.append({"ConfigID": refs.configs.get(cname, ""), "ConfigName": cname,
                        "File": {"Name": target, "UID": "0", "GID": "0", "Mode": int(mode)}})
    if configs:
        container["Configs"] = configs

    nets_raw = svc.get("networks") or ["default"]
    nets_items = (nets_raw.items() if isinstance(nets_raw, dict)
                  else ((n, None) for n in nets_raw))
    networks = []
    for key, conf in nets_items:
        net = _ext_name(stack, "networks", key)
        aliases = [short, *((conf or {}).get("aliases") or [])]
        networks.append({"Target": refs.networks.get(net, net), "Aliases": aliases})

    task: dict[str, Any] = {"ContainerSpec": container, "Networks": networks,
                            "ForceUpdate": 0}
    limits = (deploy.get("resources") or {}).get("limits") or {}
    reserv = (deploy.get("resources") or {}).get("reservations") or {}
    res: dict[str, Any] = {}
    if limits:
        res["Limits"] = {k: v for k, v in {
            "MemoryBytes": size_bytes(limits["memory"]) if "memory" in limits else None,
            "NanoCPUs": int(float(limits["cpus"]) * 1e9) if "cpus" in limits else None,
        }.items() if v is not None}
    if reserv:
        res["Reservations"] = {k: v for k, v in {
            "MemoryBytes": size_bytes(reserv["memory"]) if "memory" in reserv else None,
            "NanoCPUs": int(float(reserv["cpus"]) * 1e9) if "cpus" in reserv else None,
        }.items() if v is not None}
    if res:
        task["Resources"] = res
    rp = deploy.get("restart_policy") or {}
    if rp:
        cond = {"on-failure": "on-failure", "any": "any", "none": "none"}[rp.get("condition",
                                                                                  "any")]
        task["RestartPolicy"] = {"Condition": cond, "Delay": duration_ns(rp.get("delay", "5s")),
                                 "MaxAttempts": int(rp.get("max_attempts", 0))}
    pl = deploy.get("placement") or {}
    if pl:
        task["Placement"] = {"Constraints": list(pl.get("constraints") or [])}
        if pl.get("max_replicas_per_node"):
            task["Placement"]["MaxReplicas"] = int(pl["max_replicas_per_node"])
    mode = deploy.get("mode", "replicated")
    spec: dict[str, Any] = {
        "Name": name,
        "Labels": {**ns, **{k: str(v) for k, v in (deploy.get("labels") or {}).items()}},
        "TaskTemplate": task,
        "Mode": ({"Global": {}} if mode == "global"
                 else {"Replicated": {"Replicas": int(deploy.get("replicas", 1))}}),
        "EndpointSpec": {"Mode": deploy.get("endpoint_mode", "vip"), "Ports": _ports(svc)},
    }
    uc = deploy.get("update_config") or {}
    spec["UpdateConfig"] = {
        "Parallelism": int(uc.get("parallelism", 1)),
        "Delay": duration_ns(uc.get("delay", 0)),
        # A failed update rolls back by itself; the deploy also rolls back on a timeout.
        "FailureAction": uc.get("failure_action", "rollback"),
        "Monitor": duration_ns(uc.get("monitor", "5s")),
        "Order": uc.get("order", "stop-first"),
    }
    spec["RollbackConfig"] = {"Parallelism": 1, "FailureAction": "pause",
                              "Monitor": duration_ns("5s"),
                              "Order": uc.get("order", "stop-first")}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    spec["Labels"][SPEC_LABEL] = digest
    return spec


# ---------------------------------------------------------------- the action
@dataclass(frozen=True)
class ServiceState:
    name: str
    desired: int
    running: int
    update_state: str | None
    error: str | None


def service_states(api: docker.APIClient, names: Sequence[str] | None = None,
                   stack: str | None = None) -> list[ServiceState]:
    """Desired and running replicas per service, from the Docker API (three calls)."""
    filters = {"label": f"{NAMESPACE_LABEL}={stack}"} if stack else None
    services = api.services(filters=filters)
    if names is not None:
        services = [s for s in services if s["Spec"]["Name"] in names]
    tasks = api.tasks(filters={"desired-state": "running"})
    all_tasks = api.tasks() if services else []
    running: dict[str, int] = {}
    desired_global: dict[str, int] = {}
    errors: dict[str, tuple[str, str]] = {}  # service id -> (UpdatedAt, message), latest
    for t in tasks:
        desired_global[t["ServiceID"]] = desired_global.get(t["ServiceID"], 0) + 1
        if t["Status"]["State"] == "running":
            running[t["ServiceID"]] = running.get(t["ServiceID"], 0) + 1
    for t in all_tasks:
        st = t["Status"]
        if st["State"] in ("failed", "rejected") or st.get("Err"):
            when = t.get("UpdatedAt", "")
            msg = f"{st['State']}: {st.get('Err') or st.get('Message', '')}"
            if t["ServiceID"] not in errors or errors[t["ServiceID"]][0] < when:
                errors[t["ServiceID"]] = (when, msg)
    out = []
    for s in services:
        mode = s["Spec"]["Mode"]
        desired = (mode["Replicated"]["Replicas"] if "Replicated" in mode
                   else desired_global.get(s["ID"], 0))
        out.append(ServiceState(
            name=s["Spec"]["Name"], desired=desired, running=running.get(s["ID"], 0),
            update_state=(s.get("UpdateStatus") or {}).get("State"),
            error=errors.get(s["ID"], ("", None))[1]))
    return sorted(out, key=lambda x: x.name)


@dataclass
class _Planned:
    stack: Stack
    short: str
    spec: dict[str, Any]
    op: str             # create | update | unchanged
    current: dict[str, Any] | None = None


class DeployAction:
    """Deploy layers of the rendered farm: plan = services to create/update per layer."""

    name = "deploy"
    destructive = False

    def __init__(self, farm: Farm, render_dir: Path, layers: Sequence[str] = (),
                 client: docker.DockerClient | None = None,
                 override_dirs: Sequence[Path] = (), timeout: float = 300.0,
                 galera_bootstrap: str | None = None, env: Mapping[str, str] | None = None,
                 poll: float = 1.0) -> None:
        unknown = [layer for layer in layers if layer not in LAYERS]
        if unknown:
            raise ActionError(f"unknown layer(s) {', '.join(unknown)}; known: "
                              f"{', '.join(LAYERS)}")
        self.farm = farm
        self.render_dir = Path(render_dir)
        # Always in LAYERS order, whatever order they were named in (dependencies).
        self.layers = tuple(layer for layer in LAYERS if layer in layers) or tuple(LAYERS)
        self.override_dirs = tuple(Path(d) for d in override_dirs)
        self.timeout = timeout
        self.galera_bootstrap = galera_bootstrap
        self.env = dict(os.environ if env is None else env)
        self.poll = poll
        self._client = client
        self._deployed: list[str] = []
        self._results: list[ServiceState] = []
        self.on_state: Callable[[list[ServiceState]], None] | None = None

    # -------------------------------------------------------------- plumbing
    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            if not self.farm.endpoints.docker:
                raise ActionError("farm.yaml has no endpoints.docker: add the manager's "
                                  "Docker endpoint (unix:// or ssh://)")
            from wpfarm_tui.farm.docker import client as make_client

            self._client = make_client(self.farm.endpoints.docker)
            self._client.api.timeout = max(self._client.api.timeout, 60)
        return self._client

    def describe(self) -> Mapping[str, Any]:
        return {"layers": list(self.layers), "render_dir": str(self.render_dir),
                "overrides": [str(d) for d in self.override_dirs],
                "galera_bootstrap": self.galera_bootstrap}

    def _stacks(self, env: Mapping[str, str]) -> list[tuple[str, Stack]]:
        compose = self.render_dir / "docker" / "compose"
        return [(layer, load_stack(name, compose / file, self.override_dirs, env))
                for layer in self.layers for name, file in LAYERS[layer]]

    def _bootstrap_node(self, existing: set[str]) -> str | None:
        if self.galera_bootstrap is not None:
            return self.galera_bootstrap or None
        if "db" not in self.layers or any(n.startswith("db_mariadb-") for n in existing):
            return None
        dbs = [n.name for n in self.farm.nodes if "db" in n.roles]
        return dbs[0] if dbs else None

    def _refs(self) -> Refs:
        api = self.client.api
        return Refs(networks={n["Name"]: n["Id"] for n in api.networks()},
                    secrets={s["Spec"]["Name"]: s["ID"] for s in api.secrets()},
                    configs={c["Spec"]["Name"]: c["ID"] for c in api.configs()})

    def _prepare(self, bootstrap_value: str | None = None
                 ) -> tuple[list[tuple[str, Stack]], list[_Planned], str | None, Refs]:
        """Stacks and planned services; with `bootstrap_value` the Galera bootstrap variable
        is set to it (the first wave of a new cluster), else it is empty."""
        api = self.client.api
        current = {s["Spec"]["Name"]: s for s in api.services()}
        bootstrap = self._bootstrap_node(set(current))
        env = dict(self.env)
        env["WPFARM_GALERA_BOOTSTRAP"] = bootstrap_value or ""
        stacks = self._stacks(env)
        refs = self._refs()
        planned = []
        for _layer, stack in stacks:
            if stack.skip:
                continue
            for short, svc in stack.services.items():
                spec = service_spec(stack, short, svc, refs)
                cur = current.get(spec["Name"])
                if cur is None:
                    op = "create"
                elif cur["Spec"].get("Labels", {}).get(SPEC_LABEL) == spec["Labels"][SPEC_LABEL]:
                    op = "unchanged"
                else:
                    op = "update"
                planned.append(_Planned(stack, short, spec, op, cur))
        return stacks, planned, bootstrap, refs

    # -------------------------------------------------------------- Action
    def plan(self) -> list[Step]:
        stacks, planned, bootstrap, refs = self._prepare()
        steps: list[Step] = []
        missing_nets = [n for n in NETWORKS if n not in refs.networks]
        if missing_nets:
            steps.append(Step("create networks", ", ".join(missing_nets)))
        for problem in self._missing_secrets(stacks, refs):
            steps.append(Step("missing secret", problem))
        if bootstrap:
            steps.append(Step("galera bootstrap",
                              f"new cluster: {bootstrap} starts alone with "
                              "--wsrep-new-cluster; the other nodes join once it is healthy; "
                              f"then {bootstrap} restarts without it and rejoins"))
        for layer, stack in stacks:
            if stack.skip:
                steps.append(Step(f"skip {stack.file.name}", f"{layer}: {stack.skip}"))
                continue
            for svc, why in stack.removed.items():
                steps.append(Step(f"leave out {stack.name}_{svc}", why))
        if "db" in self.layers:
            steps.append(self._accounts_plan(stacks, refs))
        for p in planned:
            spec = p.spec
            mode = spec["Mode"]
            replicas = ("global" if "Global" in mode
                        else f"{mode['Replicated']['Replicas']} replica(s)")
            steps.append(Step(f"{p.op} {spec['Name']}",
                              f"{spec['TaskTemplate']['ContainerSpec']['Image']}, {replicas}"))
        return steps

    def _missing_secrets(self, stacks: list[tuple[str, Stack]], refs: Refs) -> list[str]:
        out = []
        for _layer, stack in stacks:
            if stack.skip:
                continue
            used = {s if isinstance(s, str) else s["source"]
                    for svc in stack.services.values() for s in svc.get("secrets") or []}
            for key in sorted(used):
                name = _ext_name(stack, "secrets", key)
                if name not in refs.secrets:
                    out.append(f"{name} (used by stack {stack.name}): create it first, e.g. "
                               f"`printf '%s' VALUE | docker secret create {name} -`")
        return out

    def run(self) -> Iterator[StepEvent]:
        api = self.client.api
        stacks, planned, bootstrap, refs = self._prepare()
        missing = self._missing_secrets(stacks, refs)
        if missing:
            yield StepEvent("failed", "secrets", "missing Docker secret(s): " + "; ".join(missing))
            return
        # Shared overlay networks (what prepare-swarm.sh does), then stack-local ones.
        for net, attachable in NETWORKS.items():
            if net not in refs.networks:
                api.create_network(net, driver="overlay", attachable=attachable)
                yield StepEvent("done", f"network {net}", "created")
        for _layer, stack in stacks:
            if stack.skip:
                yield StepEvent("skipped", f"stack {stack.name}", stack.skip)
                continue
            yield from self._stack_objects(stack)
        refs = self._refs()
        boot_planned: list[_Planned] = []
        if bootstrap:
            _s, boot_planned, _b, _r = self._prepare(bootstrap_value=bootstrap)
        for layer in self.layers:
            batch = [p for p in planned if any(p.stack is s for lay, s in stacks if lay == layer)]
            if not batch:
                continue
            # Re-resolve ids now that configs and networks exist.
            for p in batch:
                p.spec = service_spec(p.stack, p.short, p.stack.services[p.short], refs)
            waves = [batch]
            if bootstrap and layer == "db":
                # A new Galera cluster: the bootstrap node alone with --wsrep-new-cluster,
                # then the joiners, then the bootstrap node again WITHOUT the variable (it
                # rejoins by IST), so no later restart can bootstrap a second cluster.
                def is_first(p: _Planned) -> bool:
                    return f"WPFARM_GALERA_NODE={bootstrap}" in \
                        p.spec["TaskTemplate"]["ContainerSpec"]["Env"]
                first = [p for p in boot_planned if p.spec["Name"].startswith("db_")
                         and is_first(p)]
                for p in first:
                    p.spec = service_spec(p.stack, p.short, p.stack.services[p.short], refs)
                waves = [first, [p for p in batch if not is_first(p)],
                         [p for p in batch if is_first(p)]]
            for i, wave in enumerate(waves):
                failed = yield from self._apply(api, wave, layer)
                if failed:
                    return
                # After the first wave: a new cluster's joiners then find the SST account
                # usable on their donor.
                if layer == "db" and i == 0 and not (yield from self._accounts_step(stacks)):
                    return

    def _stack_objects(self, stack: Stack) -> Iterator[StepEvent]:
        api = self.client.api
        have_cfg = {c["Spec"]["Name"] for c in api.configs()}
        have_net = {n["Name"] for n in api.networks()}
        for key, conf in (stack.doc.get("configs") or {}).items():
            name = _ext_name(stack, "configs", key)
            if conf.get("external") or name in have_cfg:
                continue
            src = stack.declared_in.get(f"configs.{key}", stack.file).parent / conf["file"]
            if not src.exists():
                raise DeployError(f"config {key} of stack {stack.name}: {src} is missing")
            api.create_config(name, src.read_bytes(), labels={NAMESPACE_LABEL: stack.name})
            yield StepEvent("done", f"config {name}", "created")
        for key, conf in (stack.doc.get("networks") or {}).items():
            conf = conf or {}
            name = _ext_name(stack, "networks", key)
            if conf.get("external"):
                if name not in have_net:
                    raise DeployError(f"network {name} (stack {stack.name}) does not exist: "
                                      "run the farm's prepare-swarm.sh")
                continue
            if name not in have_net:
                api.create_network(name, driver=conf.get("driver", "overlay"),
                                   attachable=bool(conf.get("attachable")),
                                   labels={NAMESPACE_LABEL: stack.name})
                yield StepEvent("done", f"network {name}", "created")

    def _apply(self, api: docker.APIClient, wave: list[_Planned],
               layer: str) -> Iterator[StepEvent]:
        changed: list[_Planned] = []
        for p in wave:
            name = p.spec["Name"]
            current = {s["Spec"]["Name"]: s for s in api.services(filters={"name": name})}
            cur = current.get(name)
            if cur and cur["Spec"].get("Labels", {}).get(SPEC_LABEL) == \
                    p.spec["Labels"][SPEC_LABEL]:
                yield StepEvent("skipped", name, "unchanged")
                self._deployed.append(name)
                continue
            yield StepEvent("started", name, "update" if cur else "create")
            try:
                if cur:
                    api._result(api._post_json(
                        api._url("/services/{0}/update", cur["ID"]), data=p.spec,
                        params={"version": cur["Version"]["Index"]}), True)
                    p.op, p.current = "update", cur
                else:
                    api._result(api._post_json(api._url("/services/create"), data=p.spec),
                                True)
                    p.op = "create"
            except docker.errors.APIError as exc:
                yield StepEvent("failed", name, f"the Swarm refused the spec: {exc.explanation}")
                return True
            yield StepEvent("done", name, p.op + "d")
            self._deployed.append(name)
            changed.append(p)
        names = [p.spec["Name"] for p in wave]
        updated = {p.spec["Name"] for p in changed if p.op == "update"}
        ok, states = yield from self._wait(api, names, layer, updated)
        if ok:
            return False
        bad = [s for s in states if s.running < s.desired or s.desired == 0 or
               (s.update_state or "").startswith(("rollback", "paused"))]
        if not bad:
            # Enough tasks run, yet the layer did not settle (an update still in progress,
            # e.g. no node can take the new task): a failure, never a silent stop; an
            # update of ours goes back to the spec that worked.
            stuck = [s for s in states if s.update_state not in (None, "completed")] or states
            for s in stuck:
                why = (f"not settled in {self.timeout:.0f} s: update "
                       f"{s.update_state or 'pending'}{': ' + s.error if s.error else ''}")
                p = next((p for p in changed if p.spec["Name"] == s.name), None)
                if p and p.op == "update":
                    yield from self._rollback(api, s.name, why)
                else:
                    yield StepEvent("failed", s.name, why)
            return True
        for s in bad:
            p = next((p for p in changed if p.spec["Name"] == s.name), None)
            why = s.error or f"{s.running}/{s.desired} running"
            if p and p.op == "update":
                yield from self._rollback(api, s.name, why)
            else:
                yield StepEvent("failed", s.name, f"did not converge in {self.timeout:.0f} s: "
                                f"{why}")
        return True

    def _wait(self, api: docker.APIClient, names: list[str], layer: str,
              updated: set[str] = frozenset()) -> Iterator[StepEvent]:
        step = f"converge {layer}"
        yield StepEvent("started", step, ", ".join(names))
        deadline = time.monotonic() + self.timeout
        last: dict[str, tuple[int, int]] = {}
        states: list[ServiceState] = []
        t0 = time.monotonic()
        while True:
            states = service_states(api, names)
            self._results = [s for s in self._results if s.name not in names] + states
            if self.on_state:
                self.on_state(states)
            for s in states:
                if last.get(s.name) != (s.running, s.desired):
                    last[s.name] = (s.running, s.desired)
                    yield StepEvent("output", s.name, f"{s.running}/{s.desired} running"
                                    + (f" ({s.update_state})" if s.update_state else ""))
            # An updated service is done only once its rolling update says so: right after
            # the call the old task still runs and no UpdateStatus is set yet.
            # A spec change that touches no task (service labels only) never gets an
            # UpdateStatus: after a few seconds without one, the update needed no restart.
            settled = time.monotonic() - t0 > 5
            done = all(s.desired > 0 and s.running == s.desired and
                       (s.update_state == "completed" or (s.update_state is None and settled)
                        if s.name in updated else s.update_state in (None, "completed"))
                       for s in states)
            if done and len(states) == len(names):
                yield StepEvent("done", step, f"{len(names)} service(s) converged in "
                                f"{time.monotonic() - t0:.0f} s")
                return True, states
            if any((s.update_state or "").startswith("rollback") for s in states):
                return False, states
            if time.monotonic() > deadline:
                return False, states
            time.sleep(self.poll)

    def _rollback(self, api: docker.APIClient, name: str, why: str) -> Iterator[StepEvent]:
        svc = api.inspect_service(name)
        state = (svc.get("UpdateStatus") or {}).get("State", "")
        if not state.startswith("rollback"):
            with contextlib.suppress(docker.errors.APIError):
                api._result(api._post_json(
                    api._url("/services/{0}/update", svc["ID"]), data=svc["Spec"],
                    params={"version": svc["Version"]["Index"], "rollback": "previous"}), True)
        yield StepEvent("failed", name, f"update failed ({why}); rolled back to the previous "
                        "spec")

    def verify(self) -> Verdict:
        api = self.client.api
        states = service_states(api, self._deployed)
        self._results = states
        bad = [s for s in states if s.running < s.desired or s.desired == 0]
        details = tuple(f"{s.name}: {s.running}/{s.desired}" + (f" ({s.error})" if s.error
                                                                 and s in bad else "")
                        for s in states)
        if bad:
            return Verdict(False, f"{len(bad)} of {len(states)} service(s) not converged",
                           details)
        summary = f"{len(states)} service(s) converged ({', '.join(self.layers)})"
        if "db" not in self.layers:
            return Verdict(True, summary, details)
        # The effect of the accounts step, checked afresh: each account logs in with its
        # secret, the console's account reads the site registry.
        try:
            outcome = self._accounts_job(self._stacks(dict(self.env))).run(check_only=True)
        except (RuntimeError, DeployError, docker.errors.APIError) as exc:
            return Verdict(False, f"{summary}; the database accounts could not be checked: "
                           f"{exc}", (*details, ACCOUNTS_RERUN))
        registry = (f"readable by {CONSOLE_USER}" if outcome.registry == "ok"
                    else outcome.registry)
        acct = (*(f"account {u}: {'logs in' if st == 'ok' else st}"
                  for u, st in outcome.accounts.items()),
                f"wpfarm.sites: {registry}",
                *(_left_locked(s) for s in outcome.missing))
        if outcome.problems:
            return Verdict(False, f"{summary}; database accounts not usable: "
                           + "; ".join(outcome.problems), (*details, *acct, ACCOUNTS_RERUN))
        return Verdict(True, f"{summary}; {len(outcome.accounts)} database account(s) log in "
                       "with their secrets, the site registry exists", (*details, *acct))

    # -------------------------------------------------------------- db accounts
    def _accounts_job(self, stacks: list[tuple[str, Stack]]) -> AccountsJob:
        """The job on the db stack's network, in its image; the databases of the sites
        the app stack carries (read even when the app layer is not deployed now)."""
        db = next((s for lay, s in stacks if lay == "db" and s.name == "db"), None)
        if db is None or not db.services:
            raise DeployError("the db stack has no Galera service: run `wpfarm render`")
        first = next(iter(db.services.values()))
        net_key = next(iter(first.get("networks") or ["db"]))
        network = _ext_name(db, "networks", net_key)
        databases: list[str] = []
        app = self.render_dir / "docker" / "compose" / "wordpress.yml"
        if app.exists():
            wp = load_stack("wp", app, self.override_dirs, self.env)
            for svc in wp.services.values():
                env = dict(e.split("=", 1) for e in _env(svc) if "=" in e)
                if env.get("WORDPRESS_DB_NAME"):
                    databases.append(env["WORDPRESS_DB_NAME"])
        return AccountsJob(self.client.api, image=first["image"],
                           network=self._refs().networks.get(network, network),
                           hosts=list(db.services), databases=databases,
                           placement=["node.labels.wpfarm.role.db == true"],
                           timeout=self.timeout, poll=self.poll)

    def _accounts_plan(self, stacks: list[tuple[str, Stack]], refs: Refs) -> Step:
        ready = [a for a in ACCOUNTS if a.secret in refs.secrets]
        missing = [a.secret for a in ACCOUNTS if a.secret not in refs.secrets]
        detail = ("one-off job on the db network: each of "
                  f"{', '.join(a.user for a in ready) or 'no account'} logs in with its "
                  "Docker secret, or gets it as password and is unlocked; site databases and "
                  "the site registry (wpfarm.sites) created if missing")
        if missing:
            detail += "; " + "; ".join(_left_locked(s) for s in missing)
        return Step("db accounts", detail)

    def _accounts_step(self, stacks: list[tuple[str, Stack]]) -> Iterator[StepEvent]:
        step = "db accounts"
        yield StepEvent("started", step, "one-off job on the db network")
        try:
            outcome = self._accounts_job(stacks).run(check_only=False)
        except (RuntimeError, docker.errors.APIError) as exc:
            yield StepEvent("failed", step, f"{exc}. {ACCOUNTS_RERUN}")
            return False
        for s in outcome.missing:
            yield StepEvent("output", step, _left_locked(s))
        if outcome.problems:
            yield StepEvent("failed", step, "; ".join(outcome.problems) + f". {ACCOUNTS_RERUN}")
            return False
        done = [u for u, st in outcome.accounts.items() if st == "set"]
        kept = [u for u, st in outcome.accounts.items() if st == "ok"]
        yield StepEvent("done", step,
                        (f"password set from its secret and unlocked: {', '.join(done)}; "
                         if done else "")
                        + (f"already usable: {', '.join(kept)}; " if kept else "")
                        + f"wpfarm.sites readable by {CONSOLE_USER} (via {outcome.host})")
        return True

    @property
    def results(self) -> list[ServiceState]:
        return list(self._results)
