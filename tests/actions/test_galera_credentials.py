"""A wrong Galera password on the lab's real, healthy cluster (issue #19, item 3).

"Access denied" is its own state: the procedures' view (node_status), the Galera pane's
snapshot and the alerts say so, never "down"; no alert proposes a recovery; and every
Galera procedure refuses, in plan() and again in run(), naming the node, the reason and
the fix.

The Galera node control here is a fake that only records calls: the recovery's decision
is what is under test, and a wrong one must not stop the shared lab. The SQL side is the
lab's real mariadbd nodes, read with a password they refuse.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from wpfarm_tui.actions import ActionError, AuditLog, StepEvent, execute
from wpfarm_tui.actions.galera import (
    GaleraDesync,
    GaleraRecover,
    GaleraRejoin,
    all_status,
    node_status,
)
from wpfarm_tui.farm.galera_control import GraState, Position
from wpfarm_tui.inventory import Farm, load_farm
from wpfarm_tui.status.alerts import alerts_from
from wpfarm_tui.status.galera import GaleraCollector

pytestmark = pytest.mark.lab

NODES = ("galera-1", "galera-2", "galera-3")
# What changes a node; reads (grastate, is_running, log_hint) are fine.
CHANGES = {"stop", "start", "set_safe_to_bootstrap", "recover_position", "settle"}


class RecordingControl:
    """Answers like the control of a cluster whose nodes all run; records every call and
    changes nothing."""

    def __init__(self, running: set[str] | None = None):
        self.running = set(NODES) if running is None else running
        self.calls: list[tuple[str, str]] = []

    def grastate(self, node: str) -> GraState | None:
        self.calls.append(("grastate", node))
        return GraState("00000000-0000-0000-0000-000000000000", -1, False)

    def recover_position(self, node: str) -> Position | None:
        self.calls.append(("recover_position", node))
        return None

    def set_safe_to_bootstrap(self, node: str) -> None:
        self.calls.append(("set_safe_to_bootstrap", node))

    def start(self, node: str, extra_args: list[str]) -> None:
        self.calls.append(("start", node))

    def stop(self, node: str, hard: bool = False) -> None:
        self.calls.append(("stop", node))

    def is_running(self, node: str) -> bool:
        self.calls.append(("is_running", node))
        return node in self.running

    def settle(self, node: str) -> bool:
        self.calls.append(("settle", node))
        return False

    def log_hint(self, node: str) -> str:
        return f"(the recording control has no log for {node})"

    def changes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] in CHANGES]


def _farm_copy(lab, tmp_path: Path, galera: dict | None = None, password: str | None = None
               ) -> Farm:
    """The lab's farm.yaml, copied, with its Galera password reference pointing at a file
    that holds `password`, and/or other Galera endpoint fields."""
    data = yaml.safe_load(Path(lab.farm_file).read_text())
    if password is not None:
        secret = tmp_path / "wrong_galera_password"
        secret.write_text(password + "\n")
        data["endpoints"]["galera"]["password"] = {"file": str(secret)}
    data["endpoints"]["galera"].update(galera or {})
    farm_file = tmp_path / "farm.yaml"
    farm_file.write_text(yaml.safe_dump(data))
    return load_farm(farm_file)


@pytest.fixture
def healthy(lab_farm):
    """The lab's cluster as the right password sees it: three Synced, Primary nodes."""
    views = all_status(lab_farm.endpoints.galera)
    assert all(v.get("wsrep_local_state_comment") == "Synced" and
               v.get("wsrep_cluster_status") == "Primary" for v in views.values()), views
    return lab_farm


@pytest.fixture
def wrong(lab, healthy, tmp_path) -> Farm:
    return _farm_copy(lab, tmp_path, password="not-the-galera-password")


def _refusal(message: str, node: str = "galera-1") -> None:
    """A refusal names the node, the reason and the fix."""
    assert node in message, message
    assert "credentials refused" in message and "Access denied" in message, message
    assert "endpoints.galera.password" in message and "farm.yaml" in message, message


def _refused_at_the_start(run) -> StepEvent:
    """run() refuses at its first check: one step, started (or not) then failed, nothing
    else happened."""
    events = list(run)
    assert events and events[-1].kind == "failed", events
    assert {e.step for e in events} == {events[-1].step}, events
    assert [e.kind for e in events] in (["failed"], ["started", "failed"]), events
    return events[-1]


# ---------------------------------------------------------------- what the farm looks like
def test_node_status_says_access_denied_not_down(wrong):
    endpoint = wrong.endpoints.galera
    view = node_status(endpoint, endpoint.nodes[0])
    assert view.state == "denied" and not view.answered
    assert "Access denied" in (view.error or "")
    assert view.state != "down"
    assert {v.state for v in all_status(endpoint).values()} == {"denied"}


def test_pane_and_alerts_say_credentials_refused_and_propose_no_recovery(wrong):
    snap = GaleraCollector(wrong.endpoints.galera, dict(wrong.thresholds)).collect()
    assert [s.state for s in snap.sources] == ["denied"] * 3, snap.sources
    assert [n.health for n in snap.nodes] == ["denied"] * 3
    assert all(n.denied and "Access denied" in (n.error or "") for n in snap.nodes)
    assert snap.cluster_status == "unknown"  # not "down": the nodes answered
    alerts = [a for a in alerts_from({"galera": snap}) if a.pane == "galera"]
    assert {a.subject for a in alerts} == set(NODES)
    for a in alerts:
        assert a.procedure is None, a  # never galera-recover, nor a rejoin
        assert a.message.startswith("credentials refused"), a.message
        assert "check the password reference for galera" in a.message
        assert "endpoints.galera.password" in a.message and "farm.yaml" in a.message


async def test_galera_pane_shows_denied_and_the_fix(wrong):
    """The pane, fed the real collector's snapshot: Reach says denied, the summary names
    the nodes and the fix."""
    from textual.widgets import Static

    from tests.ui.fixtures import make_app
    from wpfarm_tui.widgets.keyed_table import KeyedTable

    snap = GaleraCollector(wrong.endpoints.galera, dict(wrong.thresholds)).collect()
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        app.console_screen.apply_snapshot("galera", snap)
        await pilot.pause()
        table = app.query_one("#galera-table", KeyedTable)
        assert [table.get_cell(n, "reachable").plain for n in NODES] == ["denied"] * 3
        summary = str(app.query_one("#galera-summary", Static).render())
        assert "Cluster unknown" in summary and "down" not in summary
        assert "credentials refused by galera-1, galera-2, galera-3" in summary
        assert "endpoints.galera.password" in summary


# ---------------------------------------------------------------- procedures refuse
def test_recovery_refuses_in_plan_and_run_and_stops_nothing(wrong, tmp_path):
    control = RecordingControl()
    action = GaleraRecover(wrong, control, journal=tmp_path / "journal.json")
    with pytest.raises(ActionError) as refused:
        action.plan()
    for node in NODES:
        _refusal(str(refused.value), node)
    with pytest.raises(ActionError):  # dry run = the plan: it shows the refusal
        list(execute(action, audit=AuditLog(), dry_run=True))

    failed = _refused_at_the_start(action.run())
    for node in NODES:
        _refusal(failed.message, node)
    assert control.changes() == [], control.calls
    assert not (tmp_path / "journal.json").exists()


def test_rejoin_and_desync_refuse_and_change_nothing(wrong):
    control = RecordingControl(running={"galera-1", "galera-2"})
    rejoin = GaleraRejoin(wrong, control, "galera-3")
    with pytest.raises(ActionError) as refused:
        rejoin.plan()
    _refusal(str(refused.value))
    failed = _refused_at_the_start(rejoin.run())
    assert "galera recover" not in failed.message  # not a full crash: a password problem
    _refusal(failed.message)
    assert control.changes() == [], control.calls

    for on in (True, False):
        desync = GaleraDesync(wrong, "galera-2", on=on)
        with pytest.raises(ActionError) as refused:
            desync.plan()
        _refusal(str(refused.value), "galera-2")
        _refusal(_refused_at_the_start(desync.run()).message, "galera-2")


class RecordingRuntime:
    """A site runtime that only records calls: a delete must not reach the lab's sites."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        def record(*_args, **_kwargs):
            self.calls.append(name)
            return False
        return record


def test_site_delete_and_restore_refuse_with_the_fix(wrong):
    """Their view is the site registry on Galera: unreadable, nothing is decided from it."""
    from wpfarm_tui.actions.restore import RestoreAction
    from wpfarm_tui.actions.site import DeleteSite

    runtime = RecordingRuntime()
    delete = DeleteSite(wrong, runtime, "site1.test")  # type: ignore[arg-type]
    with pytest.raises(ActionError) as refused:
        delete.plan()
    _refusal(str(refused.value), "site registry")
    _refusal(_refused_at_the_start(delete.run()).message, "site registry")
    assert runtime.calls == []

    with pytest.raises(ActionError) as refused:
        RestoreAction(wrong, "site1.test").plan()
    _refusal(str(refused.value), "site registry")


# ---------------------------------------------------------------- the guard is not too wide
def test_right_password_recovery_still_plans_and_refuses_only_for_primary(healthy, tmp_path):
    control = RecordingControl()
    action = GaleraRecover(healthy, control, journal=tmp_path / "journal.json")
    assert action.plan()  # no refusal: every node answers
    events: list[StepEvent] = list(action.run())
    failed = [e for e in events if e.kind == "failed"]
    assert failed and "still report(s) Primary" in failed[0].message
    assert control.changes() == [], control.calls


def _hung_port() -> socket.socket:
    """A port that accepts TCP and then says nothing: a hung or far-away mariadbd."""
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)
    return hung


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when we leave: connections are refused


def test_recovery_refuses_a_node_it_cannot_see_that_runs(lab, tmp_path):
    """A timeout is not "down": a node that runs but does not answer in time may be the
    healthy Primary; the recovery must not stop the others' cluster it cannot see."""
    hung = _hung_port()
    try:
        port = hung.getsockname()[1]
        nodes = [{"name": n, "host": "127.0.0.1", "port": port} for n in NODES]
        farm = _farm_copy(lab, tmp_path, galera={"nodes": nodes, "timeout": 0.5})
        control = RecordingControl()
        action = GaleraRecover(farm, control, journal=tmp_path / "journal.json")
        with pytest.raises(ActionError) as refused:
            action.plan()
        assert "galera-2" in str(refused.value) and "timeout" in str(refused.value)
        assert "the node control says it runs" in str(refused.value)
        failed = _refused_at_the_start(action.run())
        assert "timeout" in failed.message
        assert control.changes() == [], control.calls

        # The same silence from nodes whose process the control says is gone: down.
        control = RecordingControl(running=set())
        action = GaleraRecover(farm, control, journal=tmp_path / "journal.json")
        assert action.plan()
    finally:
        hung.close()


def test_recovery_of_nodes_that_refuse_connections_is_not_refused(lab, tmp_path):
    """Connection refused = nothing listens: down, the full-crash case the recovery is for."""
    nodes = [{"name": n, "host": "127.0.0.1", "port": _closed_port()} for n in NODES]
    farm = _farm_copy(lab, tmp_path, galera={"nodes": nodes})
    action = GaleraRecover(farm, RecordingControl(running=set()),
                           journal=tmp_path / "journal.json")
    steps = action.plan()
    assert steps[0].name == "check: no node reports Primary"
    assert {v.state for v in all_status(farm.endpoints.galera).values()} == {"down"}
