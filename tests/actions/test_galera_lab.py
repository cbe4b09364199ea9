"""Galera procedures against the lab's three real mariadbd nodes.

Each test leaves the lab up (`lab.up()` in finally): it is idempotent and restarts what is
missing, so a failure here never leaves the other engineers' lab half down.
"""

from __future__ import annotations

import contextlib
import time

import pymysql
import pytest

from wpfarm_tui.actions import AuditLog, StepEvent, Verdict, execute
from wpfarm_tui.actions.galera import GaleraDesync, GaleraRecover, GaleraRejoin, all_status
from wpfarm_tui.farm.galera import connect
from wpfarm_tui.farm.galera_control import LabGaleraControl

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
