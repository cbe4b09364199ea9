"""Varnish stopped on the real lab: the real collectors' alerts group into ONE incident,
"Varnish down, N sites affected", with every failing site under it and no "maintenance
off" anywhere; it clears when Varnish is back. Varnish is stopped for a few seconds only
(the one fault the brief lets a test cause on the shared lab; the others are built from
constructed snapshots in tests/status/test_incidents.py)."""

from __future__ import annotations

import json
import time

import pytest

from wpfarm_tui.actions.catalog import Context
from wpfarm_tui.cli import main
from wpfarm_tui.status.alerts import alerts_from
from wpfarm_tui.status.collectors import build_collectors, refresh_all
from wpfarm_tui.status.incidents import incidents_from, maintenance_flags
from wpfarm_tui.status.thresholds import Level

pytestmark = pytest.mark.lab


def _incidents(collectors, farm):
    snaps = refresh_all(collectors).snapshots
    flags = maintenance_flags(Context.for_farm(farm).maintenance_dir)
    return incidents_from(snaps, alerts_from(snaps), flags)


def test_varnish_down_is_one_incident_and_clears(lab, lab_farm):
    collectors = build_collectors(lab_farm)
    assert not [i for i in _incidents(collectors, lab_farm) if i.kind == "varnish-down"]
    lab.stop("varnish")
    try:
        deadline = time.monotonic() + 15
        while True:
            found = _incidents(collectors, lab_farm)
            varnish = [i for i in found if i.kind == "varnish-down"]
            if varnish or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(varnish) == 1, [(i.kind, i.cause) for i in found]
        inc = varnish[0]
        sites = {a.subject for a in inc.symptoms if a.pane == "sites"}
        assert sites and inc.cause == f"Varnish down, {len(sites)} sites affected" \
            or inc.cause == "Varnish down, 1 site affected"
        # Every failing site is under it, none elsewhere; nothing proposes maintenance off.
        assert not [i for i in found if i is not inc
                    and any(a.pane == "sites" and a.subject in sites for a in i.symptoms)]
        assert not [i for i in found if i.procedure == "maintenance-off"]
        assert inc.procedure is None and any("wpfarm lab up" in a for a in inc.advice)
    finally:
        lab.start("varnish", progress=lambda _m: None)
    deadline = time.monotonic() + 20
    while [i for i in _incidents(collectors, lab_farm) if i.kind == "varnish-down"]:
        assert time.monotonic() < deadline, "the incident did not clear with Varnish back"
        time.sleep(0.5)


def test_a_site_in_maintenance_is_one_incident_with_maintenance_off(lab, lab_farm, capsys):
    from wpfarm_tui.actions import AuditLog, execute
    from wpfarm_tui.actions.maintenance import Maintenance

    def run(on: bool) -> None:
        list(execute(Maintenance(lab_farm, "site2.test", on=on, flag_dir=lab.maintenance_dir),
                     audit=AuditLog()))

    collectors = build_collectors(lab_farm)
    run(True)
    try:
        found = _incidents(collectors, lab_farm)
        mine = [i for i in found if any(a.subject == "site2.test" for a in i.symptoms)]
        assert len(mine) == 1, [(i.kind, i.cause) for i in found]
        assert mine[0].kind == "site-maintenance"
        assert (mine[0].procedure, dict(mine[0].values)) == ("maintenance-off",
                                                             {"domain": "site2.test"})
        # `wpfarm alerts --json` says the same, with the command to run.
        assert main(["--farm", str(lab.farm_file), "alerts", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        mine = [i for i in out if any(a["subject"] == "site2.test" for a in i["symptoms"])]
        assert [(i["kind"], i["command"]) for i in mine] == [
            ("site-maintenance", ["wpfarm", "maintenance", "off", "site2.test"])]
    finally:
        run(False)
    found = _incidents(collectors, lab_farm)
    assert not [i for i in found if any(a.subject == "site2.test" and a.level == Level.CRITICAL
                                        for a in i.symptoms)]
