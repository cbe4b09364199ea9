"""Galera procedures against the lab's three real mariadbd nodes.

Each test leaves the lab up (`lab.up()` in finally): it is idempotent and restarts what is
missing, so a failure here never leaves the other engineers' lab half down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import pymysql
import pytest

from wpfarm_tui.actions import AuditLog, StepEvent, Verdict, execute
from wpfarm_tui.actions.galera import GaleraDesync, GaleraRecover, GaleraRejoin, all_status
from wpfarm_tui.farm.galera import connect
from wpfarm_tui.farm.galera_control import LabGaleraControl
from wpfarm_tui.waits import Patience

pytestmark = pytest.mark.lab


def _run(action, confirmed=True):
    items = list(execute(action, audit=AuditLog(), confirmed=confirmed))
    events = [i for i in items if isinstance(i, StepEvent)]
    verdict = next(i for i in items if isinstance(i, Verdict))
    return events, verdict


def _sql(farm, node_index, sql, args=None):
    endpoint = farm.endpoints.galera
    conn = connect(endpoint, endpoint.nodes[node_index])
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def _uuid(farm):
    return _sql(farm, 0, "SHOW STATUS LIKE 'wsrep_cluster_state_uuid'")[0][1]


def test_full_crash_recovery_keeps_rows_and_uuid(lab, lab_farm):
    control = LabGaleraControl(lab)
    try:
        _sql(lab_farm, 0, "CREATE DATABASE IF NOT EXISTS wpfarm_scratch")
        _sql(lab_farm, 0, "CREATE TABLE IF NOT EXISTS wpfarm_scratch.rows "
                          "(id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(40))")
        tag = f"crash-{time.time_ns()}"
        for i in range(3):  # writes through every node
            for _ in range(20):
                _sql(lab_farm, i, "INSERT INTO wpfarm_scratch.rows (tag) VALUES (%s)", (tag,))
        uuid = _uuid(lab_farm)
        for n in (1, 2, 3):
            lab.stop(f"galera-{n}", hard=True)  # kill -9 all three
        assert not any(s.answered for s in all_status(lab_farm.endpoints.galera).values())

        started = time.monotonic()
        events, verdict = _run(GaleraRecover(lab_farm, control))
        took = time.monotonic() - started
        print(f"\nfull-crash recovery took {took:.1f} s")
        for e in events:
            print(f"  [{e.kind}] {e.step} {e.message}")
        assert verdict.ok, verdict
        assert _uuid(lab_farm) == uuid
        for i in range(3):
            count = _sql(lab_farm, i, "SELECT COUNT(*) FROM wpfarm_scratch.rows WHERE tag=%s",
                         (tag,))[0][0]
            assert count == 60
        assert took <= 60  # goal 30 s on the lab; generous for a loaded CI machine
    finally:
        lab.up(progress=lambda _m: None)


def test_recovery_refused_while_a_node_is_primary(lab, lab_farm):
    control = LabGaleraControl(lab)
    try:
        lab.stop("galera-3", hard=True)
        before = {n: control.grastate(n) for n in ("galera-1", "galera-2", "galera-3")}
        events, verdict = _run(GaleraRecover(lab_farm, control))
        assert not verdict.ok
        failed = [e for e in events if e.kind == "failed"]
        assert failed and "still report(s) Primary" in failed[0].message
        assert "wpfarm galera rejoin galera-3" in failed[0].message
        assert not control.is_running("galera-3")  # nothing touched
        assert {n: control.grastate(n) for n in before} == before

        # ... and the single-node rejoin brings it back, by IST.
        events, verdict = _run(GaleraRejoin(lab_farm, control, "galera-3"))
        assert verdict.ok, (verdict, events)
    finally:
        lab.up(progress=lambda _m: None)


def test_desync_and_resync(lab, lab_farm):
    try:
        _, verdict = _run(GaleraDesync(lab_farm, "galera-2", on=True))
        assert verdict.ok, verdict
        state = all_status(lab_farm.endpoints.galera)["galera-2"]
        assert state["wsrep_local_state_comment"] == "Donor/Desynced"
        _, verdict = _run(GaleraDesync(lab_farm, "galera-2", on=False))
        assert verdict.ok, verdict
    finally:
        with contextlib.suppress(pymysql.MySQLError):
            _sql(lab_farm, 1, "SET GLOBAL wsrep_desync=OFF")
        lab.up(progress=lambda _m: None)


def _rsync_pids(path: str) -> list[int]:
    """The rsync processes (not the wsrep_sst_rsync script) whose arguments name path."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
                if Path(argv[0]).name == "rsync" and any(path in a for a in argv):
                    found.append(int(entry.name))
    return found


def _until_synced(lab_farm, node: str, limit: float = 90) -> None:
    deadline = time.monotonic() + limit
    while all_status(lab_farm.endpoints.galera)[node].get(
            "wsrep_local_state_comment") != "Synced":
        assert time.monotonic() < deadline, f"{node} not Synced again"
        time.sleep(0.5)


def test_a_joiner_that_stops_moving_is_reported_stuck_long_before_the_ceiling(
        lab, lab_farm, tmp_path):
    control = LabGaleraControl(lab)
    frozen = None
    try:
        lab.stop("galera-3", hard=True)
        action = GaleraRejoin(lab_farm, control, "galera-3",
                              patience=Patience(stall=4, ceiling=600))
        events, verdict, frozen_at = [], None, 0.0
        for item in execute(action, audit=AuditLog(tmp_path / "audit.log"), confirmed=True):
            if isinstance(item, StepEvent):
                events.append(item)
                if (item.step, item.kind) == ("start galera-3", "done"):
                    frozen = lab.galera_pid(3)
                    os.kill(frozen, signal.SIGSTOP)  # a hung joiner: alive, never moving
                    frozen_at = time.monotonic()
            elif isinstance(item, Verdict):
                verdict = item
        took = time.monotonic() - frozen_at
        failed = [e for e in events if e.kind == "failed"]
        print(f"\nstuck reported {took:.1f} s after the joiner froze: {failed[0].message}")
        assert not verdict.ok and frozen
        assert failed[0].step == "wait until galera-3 is Synced"
        assert failed[0].message.startswith("stuck: no progress for 4s"), failed[0].message
        assert "error.log" in failed[0].message  # where to read why
        assert took < 60  # the stall (4 s) and a poll, never the ceiling (600 s)
    finally:
        if frozen:
            os.kill(frozen, signal.SIGCONT)
            _until_synced(lab_farm, "galera-3")
        lab.up(progress=lambda _m: None)


def test_a_joiner_receiving_a_state_transfer_is_waited_for_past_the_stall(
        lab, lab_farm, tmp_path):
    """A full SST held up for three stalls (the joiner's rsync processes stopped while the
    donor sends): the joiner answers nothing meanwhile, but its donor says Donor/Desynced,
    and that is progress."""
    control = LabGaleraControl(lab)
    info = lab.galera_node(3)
    stall = 3.0
    paused: set[int] = set()
    donors: list[str] = []

    def hold_the_transfer() -> None:
        """Once the donor is sending (the joiner's rsync daemon has forked a child for its
        connection), stop the joiner's rsync processes for three stalls: the SST cannot
        finish meanwhile. Stopped earlier, it would hold the joiner before it asks for a
        transfer: a joiner that is stuck, not one that receives."""
        deadline = time.monotonic() + 30
        held_until = None
        while time.monotonic() < (held_until or deadline):
            rsyncs = _rsync_pids(str(info["dir"]))
            if held_until is None and len(rsyncs) >= 2:  # the daemon and a connection
                held_until = time.monotonic() + 3 * stall
            if held_until is not None:
                for pid in rsyncs:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGSTOP)
                        paused.add(pid)
            time.sleep(0.005)
        views = all_status(lab_farm.endpoints.galera)
        print(f"\nheld {sorted(paused)}: " + ", ".join(
            f"{n} {v.get('wsrep_local_state_comment') or v.why()}" for n, v in views.items()))
        donors.extend(n for n, v in views.items()
                      if v.get("wsrep_local_state_comment") == "Donor/Desynced")
        for pid in paused:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    holder = threading.Thread(target=hold_the_transfer, daemon=True)
    try:
        lab.stop("galera-3")
        Path(info["grastate"]).unlink()  # no state: it can only join by a full SST
        action = GaleraRejoin(lab_farm, control, "galera-3",
                              patience=Patience(stall=stall, ceiling=600))
        events: list[StepEvent] = []
        verdict = None
        for item in execute(action, audit=AuditLog(tmp_path / "audit.log"), confirmed=True):
            if isinstance(item, StepEvent):
                events.append(item)
                if (item.step, item.kind) == ("start galera-3", "started"):
                    holder.start()
            elif isinstance(item, Verdict):
                verdict = item
        holder.join()
        waited = next(e for e in events if e.step == "wait until galera-3 is Synced"
                      and e.kind in ("done", "failed"))
        print(f"\nSST held {3 * stall:.0f} s with a {stall:.0f} s stall: {waited.message}")
        assert paused, "no rsync connection to galera-3 seen: did it join by IST?"
        assert donors, "no donor while the SST was held"
        assert verdict.ok, (verdict, events)
        assert waited.kind == "done" and waited.message.startswith("Synced after")
        assert float(waited.message.split()[2]) > 3 * stall - 1  # it did wait the hold out
    finally:
        if holder.is_alive():
            holder.join()
        for pid in paused:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        lab.up(progress=lambda _m: None)
        _until_synced(lab_farm, "galera-3")


def test_a_plan_that_cannot_read_the_nodes_is_a_refusal_not_a_traceback(lab_farm):
    """The lab's Docker engine runs no Galera service: `galera recover` on it must say so
    (the CLI prints an ActionError as one line and exits 2)."""
    from wpfarm_tui.actions.base import ActionError
    from wpfarm_tui.farm.galera_swarm import SwarmGaleraControl

    farm = lab_farm
    control = SwarmGaleraControl(farm)
    try:
        for action in (GaleraRecover(farm, control), GaleraRejoin(farm, control, "galera-3")):
            with pytest.raises(ActionError, match=f"{action.name}: cannot read the Galera "
                                                  r"nodes: galera-\d: "):
                action.plan()
    finally:
        control.close()
