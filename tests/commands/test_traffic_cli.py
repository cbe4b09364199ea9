"""`wpfarm traffic`: the figures of lines appended to an access log while it samples, the
console's probes left out, one site's top lists; a farm without the log is told the field.

The log is a file this test writes in Traefik's format; the writer's liveness is asked of
the lab's real Traefik (/ping), so the lab must be up."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import yaml

from tests.needs import unavailable
from wpfarm_tui.cli import main
from wpfarm_tui.commands.runner import ExitCode

LAB_FARM = Path("/var/lib/wpfarm-lab/farm.yaml")


def _line(host: str, status: int, ms: float, cache: str, ua: str = "Mozilla/5.0",
          path: str = "/") -> str:
    return json.dumps({"ClientHost": "203.0.113.7", "DownstreamContentSize": 1000,
                       "DownstreamStatus": status, "Duration": int(ms * 1e6),
                       "RequestHost": host, "RequestPath": path, "entryPointName": "web",
                       "RouterName": f"{host.split('.')[0]}@file",
                       "downstream_X-Cache": cache, "request_User-Agent": ua}) + "\n"


def _farm(tmp_path: Path, access_log: str | None) -> Path:
    try:
        httpx.get("http://127.0.0.1:16101/ping", timeout=2).raise_for_status()
        doc = yaml.safe_load(LAB_FARM.read_text())
    except (httpx.HTTPError, OSError) as exc:
        unavailable(f"the lab's Traefik is not up: {exc}")
    doc["endpoints"]["traefik"].pop("access_log", None)
    if access_log:
        doc["endpoints"]["traefik"]["access_log"] = access_log
    path = tmp_path / "farm.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_traffic_json_counts_what_was_written(tmp_path, capsys):
    log = tmp_path / "access.log"
    log.write_text(_line("old.test", 500, 1, "MISS"))  # before the sample: not counted
    farm = _farm(tmp_path, str(log))

    def write() -> None:
        time.sleep(0.5)
        with log.open("a") as f:
            for i in range(100):
                f.write(_line("a.test", 503 if i < 10 else 200, 50 if i < 90 else 400,
                              "HIT" if i % 4 else "PASS", path=f"/p{i % 3}"))
            f.write(_line("a.test", 200, 5, "HIT", ua="wpfarm-probe/1"))
            f.write(_line("b.test", 404, 5, ""))

    writer = threading.Thread(target=write)
    writer.start()
    rc = main(["traffic", "--farm", str(farm), "--sample", "1.5", "--json"])
    writer.join()
    out = json.loads(capsys.readouterr().out)
    assert rc == ExitCode.CRITICAL  # 10 % 5xx: past error_rate's critical (5 %)
    assert out["level"] == "critical"
    assert out["source"]["state"] == "ok" and out["probes_excluded"] == 1
    a = out["sites"]["a.test"]["m1"]
    assert a["requests"] == 100 and a["s5_pct"] == 10.0 and a["pass_pct"] == 25.0
    assert 360 <= a["p95_ms"] <= 440 and 45 <= a["p50_ms"] <= 55
    assert out["sites"]["b.test"]["m1"]["s4_pct"] == 100.0
    assert "old.test" not in out["sites"]
    assert out["total"]["m1"]["requests"] == 101 and out["ttfb_p95_target_ms"] == 200


def test_traffic_one_site_shows_its_tops(tmp_path, capsys):
    log = tmp_path / "access.log"
    log.write_text("")
    farm = _farm(tmp_path, str(log))

    def write() -> None:
        time.sleep(0.5)
        with log.open("a") as f:
            f.writelines(_line("a.test", 200, 5, "HIT", path="/hot") for _ in range(5))
            f.write(_line("a.test", 404, 5, "MISS", path="/cold"))

    writer = threading.Thread(target=write)
    writer.start()
    rc = main(["traffic", "--farm", str(farm), "--sample", "1.5", "--site", "A.test"])
    writer.join()
    text = capsys.readouterr().out
    assert rc == ExitCode.OK
    assert "top URLs: /hot (5), /cold (1)" in text
    assert "top statuses: 200 (5), 404 (1)" in text
    assert "top clients: 203.0.113.7 (6)" in text


def test_traffic_without_the_access_log_names_the_field(tmp_path, capsys):
    farm = _farm(tmp_path, None)
    rc = main(["traffic", "--farm", str(farm), "--sample", "0.1"])
    assert rc == ExitCode.FAILED
    assert "endpoints.traefik.access_log: missing" in capsys.readouterr().err


def test_traffic_with_its_log_gone_is_down(tmp_path, capsys):
    farm = _farm(tmp_path, str(tmp_path / "nowhere.log"))
    rc = main(["traffic", "--farm", str(farm), "--sample", "0.5", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == ExitCode.FAILED
    assert out["source"]["state"] == "down" and "nowhere.log" in out["source"]["error"]
