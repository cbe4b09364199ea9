"""Galera node control on a Swarm farm, through a manager's Docker Engine API only.

Each Galera node is one Swarm service (`db_mariadb-N`, rendered from mariadb.yml +
fragments/galera-service.yml), pinned to its db node by the label `wpfarm.galera` and
started by the wrapper galera-start.sh, which bootstraps only the node named in
WPFARM_GALERA_BOOTSTRAP and only when grastate.dat says safe_to_bootstrap: 1.

- stop: scale the service to 0 and wait until its container has exited (Swarm's own stop:
  SIGTERM, SIGKILL after the service's stop_grace_period). `hard` is the same stop: the
  manager's API cannot signal a container on another node, no procedure needs a hard
  stop, and a clean shutdown saves grastate.dat.
- grastate / recover_position / set_safe_to_bootstrap: a one-off Swarm job (ReplicatedJob,
  restart none) with the service's image, mounts, configs and placement (so the same node
  and the same datadir, bind mount or volume, as the service's spec says), running `cat`,
  `mariadbd --wsrep-recover` or a `sed`; its output is read through the service logs API
  between two markers, and the job is removed after.
- start: `--wsrep-new-cluster` becomes WPFARM_GALERA_BOOTSTRAP=<the service's
  WPFARM_GALERA_NODE> (the wrapper adds the flag after its safe_to_bootstrap check); other
  arguments go into the container's Args; restart policy `none` while the recovery runs
  (a failed start stays down and is reported, instead of Swarm restarting it with a stale
  position); then scale to 1. The service's spec from before is kept in a service label,
  and the spec-sha label no longer matches, so a deploy would also put the stack back.
- settle: once the cluster is whole, put the saved spec back (one rolling restart: the
  node rejoins by IST), so a later restart joins and never bootstraps.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import docker

from wpfarm_tui.farm.galera_control import (
    GaleraControlError,
    GraState,
    Position,
    parse_recovered,
)
from wpfarm_tui.inventory import Farm
from wpfarm_tui.status.texts import duration_text
from wpfarm_tui.waits import Patience, Seen, wait_for

DATADIR = "/var/lib/mysql"  # galera-start.sh's datadir, inside the container
NODE_ENV = "WPFARM_GALERA_NODE"
BOOTSTRAP_ENV = "WPFARM_GALERA_BOOTSTRAP"
SAVED_LABEL = "wpfarm.galera.saved-spec"  # the spec before a recovery start (JSON)
JOB_LABEL = "wpfarm.galera.job"  # on one-off jobs: the Galera service they read
SPEC_LABEL = "wpfarm.spec-sha"  # stacks.deploy: the digest of the stack's spec
RECOVERY_SHA = "galera-recovery"  # never a digest: a deploy updates the service
BEGIN, END = "__wpfarm_galera_begin__", "__wpfarm_galera_end__"
# A task's start and a peer's first passing health check: waited for while Swarm's task
# states move; two minutes with none is stuck (the stack's check runs every 10 s).
START_PATIENCE = Patience(stall=120.0, ceiling=1800.0)
STRAY_WAIT_S = 20.0  # a task still wanted after a scale to 0, before a forced update

# Task states: before the container starts, and terminal ones.
_PRE_START = {"new", "allocated", "pending", "assigned", "accepted", "preparing", "ready"}
_LIVE = {"starting", "running"}
_TERMINAL = {"complete", "shutdown", "failed", "rejected", "orphaned", "remove"}


# ---------------------------------------------------------------- pure helpers
def _ending(task: Mapping[str, Any]) -> bool:
    """A task Swarm is stopping (desired shutdown) whose container may still run."""
    return task.get("DesiredState") not in ("running", "ready") and \
        task["Status"]["State"] not in _TERMINAL


def _container(task: Mapping[str, Any]) -> str:
    return task["Status"].get("ContainerStatus", {}).get("ContainerID", "")[:12] or "CONTAINER"


def env_dict(env: Iterable[str] | None) -> dict[str, str]:
    out = {}
    for item in env or ():
        key, _, value = item.partition("=")
        out[key] = value
    return out


def set_env(env: list[str] | None, key: str, value: str) -> list[str]:
    """Env with KEY=value replacing any KEY=..., appended when absent (order kept)."""
    out, found = [], False
    for item in env or []:
        if item.partition("=")[0] == key:
            out.append(f"{key}={value}")
            found = True
        else:
            out.append(item)
    if not found:
        out.append(f"{key}={value}")
    return out


def datadir_mount(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    mounts = spec["TaskTemplate"]["ContainerSpec"].get("Mounts") or []
    return next((m for m in mounts if m.get("Target", "").rstrip("/") == DATADIR), None)


def saved_spec(spec: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = (spec.get("Labels") or {}).get(SAVED_LABEL)
    if not raw:
        return None
    try:
        saved = json.loads(raw)
    except ValueError:
        return None
    return saved if isinstance(saved, dict) and "TaskTemplate" in saved else None


def start_spec(spec: Mapping[str, Any], extra_args: list[str], *, force: bool = False
               ) -> dict[str, Any]:
    """The service spec that starts the node with `extra_args` (replicas 1).

    Arguments: built from the spec before the first recovery start (kept in SAVED_LABEL),
    so repeated starts never pile arguments up. No arguments: the spec before any recovery
    start, else only replicas change (force bumps ForceUpdate, so Swarm starts a new task
    when replicas is 1 already)."""
    bootstrap = "--wsrep-new-cluster" in extra_args
    args = [a for a in extra_args if a != "--wsrep-new-cluster"]
    saved = saved_spec(spec)
    if not (bootstrap or args):
        new = settled_spec(spec) or copy.deepcopy(dict(spec))
        if force and new["TaskTemplate"] == spec["TaskTemplate"]:
            new["TaskTemplate"]["ForceUpdate"] = _force(spec) + 1
        new["Mode"] = {"Replicated": {"Replicas": 1}}
        return new
    new = copy.deepcopy(dict(spec))
    labels = dict(new.get("Labels") or {})
    if saved is None:
        saved = {"TaskTemplate": spec["TaskTemplate"], "sha": labels.get(SPEC_LABEL)}
        labels[SAVED_LABEL] = json.dumps(saved, sort_keys=True)
    task = copy.deepcopy(saved["TaskTemplate"])
    cs = task["ContainerSpec"]
    node = env_dict(cs.get("Env")).get(NODE_ENV)
    if bootstrap:
        if not node:
            raise GaleraControlError(f"{spec.get('Name')}: no {NODE_ENV} in its environment: "
                                     "not a wpfarm Galera service")
        cs["Env"] = set_env(cs.get("Env"), BOOTSTRAP_ENV, node)
    elif env_dict(cs.get("Env")).get(BOOTSTRAP_ENV):
        cs["Env"] = set_env(cs.get("Env"), BOOTSTRAP_ENV, "")
    if args:
        cs["Args"] = [*(cs.get("Args") or []), *args]
    # A failed start stays down (and is reported) instead of being restarted by Swarm with
    # the bootstrap flag or with a position that is stale by then.
    task["RestartPolicy"] = {**(task.get("RestartPolicy") or {}), "Condition": "none",
                             "MaxAttempts": 0}
    task["ForceUpdate"] = _force(spec) + 1
    new["TaskTemplate"] = task
    labels[SPEC_LABEL] = RECOVERY_SHA
    new["Labels"] = labels
    new["Mode"] = {"Replicated": {"Replicas": 1}}
    return new


def _force(spec: Mapping[str, Any]) -> int:
    return int(spec["TaskTemplate"].get("ForceUpdate") or 0)


def settled_spec(spec: Mapping[str, Any]) -> dict[str, Any] | None:
    """The spec from before the recovery start, or None when there is nothing to undo."""
    saved = saved_spec(spec)
    if saved is None:
        return None
    new = copy.deepcopy(dict(spec))
    new["TaskTemplate"] = copy.deepcopy(saved["TaskTemplate"])
    labels = {k: v for k, v in (spec.get("Labels") or {}).items() if k != SAVED_LABEL}
    labels.pop(SPEC_LABEL, None)
    if saved.get("sha"):
        labels[SPEC_LABEL] = saved["sha"]
    new["Labels"] = labels
    return new


def scaled_spec(spec: Mapping[str, Any], replicas: int) -> dict[str, Any]:
    new = copy.deepcopy(dict(spec))
    new["Mode"] = {"Replicated": {"Replicas": replicas}}
    return new


def job_spec(spec: Mapping[str, Any], name: str, script: str) -> dict[str, Any]:
    """A one-off job on the node's datadir: same image, mounts, configs, placement."""
    task = spec["TaskTemplate"]
    cs = task["ContainerSpec"]
    container: dict[str, Any] = {
        "Image": cs["Image"],
        "Command": ["/bin/sh", "-c", script],
        "Mounts": copy.deepcopy(cs.get("Mounts") or []),
        # galera.cnf and friends: --wsrep-recover must see the node's own settings.
        "Configs": copy.deepcopy(cs.get("Configs") or []),
        "Env": list(cs.get("Env") or []),
        "Healthcheck": {"Test": ["NONE"]},
    }
    if cs.get("User"):
        container["User"] = cs["User"]
    return {
        "Name": name,
        "Labels": {JOB_LABEL: spec["Name"]},
        "TaskTemplate": {
            "ContainerSpec": container,
            "Placement": copy.deepcopy(task.get("Placement") or {}),
            "RestartPolicy": {"Condition": "none", "MaxAttempts": 0},
        },
        "Mode": {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}},
    }


def job_name(service: str, op: str) -> str:
    return f"{service}-{op}-{secrets.token_hex(3)}"[-63:].lstrip("-_.")


def wrap_script(body: str) -> str:
    """Markers around the output and the exit code: the logs API gives no exit code, and
    an output with both markers is known to be whole."""
    return f"echo {BEGIN}\n(\n{body}\n)\necho \"{END} $?\"\n"


def parse_job_output(text: str) -> tuple[int, str] | None:
    """(exit code, output between the markers), or None while the output is incomplete."""
    match = re.search(rf"(?s){BEGIN}\r?\n(.*?){END} (-?\d+)", text)
    if not match:
        return None
    return int(match.group(2)), match.group(1)


GRASTATE_SCRIPT = (f"f={DATADIR}/grastate.dat\n"
                   "if [ -f \"$f\" ]; then cat \"$f\"; else exit 3; fi")
# sed -i renames a new file into place (atomic); owner and group put back for mariadbd.
SAFE_SCRIPT = (f"f={DATADIR}/grastate.dat\n"
               "[ -f \"$f\" ] || exit 3\n"
               "owner=$(stat -c %u:%g \"$f\")\n"
               "if grep -q '^safe_to_bootstrap:' \"$f\"; then\n"
               "  sed -i 's/^safe_to_bootstrap:.*$/safe_to_bootstrap: 1/' \"$f\"\n"
               "else echo 'safe_to_bootstrap: 1' >> \"$f\"; fi\n"
               "chown \"$owner\" \"$f\" && cat \"$f\"")
RECOVER_SCRIPT = ("mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld\n"
                  "mariadbd --user=mysql --wsrep-recover --log-error=/tmp/wsrep-recover.log "
                  ">/tmp/wsrep-recover.out 2>&1\n"
                  "rc=$?\n"
                  "cat /tmp/wsrep-recover.log /tmp/wsrep-recover.out 2>/dev/null\n"
                  "(exit $rc)")


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def match_services(farm: Farm, services: list[Mapping[str, Any]]) -> dict[str, str]:
    """endpoints.galera node name -> Swarm service name.

    A node matches a Galera service (one with WPFARM_GALERA_NODE in its environment) by
    the service's name (`db_mariadb-1` or `mariadb-1`), by WPFARM_GALERA_NODE (the db
    node's name), or by its SQL host being that db node's address in the farm file."""
    galera = farm.endpoints.galera
    if galera is None:
        return {}
    found: dict[str, dict[str, str]] = {}
    for svc in services:
        spec = svc["Spec"]
        env = env_dict(spec["TaskTemplate"]["ContainerSpec"].get("Env"))
        if NODE_ENV in env:
            found[spec["Name"]] = env
    addresses = {n.name: n.address for n in farm.nodes}
    rules = (
        lambda node, name, env: node.name in (name, name.split("_", 1)[-1]),
        lambda node, name, env: env[NODE_ENV] == node.name,
        lambda node, name, env: not is_loopback_host(node.host)
        and addresses.get(env[NODE_ENV]) == node.host,
    )
    out: dict[str, str] = {}
    for node in galera.nodes:
        for rule in rules:  # the most explicit rule first, over every service
            name = next((n for n, env in sorted(found.items()) if rule(node, n, env)), None)
            if name is not None:
                out[node.name] = name
                break
    return out


# ---------------------------------------------------------------- the control
class SwarmGaleraControl:
    """The Galera nodes of a Swarm farm, through the manager in endpoints.docker."""

    def __init__(self, farm: Farm, *, patience: Patience = START_PATIENCE,
                 stop_timeout: float = 90.0, job_timeout: float = 60.0,
                 recover_timeout: float = 300.0, poll: float = 0.3):
        if farm.endpoints.docker is None:
            raise GaleraControlError("endpoints.docker: missing in the farm file; Galera node "
                                     "control on a Swarm talks to a manager's Docker API")
        self.farm = farm
        self.patience = patience  # a task's start, a peer's health check
        self.stop_timeout = stop_timeout
        self.job_timeout = job_timeout
        self.recover_timeout = recover_timeout
        self.poll = poll
        self._local = threading.local()  # one API client per thread (parallel reads)
        self._clients: list[docker.DockerClient] = []
        self._lock = threading.Lock()
        self._names: dict[str, str] = {}

    # ------------------------------------------------------------ plumbing
    @property
    def api(self) -> docker.APIClient:
        client = getattr(self._local, "client", None)
        if client is None:
            from wpfarm_tui.farm import docker as farm_docker

            try:
                client = farm_docker.client(self.farm.endpoints.docker)  # type: ignore[arg-type]
            except docker.errors.DockerException as exc:
                raise GaleraControlError(f"endpoints.docker: {self.farm.endpoints.docker.host} "
                                         f"does not answer ({exc})") from None
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client.api

    def close(self) -> None:
        """Every thread's client (a pool thread's would otherwise stay open)."""
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(Exception):
                client.close()
        self._local = threading.local()

    def service_name(self, node: str) -> str:
        if node not in self._names:
            try:
                services = self.api.services()
            except docker.errors.APIError as exc:
                raise GaleraControlError(f"{node}: cannot list the Swarm services: "
                                         f"{exc.explanation}") from None
            self._names.update(match_services(self.farm, services))
            if node not in self._names:
                galera = sorted(s["Spec"]["Name"] for s in services if NODE_ENV in env_dict(
                    s["Spec"]["TaskTemplate"]["ContainerSpec"].get("Env")))
                raise GaleraControlError(
                    f"{node}: no Galera service for it; the Galera services are "
                    f"{', '.join(galera) or 'none (is the db stack deployed?)'}; name the "
                    "endpoints.galera node after its service (mariadb-1) or its db node")
        return self._names[node]

    def _inspect(self, node: str) -> dict[str, Any]:
        name = self.service_name(node)
        try:
            return self.api.inspect_service(name)
        except docker.errors.NotFound:
            self._names.pop(node, None)
            raise GaleraControlError(f"{node}: service {name} is gone") from None

    def _update(self, svc: Mapping[str, Any], spec: Mapping[str, Any]) -> None:
        """The update, at the version it was computed from. Swarm moves a service's version
        by itself too (a task that failed and is rescheduled): "update out of sequence" is
        retried at the new version when the spec is still the one we read, and refused
        when somebody else changed it meanwhile."""
        api = self.api
        for attempt in range(3):
            try:
                api._result(api._post_json(api._url("/services/{0}/update", svc["ID"]),
                                           data=spec,
                                           params={"version": svc["Version"]["Index"]}), True)
                return
            except docker.errors.APIError as exc:
                name = svc["Spec"]["Name"]
                if "out of sequence" not in str(exc.explanation) or attempt == 2:
                    raise GaleraControlError(f"{name}: the Swarm refused the update: "
                                             f"{exc.explanation}") from None
                fresh = api.inspect_service(svc["ID"])
                if fresh["Spec"] != svc["Spec"]:
                    raise GaleraControlError(
                        f"{name}: its spec changed while this procedure ran (a deploy or "
                        "an operator?); nothing was changed: run it again") from None
                svc = fresh

    def _tasks(self, service_id: str) -> list[dict[str, Any]]:
        return self.api.tasks(filters={"service": service_id})

    @staticmethod
    def _alive(task: Mapping[str, Any]) -> bool:
        """Running, or going to: desired "ready" is a restart waiting out its delay."""
        state = task["Status"]["State"]
        return state in _LIVE and task.get("DesiredState") in ("running", "ready") or (
            task.get("DesiredState") in ("running", "ready") and state in _PRE_START)

    def _wait_started(self, svc: Mapping[str, Any], before: set[str], what: str) -> None:
        """Until a task not in `before` has its container running, for as long as its task
        moves through Swarm's states; a task that ends first is an error."""
        name = svc["Spec"]["Name"]

        def look() -> Seen:
            new = [t for t in self._tasks(svc["ID"]) if t["ID"] not in before]
            for task in new:
                state = task["Status"]["State"]
                # "starting" is Swarm's word for a running container whose healthcheck has
                # not passed yet (for Galera: not Synced): wait_synced takes it from here.
                if state in _LIVE:
                    return Seen(True, None, state)
                if state in _TERMINAL:
                    err = task["Status"].get("Err") or task["Status"].get("Message") or state
                    return Seen(False, None, state, fatal=f"{what}: its task ended as {state} "
                                f"({err}); see {self._log_hint(name)}")
            states = tuple(sorted((t["ID"], t["Status"]["State"]) for t in new))
            return Seen(False, states, ", ".join(s for _i, s in states) or "no task yet")

        result = wait_for(look, self.patience, self.poll)
        if not result.ok:
            raise GaleraControlError(result.why if result.why not in ("stuck", "ceiling") else
                                     f"{what}: no running task after "
                                     f"{duration_text(result.elapsed)} (task: {result.state}); "
                                     f"see `docker service ps {name}`")

    def _wait_peers(self, svc: Mapping[str, Any]) -> None:
        """Until every other Galera node that runs is healthy. A joiner finds its peers by
        their service names (gcomm://mariadb-1,...), and Swarm's DNS lists a task only once
        its healthcheck passed (for Galera: Synced): started earlier, the joiner resolves no
        peer and waits alone in a non-Primary view. A peer's task that keeps changing is
        waited for; one left "starting" (its health check not passing) is reported."""
        name = svc["Spec"]["Name"]
        stack = name.split("_", 1)[0]
        starting: list[tuple[str, Mapping[str, Any]]] = []  # (service, its task)

        def look() -> Seen:
            waiting = []
            for other in self.api.services():
                spec = other["Spec"]
                if spec["Name"] == name or spec["Name"].split("_", 1)[0] != stack or \
                        NODE_ENV not in env_dict(spec["TaskTemplate"]["ContainerSpec"].get("Env")):
                    continue
                alive = [t for t in self._tasks(other["ID"]) if self._alive(t)]
                if alive and not any(t["Status"]["State"] == "running" for t in alive):
                    waiting.append((spec["Name"], tuple(sorted(
                        (t["ID"], t["Status"]["State"]) for t in alive)), alive[0]))
            marker = tuple((n, states) for n, states, _t in waiting)
            starting[:] = [(n, t) for n, _s, t in waiting]
            return Seen(not waiting, marker, ", ".join(n for n, _s, _t in waiting))

        result = wait_for(look, self.patience, self.poll)
        if not result.ok:
            stuck = "; ".join(f"{n} on {self._node_name(t)}: `docker inspect --format "
                              f"'{{{{json .State.Health}}}}' {_container(t)}`"
                              for n, t in starting)
            raise GaleraControlError(
                f"{result.state} not healthy after {duration_text(result.elapsed)} (its "
                f"health check has not passed, and Swarm's DNS lists a task only once it has: "
                f"{name} could not resolve it to join); its health check's output: {stuck}")

    def _node_name(self, task: Mapping[str, Any]) -> str:
        with contextlib.suppress(docker.errors.APIError, KeyError):
            return self.api.inspect_node(task["NodeID"])["Description"]["Hostname"]
        return str(task.get("NodeID", "its node"))[:12]

    def _log_hint(self, service: str) -> str:
        return f"`wpfarm service logs {service}`"

    # ------------------------------------------------------------ jobs
    def _jobs(self, service: str) -> list[dict[str, Any]]:
        return self.api.services(filters={"label": f"{JOB_LABEL}={service}"})

    def _remove_jobs(self, service: str) -> None:
        """Jobs left by an interrupted console: never two servers on one datadir."""
        jobs = self._jobs(service)
        for job in jobs:
            with contextlib.suppress(docker.errors.NotFound):
                self.api.remove_service(job["ID"])
        deadline = time.monotonic() + self.stop_timeout
        while jobs and time.monotonic() < deadline:
            if not any(t["Status"]["State"] not in _TERMINAL for j in jobs  # removed: ending
                       for t in self.api.tasks(filters={"service": j["ID"]})):
                return
            time.sleep(self.poll)

    def _job(self, node: str, op: str, body: str, timeout: float) -> tuple[int, str]:
        svc = self._inspect(node)
        name = svc["Spec"]["Name"]
        if datadir_mount(svc["Spec"]) is None:
            raise GaleraControlError(f"{node}: service {name} mounts nothing on {DATADIR}: "
                                     "its data would be lost at every restart")
        api = self.api
        spec = job_spec(svc["Spec"], job_name(name, op), wrap_script(body))
        try:
            job_id = api._result(api._post_json(api._url("/services/create"), data=spec),
                                 True)["ID"]
        except docker.errors.APIError as exc:
            raise GaleraControlError(f"{node}: the Swarm refused the {op} job: "
                                     f"{exc.explanation}") from None
        try:
            deadline = time.monotonic() + timeout
            task: dict[str, Any] | None = None
            while time.monotonic() < deadline:
                done = [t for t in api.tasks(filters={"service": job_id})
                        if t["Status"]["State"] in _TERMINAL]
                if done:
                    task = done[0]
                    break
                time.sleep(self.poll)
            if task is None:
                raise GaleraControlError(f"{node}: the {op} job ({spec['Name']}) did not finish "
                                         f"in {timeout:.0f} s")
            if task["Status"]["State"] != "complete" and not task["Status"].get(
                    "ContainerStatus", {}).get("ContainerID"):
                raise GaleraControlError(f"{node}: the {op} job did not run: "
                                         f"{task['Status'].get('Err') or task['Status']['State']}")
            # The logs of a task that just ended can arrive a moment late: until both
            # markers are there.
            parsed, text = None, ""
            logs_deadline = time.monotonic() + 10
            while parsed is None and time.monotonic() < logs_deadline:
                # docker-py streams service logs even without follow: join the chunks.
                chunks = api.service_logs(job_id, stdout=True, stderr=True, follow=False,
                                          timestamps=False, is_tty=False)
                text = b"".join(chunks).decode(errors="replace")
                parsed = parse_job_output(text)
                if parsed is None:
                    time.sleep(0.5)
            if parsed is None:
                err = task["Status"].get("Err") or task["Status"]["State"]
                raise GaleraControlError(f"{node}: no output from the {op} job ({err}): "
                                         f"{text.strip()[-300:]}")
            return parsed
        finally:
            with contextlib.suppress(docker.errors.APIError):
                api.remove_service(job_id)

    # ------------------------------------------------------------ GaleraControl
    def grastate(self, node: str) -> GraState | None:
        rc, out = self._job(node, "grastate", GRASTATE_SCRIPT, self.job_timeout)
        if rc == 3:
            return None
        if rc != 0:
            raise GaleraControlError(f"{node}: reading grastate.dat failed ({rc}): "
                                     f"{out.strip()[-300:]}")
        return GraState.parse(out)

    def recover_position(self, node: str) -> Position | None:
        if self.is_running(node):
            raise GaleraControlError(f"{node} is running: --wsrep-recover needs it stopped")
        self._remove_jobs(self.service_name(node))
        _rc, out = self._job(node, "recover", RECOVER_SCRIPT, self.recover_timeout)
        return parse_recovered(out)

    def set_safe_to_bootstrap(self, node: str) -> None:
        if self.is_running(node):
            raise GaleraControlError(f"{node} is running: grastate.dat is the server's then")
        rc, out = self._job(node, "safe-to-bootstrap", SAFE_SCRIPT, self.job_timeout)
        if rc == 3:
            raise GaleraControlError(f"{node}: no grastate.dat to mark safe_to_bootstrap")
        if rc != 0 or not GraState.parse(out).safe_to_bootstrap:
            raise GaleraControlError(f"{node}: setting safe_to_bootstrap failed ({rc}): "
                                     f"{out.strip()[-300:]}")

    def start(self, node: str, extra_args: list[str]) -> None:
        svc = self._inspect(node)
        name = svc["Spec"]["Name"]
        self._remove_jobs(name)
        running = self.is_running(node)  # after any task being stopped has ended
        svc = self._inspect(node)
        tasks = self._tasks(svc["ID"])
        if running and not extra_args:
            return  # already (re)starting: nothing to change
        if running:
            raise GaleraControlError(f"{node} is running: stop it before starting it with "
                                     f"{' '.join(extra_args)}")
        replicas = svc["Spec"].get("Mode", {}).get("Replicated", {}).get("Replicas", 0)
        spec = start_spec(svc["Spec"], extra_args, force=replicas >= 1)
        if "--wsrep-new-cluster" not in extra_args:
            self._wait_peers(svc)
        self._update(svc, spec)
        self._wait_started(svc, {t["ID"] for t in tasks}, f"{node} ({name})")

    def stop(self, node: str, hard: bool = False) -> None:
        # hard: the same Swarm stop (see the module's docstring).
        svc = self._inspect(node)
        if svc["Spec"].get("Mode", {}).get("Replicated", {}).get("Replicas") != 0:
            self._update(svc, scaled_spec(svc["Spec"], 0))
        # A restart Swarm scheduled just before a scale to 0 (a crash, then the scale within
        # the restart delay) was seen starting anyway and kept "starting" at 0 replicas on
        # a loaded CI machine: a forced update makes the orchestrator reconcile it away.
        deadline = time.monotonic() + STRAY_WAIT_S
        while time.monotonic() < deadline:
            if not any(self._alive(t) for t in self._tasks(svc["ID"])):
                break
            time.sleep(self.poll)
        else:
            svc = self._inspect(node)
            spec = scaled_spec(svc["Spec"], 0)
            spec["TaskTemplate"]["ForceUpdate"] = _force(svc["Spec"]) + 1
            self._update(svc, spec)
        self._wait_ended(svc, node, lambda t: True, "still has a task")

    def is_running(self, node: str) -> bool:
        """A task Swarm is stopping (a crashed node's restart, scaled away) still runs
        mariadbd on the datadir until it has exited, up to the stop grace period: such a
        node is neither running nor stopped yet, so this waits until it has ended."""
        svc = self._inspect(node)
        tasks = self._tasks(svc["ID"])
        if any(self._alive(t) for t in tasks):
            return True
        if any(_ending(t) for t in tasks):
            self._wait_ended(svc, node, _ending, "is being stopped but still has a task")
            return any(self._alive(t) for t in self._tasks(svc["ID"]))
        return False

    def _wait_ended(self, svc: Mapping[str, Any], node: str,
                    which: Callable[[Mapping[str, Any]], bool], problem: str) -> None:
        """Until no task `which` selects is left running: up to the service's stop grace
        period (mariadbd may flush its buffer pool that long before Swarm kills it) and a
        margin for a busy node's Docker to report it."""
        grace = svc["Spec"]["TaskTemplate"]["ContainerSpec"].get("StopGracePeriod", 10 * 10**9)
        limit = max(self.stop_timeout, grace / 1e9 + 60)
        deadline = time.monotonic() + limit
        while True:
            left = [t for t in self._tasks(svc["ID"])
                    if t["Status"]["State"] not in _TERMINAL and which(t)]
            if not left:
                return
            if time.monotonic() > deadline:
                states = ", ".join(f"{t['ID'][:12]} {t['Status']['State']}" for t in left)
                raise GaleraControlError(
                    f"{node}: {svc['Spec']['Name']} {problem} after {duration_text(limit)} "
                    f"({states}; is its Swarm node down?); see "
                    f"`docker service ps {svc['Spec']['Name']}`")
            time.sleep(self.poll)

    def settle(self, node: str) -> bool:
        svc = self._inspect(node)
        spec = settled_spec(svc["Spec"])
        if spec is None:
            return False
        before = {t["ID"] for t in self._tasks(svc["ID"])}
        restart = spec["TaskTemplate"] != svc["Spec"]["TaskTemplate"]
        if restart:
            self._wait_peers(svc)
        self._update(svc, spec)
        if restart:
            self._wait_started(svc, before, f"{node} ({svc['Spec']['Name']})")
        return restart

    def log_hint(self, node: str) -> str:
        try:
            return self._log_hint(self.service_name(node))
        except GaleraControlError:
            return f"the logs of {node}'s Galera service (`wpfarm service logs ...`)"
