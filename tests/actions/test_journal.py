"""The incident journal: open / seen / clear lines beside the audit log, folded back into
records with the actions taken meanwhile; `wpfarm incidents`."""

from __future__ import annotations

import json
import time

from wpfarm_tui.actions.base import AuditLog
from wpfarm_tui.actions.journal import SEEN_EVERY_S, IncidentJournal
from wpfarm_tui.cli import main
from wpfarm_tui.status.incidents import Incident
from wpfarm_tui.status.thresholds import Level

T0 = 1_800_000_000.0


def incident(key: str = "varnish-down/varnish", level: Level = Level.CRITICAL) -> Incident:
    return Incident(key, key.split("/")[0], "Varnish down, 2 sites affected", level, T0, (),
                    None)


def _audit_at(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))


def test_open_seen_clear_and_the_actions_taken_meanwhile(tmp_path):
    audit = AuditLog(tmp_path / "audit.log")
    for t, action in ((T0 - 60, "before"), (T0 + 100, "cache-purge-all"),
                      (T0 + 500, "after")):
        audit.path.parent.mkdir(exist_ok=True)
        with audit.path.open("a") as f:
            f.write(json.dumps({"at": _audit_at(t), "who": "ops", "action": action,
                                "params": {}, "result": "ok"}) + "\n")
    journal = IncidentJournal(tmp_path / "incidents.jsonl", audit)
    journal.observe([incident()], T0)
    journal.observe([incident()], T0 + 30)  # not written: seen less than a minute ago
    journal.observe([incident()], T0 + SEEN_EVERY_S + 31)
    lines = [json.loads(x) for x in journal.path.read_text().splitlines()]
    assert [x["event"] for x in lines] == ["open", "seen"]
    # A fresh reader (another console, a CLI run) knows it is open, and clears it.
    IncidentJournal(journal.path, audit).observe([], T0 + 200)
    [rec] = journal.records(with_actions=True)
    assert (rec.first_seen, rec.last_seen, rec.cleared) == (T0, T0 + 91, T0 + 200)
    assert rec.as_json()["duration"] == "3m20s"
    assert [a["action"] for a in rec.actions] == ["cache-purge-all"]
    # --since: cleared before then, not listed.
    assert journal.records(since=T0 + 300) == []
    assert len(journal.records(since=T0 + 150)) == 1


def test_the_worst_level_seen_is_kept_and_a_cut_line_is_skipped(tmp_path):
    journal = IncidentJournal(tmp_path / "incidents.jsonl", AuditLog(tmp_path / "a.log"))
    journal.observe([incident(level=Level.WARNING)], T0)
    journal.observe([incident(level=Level.CRITICAL)], T0 + 61)
    with journal.path.open("a") as f:
        f.write('{"event": "clear", "key": "varn')  # a crash mid-line
    [rec] = journal.records()
    assert rec.level == "critical" and rec.cleared is None


def test_wpfarm_incidents_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WPFARM_AUDIT_LOG", str(tmp_path / "audit.log"))
    journal = IncidentJournal()
    assert journal.path == tmp_path / "incidents.jsonl"  # beside the audit log
    now = time.time()
    journal.observe([incident()], now - 7200)
    journal.observe([], now - 3600)
    journal.observe([incident("galera-node-down/galera-3")], now - 60)
    assert main(["incidents", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in out] == ["galera-node-down/galera-3", "varnish-down/varnish"]
    assert out[1]["duration"] == "1h" and out[0]["cleared"] is None
    assert main(["incidents", "--since", "30m", "--json"]) == 0
    assert [r["key"] for r in json.loads(capsys.readouterr().out)] == [
        "galera-node-down/galera-3"]
    assert main(["incidents", "--since", "yesterday"]) != 0
    assert "--since" in capsys.readouterr().err
