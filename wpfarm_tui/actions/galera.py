"""Galera procedures: full-crash recovery, single-node rejoin, desync/resync.

Full-crash recovery follows the MariaDB documentation: read every node's grastate.dat,
run `--wsrep-recover` where seqno is -1, bootstrap the most advanced node (highest seqno;
on ties the one marked safe_to_bootstrap, then node order) WITH its recovered position so
the cluster keeps its UUID, then start the others one at a time with their own
`--wsrep-start-position` so they catch up by IST instead of a full SST. Once all are
Synced, each node is settled: the node control undoes what it changed to start it that
way (on Swarm: the bootstrap variable and the start position in the service's spec, one
rolling restart per node), so a later restart joins instead of bootstrapping.

It never bootstraps while any node still reports Primary over SQL (that would split the
cluster in two), and it never starts on a view it cannot trust: a node that refuses our
credentials is up (only its password reference is wrong), and a node that does not answer
while the node control says it runs may be serving a healthy cluster. Only a node that
answers, refuses connections (nothing listens), or whose process is gone counts as seen.

The one exception on Primary is a recovery this tool started and did not finish:
a small journal (next to the audit log) names the node it bootstrapped and the cluster
UUID, and a re-run continues with the nodes still missing; nodes already Synced are
skipped. A successful verify removes the journal.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wpfarm_tui.actions.base import (
    ActionError,
    Step,
    StepEvent,
    Verdict,
    default_audit_path,
    refusal,
)
from wpfarm_tui.farm.galera import connect
from wpfarm_tui.farm.galera_control import (
    GaleraControl,
    GaleraControlError,
    GraState,
    Position,
)
from wpfarm_tui.inventory import Farm, GaleraEndpoint, HostPort
from wpfarm_tui.status.base import describe_error
from wpfarm_tui.status.texts import credentials_message, duration_text, shown
from wpfarm_tui.waits import Patience, Seen, wait_for

# A joiner is waited for while it moves (a full SST of a big database may take most of an
# hour); two minutes with no progress is stuck, even on a loaded machine.
SYNC_PATIENCE = Patience(stall=120.0, ceiling=3600.0)
POLL = 0.2
DONOR_POLL = 2.0


def galera_endpoint(farm: Farm) -> GaleraEndpoint:
    endpoint = farm.endpoints.galera
    if endpoint is None:
        raise ActionError("endpoints.galera: missing in the farm file; add the Galera nodes "
                          "(name, host, port) and the console's user")
    return endpoint


def check_node(endpoint: GaleraEndpoint, node: str) -> HostPort:
    names = [n.name for n in endpoint.nodes]
    found = next((n for n in endpoint.nodes if n.name == node), None)
    if found is None:
        raise ActionError(f"node: unknown Galera node {node!r}; use one of {', '.join(names)} "
                          "(endpoints.galera.nodes)")
    return found


@dataclass(frozen=True)
class NodeView(Mapping[str, str]):
    """One node's wsrep status as a procedure reads it over SQL, or why it could not.

    As a Mapping it is the status (empty, so false, when the node did not answer); `state`
    is the collectors' word for why not (status.base.describe_error): down, timeout,
    denied (it answered and refused our credentials: up, but unseen) or error."""

    name: str
    state: str = "ok"
    error: str | None = None
    status: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> str:
        return self.status[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.status)

    def __len__(self) -> int:
        return len(self.status)

    @property
    def answered(self) -> bool:
        return self.state == "ok"

    @property
    def denied(self) -> bool:
        return self.state == "denied"

    @property
    def refused(self) -> bool:
        """Connection refused: the host says nothing listens on the port (mariadbd is not
        running there). Not "no route to host", not a timeout: those say nothing."""
        return self.state == "down" and "refused" in (self.error or "").lower()

    def why(self) -> str:
        """Why it did not answer, with the fix when we know it."""
        if self.denied:
            return credentials_message("galera", self.error)
        return f"{self.state}: {self.error}" if self.error else self.state


def node_status(endpoint: GaleraEndpoint, node: HostPort, timeout: float = 1.0) -> NodeView:
    """wsrep status of one node over SQL, or why it does not answer."""
    short = GaleraEndpoint(endpoint.user, endpoint.password, endpoint.nodes,
                           min(endpoint.timeout, timeout))
    try:
        conn = connect(short, node)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW GLOBAL STATUS LIKE 'wsrep%%'")
                status = {str(k).lower(): str(v) for k, v in cur.fetchall()}
                cur.execute("SELECT @@wsrep_desync")
                status["wsrep_desync"] = "ON" if int(cur.fetchone()[0]) else "OFF"
        finally:
            with contextlib.suppress(Exception):
                conn.close()
    except Exception as exc:  # noqa: BLE001 - not answering is an answer here, with its why
        state, message = describe_error(exc, short.timeout)
        return NodeView(node.name, state, message)
    return NodeView(node.name, "ok", None, status)


def all_status(endpoint: GaleraEndpoint) -> dict[str, NodeView]:
    with ThreadPoolExecutor(max_workers=len(endpoint.nodes)) as pool:
        found = pool.map(lambda n: node_status(endpoint, n), endpoint.nodes)
        return dict(zip((n.name for n in endpoint.nodes), found, strict=True))


def credential_problems(views: Mapping[str, NodeView]) -> list[tuple[str, str]]:
    """Nodes that refused our credentials: a view with them in it is partial."""
    return [(name, v.why()) for name, v in views.items() if v.denied]


def _refused_on_control_errors(plan: Callable[[Any], list[Step]]
                               ) -> Callable[[Any], list[Step]]:
    """A plan that cannot read the nodes through the node control (no Galera service, a
    manager that does not answer) is a refusal that says why, never a traceback."""
    @functools.wraps(plan)
    def wrapped(self: Any) -> list[Step]:
        try:
            return plan(self)
        except GaleraControlError as exc:
            raise ActionError(f"{self.name}: cannot read the Galera nodes: {exc}") from None
    return wrapped


def _synced(status: Mapping[str, str] | None) -> bool:
    return bool(status) and status.get("wsrep_local_state_comment") == "Synced" and \
        status.get("wsrep_cluster_status") == "Primary"


def _donors(endpoint: GaleraEndpoint, node: HostPort) -> list[str]:
    """The other nodes sending a state transfer right now."""
    others = [n for n in endpoint.nodes if n.name != node.name]
    if not others:
        return []
    with ThreadPoolExecutor(max_workers=len(others)) as pool:
        views = list(pool.map(lambda n: node_status(endpoint, n), others))
    # An operator's desync (wsrep_desync=ON) shows as Donor/Desynced too, and sends nothing.
    return [v.name for v in views if v.get("wsrep_local_state_comment", "").startswith("Donor")
            and v.get("wsrep_desync") == "OFF"]


def wait_synced(endpoint: GaleraEndpoint, control: GaleraControl | None, node: HostPort,
                patience: Patience) -> tuple[bool, str]:
    """Poll until the node is Synced, for as long as it makes progress: its Galera state or
    its last committed seqno moves, or another node is still its Donor (an SST shows
    nothing else until it ends). Fails fast when its process died or it refuses us."""
    donors: list[str] = []
    donors_read = 0.0

    def look() -> Seen:
        nonlocal donors, donors_read
        status = node_status(endpoint, node)
        if _synced(status):
            return Seen(True, None, "Synced")
        if status.denied:  # waiting longer cannot help
            return Seen(False, None, status.why(), fatal=f"{node.name}: {status.why()}")
        if control is not None and not control.is_running(node.name):
            return Seen(False, None, "exited", fatal=f"{node.name} exited while starting; "
                        f"see {control.log_hint(node.name)}")
        # A cluster-wide read: not at each poll, but well within the stall.
        if time.monotonic() - donors_read >= min(DONOR_POLL, patience.stall / 4):
            donors, donors_read = _donors(endpoint, node), time.monotonic()
        state = status.get("wsrep_local_state_comment") or f"not answering, {status.why()}"
        if donors:
            state += f"; state transfer from {', '.join(donors)}"
        marker = (status.answered, status.get("wsrep_local_state_comment"),
                  status.get("wsrep_last_committed"), status.get("wsrep_cluster_status"))
        return Seen(False, marker, state, moving=bool(donors))

    result = wait_for(look, patience, POLL)
    if result.ok:
        return True, f"Synced after {result.elapsed:.1f} s"
    if result.stuck:
        hint = f"; see {control.log_hint(node.name)}" if control is not None else ""
        return False, (f"stuck: no progress for {duration_text(patience.stall)} after "
                       f"{duration_text(result.elapsed)} (state: {result.state}){hint}")
    if result.why == "ceiling":
        return False, (f"not Synced after {duration_text(result.elapsed)}, still moving "
                       f"(state: {result.state})")
    return False, result.why


def settle_node(endpoint: GaleraEndpoint, control: GaleraControl, node: HostPort,
                patience: Patience) -> Generator[StepEvent, None, bool]:
    """control.settle, and when that restarted the node, wait until it is Synced again."""
    s = f"settle {node.name}"
    yield StepEvent("started", s)
    try:
        restarted = control.settle(node.name)
    except GaleraControlError as exc:
        yield StepEvent("failed", s, str(exc))
        return False
    if not restarted:
        yield StepEvent("skipped", s, "nothing to undo")
        return True
    ok, message = wait_synced(endpoint, control, node, patience)
    yield StepEvent("done" if ok else "failed", s, f"restarted as the stack defines it; "
                    f"{message}" if ok else message)
    return ok


def _cluster_verdict(endpoint: GaleraEndpoint, uuid: str | None) -> Verdict:
    statuses = all_status(endpoint)
    expected = len(endpoint.nodes)
    details, ok = [], True
    for name, status in statuses.items():
        if not status.answered:
            ok = False
            details.append(f"{name}: not answering, {status.why()}")
            continue
        size = status.get("wsrep_cluster_size")
        state = status.get("wsrep_local_state_comment")
        node_uuid = status.get("wsrep_cluster_state_uuid")
        details.append(f"{name}: {shown(status.get('wsrep_cluster_status'))} {shown(state)}, "
                       f"size {shown(size)}, uuid {shown(node_uuid)}")
        if not _synced(status) or size != str(expected):
            ok = False
        if uuid and node_uuid != uuid:
            ok = False
            details.append(f"{name}: cluster UUID changed (was {uuid})")
    summary = (f"all {expected} nodes Synced in one Primary component"
               + (f", cluster UUID {uuid} kept" if uuid else "")) if ok else \
        "the cluster is not whole yet"
    return Verdict(ok, summary, tuple(details))


# ---------------------------------------------------------------- full-crash recovery
class GaleraRecover:
    """Bring a fully crashed Galera cluster back without losing a committed row."""

    name = "galera-recover"
    title = "Galera full-crash recovery"
    destructive = True

    def __init__(self, farm: Farm, control: GaleraControl, *, journal: Path | None = None,
                 patience: Patience = SYNC_PATIENCE):
        self.farm = farm
        self.endpoint = galera_endpoint(farm)
        self.control = control
        self.nodes = [n.name for n in self.endpoint.nodes]
        self.journal = journal or default_audit_path().parent / "galera-recover.json"
        self.patience = patience
        self.uuid_before: str | None = None

    def describe(self) -> Mapping[str, Any]:
        return {"nodes": self.nodes}

    def blind_spots(self, views: Mapping[str, NodeView]) -> list[tuple[str, str]]:
        """The nodes this recovery cannot see, and why; it starts only when there are none.

        Seen: a node that answers over SQL, one that refuses connections (nothing listens),
        one whose process the node control says is gone. Not seen: one that refuses our
        credentials (it is up), one that is silent or failing while it runs (a timeout
        may be a slow network in front of a healthy Primary)."""
        out: list[tuple[str, str]] = []
        for name, view in views.items():
            if view.answered or view.refused:
                continue
            if view.denied:
                out.append((name, view.why()))
                continue
            try:
                running: bool | None = self.control.is_running(name)
            except Exception:  # noqa: BLE001 - a control that cannot tell is not a "no"
                running = None
            if running is False:
                continue
            runs = ("the node control says it runs" if running else
                    "the node control cannot tell whether it runs")
            out.append((name, f"does not answer over SQL ({view.why()}) and {runs}; it may "
                        "be in a healthy cluster, and a recovery never stops nodes of a "
                        "cluster it cannot see: make it answer (network, load, "
                        "max_connections) or stop it by hand if it is hung, then run again"))
        return out

    @_refused_on_control_errors
    def plan(self) -> list[Step]:
        blind = self.blind_spots(all_status(self.endpoint))
        if blind:
            raise ActionError(refusal(self.name, blind))
        steps = [Step("check: no node reports Primary", "over SQL on every node; refuse if any "
                      "does (unless continuing a recovery this tool started), or if a node "
                      "refuses our credentials or is silent while it runs")]
        running = {n for n in self.nodes if self.control.is_running(n)}
        states = self._grastates([n for n in self.nodes if n not in running])
        for node in self.nodes:
            if node in running:
                steps.append(Step(f"read grastate {node}", "running now: stopped first unless "
                                  "it is Primary"))
                continue
            state = states[node]
            if isinstance(state, Exception):
                steps.append(Step(f"read grastate {node}", f"cannot read it now: {state}"))
                continue
            seq = "no grastate.dat" if state is None else f"seqno {state.seqno}, " \
                f"safe_to_bootstrap {int(state.safe_to_bootstrap)}"
            steps.append(Step(f"read grastate {node}", seq))
            if state is not None and state.seqno == -1:
                steps.append(Step(f"recover position {node}", "mariadbd --wsrep-recover"))
        steps.append(Step("bootstrap the most advanced node", "highest seqno; ties: "
                          "safe_to_bootstrap 1, then node order; --wsrep-new-cluster "
                          "--wsrep-start-position=uuid:seqno", destructive=True))
        steps += [Step(f"start {n} if it is not the bootstrap node",
                       "--wsrep-start-position=its own uuid:seqno (IST), wait Synced")
                  for n in self.nodes]
        steps.append(Step("settle every node", "undo the start flags where the node control "
                          "set them (Swarm: the stack's spec back, one restart each, IST)"))
        steps.append(Step("verify", f"cluster size {len(self.nodes)}, all Synced, same UUID"))
        return steps

    # ------------------------------------------------------------ journal
    def _load_journal(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.journal.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("nodes") == self.nodes else None

    def _save_journal(self, data: dict[str, Any]) -> None:
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        self.journal.write_text(json.dumps(data))

    # ------------------------------------------------------------ run
    def run(self) -> Iterator[StepEvent]:
        step = "check: no node reports Primary"
        yield StepEvent("started", step)
        statuses = all_status(self.endpoint)
        blind = self.blind_spots(statuses)
        if blind:  # again: the farm may have changed since the plan was shown
            yield StepEvent("failed", step, refusal(self.name, blind))
            return
        primary = [n for n, s in statuses.items() if s and s.get("wsrep_cluster_status") ==
                   "Primary"]
        journal = self._load_journal()
        positions: dict[str, Position | None]
        if primary:
            uuids = {statuses[n].get("wsrep_cluster_state_uuid") for n in primary}
            if journal and journal.get("bootstrap") in primary and uuids == {journal["uuid"]}:
                yield StepEvent("done", step, f"continuing the recovery started at "
                                f"{journal.get('started')}: {journal['bootstrap']} is Primary")
                self.uuid_before = journal["uuid"]
                positions = {n: Position.parse(p) if p else None
                             for n, p in journal["positions"].items()}
                boot = journal["bootstrap"]
                yield StepEvent("skipped", f"bootstrap {boot}", "already bootstrapped")
                if (yield from self._start_others(boot, positions, statuses)):
                    yield from self._settle(boot)
                return
            stopped = [n for n in self.nodes if n not in primary]
            hint = (f"rejoin the stopped node(s) with `wpfarm galera rejoin {stopped[0]}`"
                    if stopped else "the cluster is whole: nothing to recover")
            yield StepEvent("failed", step, f"{', '.join(primary)} still report(s) Primary: "
                            f"this is not a full crash and bootstrapping would split the "
                            f"cluster; nothing was changed; {hint}")
            return
        yield StepEvent("done", step, "no node is Primary")

        # Nodes still running outside any Primary component: stop them so their state is
        # saved and --wsrep-recover can read it.
        for node in self.nodes:
            if self.control.is_running(node):
                s = f"stop {node}"
                yield StepEvent("started", s, "running but not Primary")
                self.control.stop(node)
                yield StepEvent("done", s)

        for node in self.nodes:
            yield StepEvent("started", f"read grastate {node}")
        read = self._grastates(self.nodes)
        states: dict[str, GraState | None] = {}
        for node in self.nodes:
            s = f"read grastate {node}"
            st = read[node]
            if isinstance(st, Exception):
                yield StepEvent("failed", s, f"{st}; nothing was started")
                return
            states[node] = st
            yield StepEvent("done", s, "no grastate.dat" if st is None else
                            f"uuid {st.uuid}, seqno {st.seqno}, "
                            f"safe_to_bootstrap {int(st.safe_to_bootstrap)}")
        positions = {n: (Position(st.uuid, st.seqno) if st and st.uuid and st.seqno is not None
                         and st.seqno >= 0 else None) for n, st in states.items()}
        crashed = [n for n in self.nodes if states[n] is not None and positions[n] is None]
        if crashed:
            for node in crashed:
                yield StepEvent("started", f"recover position {node}", "mariadbd --wsrep-recover")
            with ThreadPoolExecutor(max_workers=len(crashed)) as pool:
                found = dict(zip(crashed, pool.map(self._recover, crashed), strict=True))
            for node in crashed:
                pos = found[node]
                if isinstance(pos, Exception) or pos is None:
                    why = str(pos) if pos else "no position in the recover log"
                    yield StepEvent("failed", f"recover position {node}",
                                    f"{why}; see {self.control.log_hint(node)}")
                    continue
                positions[node] = pos
                yield StepEvent("done", f"recover position {node}", str(pos))
        known = [n for n in self.nodes if positions[n] is not None]
        if not known:
            yield StepEvent("failed", "choose the bootstrap node", "no node has a position")
            return
        uuids = {positions[n].uuid for n in known}  # type: ignore[union-attr]
        if len(uuids) > 1:
            yield StepEvent("failed", "choose the bootstrap node",
                            f"nodes disagree on the cluster UUID ({', '.join(sorted(uuids))}); "
                            "resolve by hand, nothing was started")
            return
        boot = max(known, key=lambda n: (positions[n].seqno,  # type: ignore[union-attr]
                                         bool(states[n] and states[n].safe_to_bootstrap),
                                         -self.nodes.index(n)))
        self.uuid_before = positions[boot].uuid  # type: ignore[union-attr]
        yield StepEvent("done", "choose the bootstrap node",
                        f"{boot} at {positions[boot]} (most advanced)")
        self._save_journal({"nodes": self.nodes, "bootstrap": boot, "uuid": self.uuid_before,
                            "positions": {n: str(p) if p else None for n, p in positions.items()},
                            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})

        s = f"bootstrap {boot}"
        yield StepEvent("started", s, f"--wsrep-new-cluster --wsrep-start-position="
                                      f"{positions[boot]}")
        if not (states[boot] and states[boot].safe_to_bootstrap):
            self.control.set_safe_to_bootstrap(boot)
            yield StepEvent("output", s, "grastate.dat: safe_to_bootstrap: 1")
        try:
            self.control.start(boot, ["--wsrep-new-cluster",
                                      f"--wsrep-start-position={positions[boot]}"])
        except GaleraControlError as exc:
            yield StepEvent("failed", s, str(exc))
            return
        ok, message = wait_synced(self.endpoint, self.control, self._hp(boot), self.patience)
        yield StepEvent("done" if ok else "failed", s, message)
        if not ok:
            return
        if (yield from self._start_others(boot, positions, {})):
            yield from self._settle(boot)

    def _grastates(self, nodes: list[str]) -> dict[str, GraState | None | Exception]:
        """All at once: on a Swarm each read is a job of its own, and they add up."""
        def read(node: str) -> GraState | None | Exception:
            try:
                return self.control.grastate(node)
            except GaleraControlError as exc:
                return exc

        if not nodes:
            return {}
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            return dict(zip(nodes, pool.map(read, nodes), strict=True))

    def _recover(self, node: str) -> Position | None | Exception:
        try:
            return self.control.recover_position(node)
        except GaleraControlError as exc:
            return exc

    def _hp(self, node: str) -> HostPort:
        return check_node(self.endpoint, node)

    def _start_others(self, boot: str, positions: Mapping[str, Position | None],
                      statuses: Mapping[str, NodeView]
                      ) -> Generator[StepEvent, None, bool]:
        """Start every node but `boot`, one at a time; False when one did not get Synced."""
        for node in self.nodes:
            if node == boot:
                continue
            s = f"start {node}"
            if _synced(statuses.get(node)):
                yield StepEvent("skipped", s, "already Synced")
                continue
            if self.control.is_running(node):
                yield StepEvent("started", s, "already running: waiting for Synced")
            else:
                pos = positions.get(node)
                args = [f"--wsrep-start-position={pos}"] if pos else []
                yield StepEvent("started", s, " ".join(args) or "no position: full SST")
                try:
                    self.control.start(node, args)
                except GaleraControlError as exc:
                    yield StepEvent("failed", s, str(exc))
                    return False
            ok, message = wait_synced(self.endpoint, self.control, self._hp(node),
                                      self.patience)
            yield StepEvent("done" if ok else "failed", s, message)
            if not ok:
                return False
        return True

    def _settle(self, boot: str) -> Iterator[StepEvent]:
        # The bootstrap node first: its flag is the one that must not outlive the recovery.
        for node in [boot, *(n for n in self.nodes if n != boot)]:
            if not (yield from settle_node(self.endpoint, self.control, self._hp(node),
                                           self.patience)):
                return

    def verify(self) -> Verdict:
        uuid = self.uuid_before or (self._load_journal() or {}).get("uuid")
        verdict = _cluster_verdict(self.endpoint, uuid)
        if verdict.ok:
            self.journal.unlink(missing_ok=True)
        return verdict


# ---------------------------------------------------------------- one node
class GaleraRejoin:
    """Start one stopped node and wait until it is Synced (IST when it can)."""

    name = "galera-rejoin"
    title = "Galera: rejoin a node"
    destructive = False

    def __init__(self, farm: Farm, control: GaleraControl, node: str,
                 patience: Patience = SYNC_PATIENCE):
        self.endpoint = galera_endpoint(farm)
        self.node = check_node(self.endpoint, node)
        self.control = control
        self.patience = patience

    def describe(self) -> Mapping[str, Any]:
        return {"node": self.node.name}

    @_refused_on_control_errors
    def plan(self) -> list[Step]:
        problems = credential_problems(all_status(self.endpoint))
        if problems:
            raise ActionError(refusal(self.name, problems))
        n = self.node.name
        start = ("it runs already: nothing to start" if self.control.is_running(n) else
                 "with --wsrep-start-position when known (IST)")
        return [
            Step("check: another node is Primary", "else this is a full crash: galera recover"),
            Step(f"recover position {n}", "only if its grastate.dat says seqno -1"),
            Step(f"start {n}", start),
            Step(f"wait until {n} is Synced"),
            Step(f"settle {n}", "undo the start position where the node control set it "
                 "(Swarm: the stack's spec back, one restart, IST)"),
        ]

    def run(self) -> Iterator[StepEvent]:
        n = self.node.name
        statuses = all_status(self.endpoint)
        problems = credential_problems(statuses)
        if problems:  # which node is Primary, and whether n runs, would be guesses
            yield StepEvent("failed", "check: another node is Primary",
                            refusal(self.name, problems))
            return
        if _synced(statuses.get(n)):
            yield StepEvent("skipped", f"start {n}", "already Synced")
            # A re-run after a settle that failed: settle again.
            yield from settle_node(self.endpoint, self.control, self.node, self.patience)
            return
        s = "check: another node is Primary"
        yield StepEvent("started", s)
        primary = [m for m, st in statuses.items()
                   if m != n and st and st.get("wsrep_cluster_status") == "Primary"]
        if not primary:
            yield StepEvent("failed", s, "no other node is Primary: this is a full crash; run "
                            "`wpfarm galera recover`")
            return
        yield StepEvent("done", s, ", ".join(primary))
        args: list[str] = []
        if not self.control.is_running(n):
            try:
                state = self.control.grastate(n)
            except GaleraControlError as exc:
                yield StepEvent("failed", f"read grastate {n}", str(exc))
                return
            if state is not None and state.seqno == -1:
                s = f"recover position {n}"
                yield StepEvent("started", s, "mariadbd --wsrep-recover")
                try:
                    pos = self.control.recover_position(n)
                except GaleraControlError as exc:
                    yield StepEvent("failed", s, f"{exc}; see {self.control.log_hint(n)}")
                    return
                yield StepEvent("done", s, str(pos) if pos else "none found: full SST")
                if pos:
                    args = [f"--wsrep-start-position={pos}"]
            yield StepEvent("started", f"start {n}", " ".join(args))
            try:
                self.control.start(n, args)
            except GaleraControlError as exc:
                yield StepEvent("failed", f"start {n}", str(exc))
                return
            yield StepEvent("done", f"start {n}")
        s = f"wait until {n} is Synced"
        yield StepEvent("started", s)
        ok, message = wait_synced(self.endpoint, self.control, self.node, self.patience)
        yield StepEvent("done" if ok else "failed", s, message)
        if ok:
            yield from settle_node(self.endpoint, self.control, self.node, self.patience)

    def verify(self) -> Verdict:
        status = node_status(self.endpoint, self.node)
        if _synced(status):
            return Verdict(True, f"{self.node.name} is Synced, cluster size "
                                 f"{shown(status.get('wsrep_cluster_size'))}")
        state = status.get("wsrep_local_state_comment") or f"not answering ({status.why()})"
        return Verdict(False, f"{self.node.name} is {state}")


class GaleraDesync:
    """`SET GLOBAL wsrep_desync=ON|OFF` on one node (maintenance without flow control)."""

    destructive = False

    def __init__(self, farm: Farm, node: str, on: bool, timeout: float = 30.0):
        self.endpoint = galera_endpoint(farm)
        self.node = check_node(self.endpoint, node)
        self.on = on
        self.timeout = timeout
        self.name = "galera-desync" if on else "galera-resync"
        self.title = f"Galera: {'desync' if on else 'resync'} a node"

    def describe(self) -> Mapping[str, Any]:
        return {"node": self.node.name, "desync": self.on}

    def plan(self) -> list[Step]:
        problems = credential_problems({self.node.name: node_status(self.endpoint, self.node)})
        if problems:
            raise ActionError(refusal(self.name, problems))
        value = "ON" if self.on else "OFF"
        then = "Donor/Desynced" if self.on else "Synced"
        return [Step(f"SET GLOBAL wsrep_desync={value} on {self.node.name}"),
                Step(f"wait until {self.node.name} is {then}")]

    def run(self) -> Iterator[StepEvent]:
        value = "ON" if self.on else "OFF"
        s = f"SET GLOBAL wsrep_desync={value} on {self.node.name}"
        status = node_status(self.endpoint, self.node)
        if status.denied:
            yield StepEvent("failed", s, refusal(self.name, [(self.node.name, status.why())]))
            return
        if not status.answered:
            yield StepEvent("failed", s, f"{self.node.name} does not answer over SQL "
                            f"({status.why()})")
            return
        if status.get("wsrep_desync") == value:
            yield StepEvent("skipped", s, f"wsrep_desync is already {value}")
        else:
            yield StepEvent("started", s)
            conn = connect(self.endpoint, self.node)
            try:
                with conn.cursor() as cur:
                    cur.execute(f"SET GLOBAL wsrep_desync={value}")
            finally:
                conn.close()
            yield StepEvent("done", s)
        want = "Donor/Desynced" if self.on else "Synced"
        s = f"wait until {self.node.name} is {want}"
        yield StepEvent("started", s)
        deadline = time.monotonic() + self.timeout
        state = None
        while time.monotonic() < deadline:
            state = (node_status(self.endpoint, self.node) or {}).get("wsrep_local_state_comment")
            if state == want:
                yield StepEvent("done", s)
                return
            time.sleep(POLL)
        yield StepEvent("failed", s, f"still {shown(state, 'not answering')} after "
                        f"{duration_text(self.timeout)}")

    def verify(self) -> Verdict:
        status = node_status(self.endpoint, self.node) or {}
        value = "ON" if self.on else "OFF"
        ok = status.get("wsrep_desync") == value
        if not status:
            return Verdict(False, f"{self.node.name}: not answering")
        return Verdict(ok, f"{self.node.name}: wsrep_desync="
                           f"{shown(status.get('wsrep_desync'))}, "
                           f"{shown(status.get('wsrep_local_state_comment'), 'state unknown')}")
