"""Bad inputs give an ActionError naming the field and the fix (no servers needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wpfarm_tui.actions import ActionError
from wpfarm_tui.actions.cache import CachePurge
from wpfarm_tui.actions.crowdsec import BanAction, parse_duration, parse_target
from wpfarm_tui.actions.galera import GaleraDesync
from wpfarm_tui.actions.maintenance import Maintenance
from wpfarm_tui.farm.galera_control import GraState, parse_recovered, set_safe_to_bootstrap_text
from wpfarm_tui.inventory import (
    CrowdSecEndpoint,
    Endpoints,
    Farm,
    GaleraEndpoint,
    HostPort,
    Node,
    RefreshSettings,
    SitesSettings,
    SshSettings,
)
from wpfarm_tui.secrets import Secret

FARM = Farm(
    name="t", domain="t.example.org", profile="small",
    nodes=(Node("db1", "10.1.0.5", SshSettings(), frozenset({"db"})),),
    endpoints=Endpoints(galera=GaleraEndpoint("u", None, (
        HostPort("galera-1", "10.1.0.5", 3306), HostPort("galera-2", "10.1.0.6", 3306))),
        crowdsec=CrowdSecEndpoint("http://127.0.0.1:9", Secret("env", "NO_SUCH_KEY"))),
    sites=SitesSettings(), refresh=RefreshSettings(),
)


@pytest.mark.parametrize(("value", "words"), [
    ("999.1.2.3", "neither an IP address nor a CIDR"),
    ("not-an-ip", "neither an IP address nor a CIDR"),
    ("203.0.113.7/24", "host bits set; the range is 203.0.113.0/24"),
    ("0.0.0.0/0", "whole Internet"),
    ("::/0", "whole Internet"),
    ("127.0.0.1", "loopback"),
    ("10.1.0.0/16", "farm's own node db1"),
    ("10.1.0.5", "farm's own node db1"),
    ("203.0.113.0/33", "not a valid CIDR"),
])
def test_bad_targets(value, words):
    with pytest.raises(ActionError) as err:
        parse_target(value, FARM)
    assert words in str(err.value)
    assert str(err.value).startswith("ip: ")


def test_good_targets():
    assert parse_target("203.0.113.7", FARM) == ("203.0.113.7", "Ip")
    assert parse_target("203.0.113.0/24", FARM) == ("203.0.113.0/24", "Range")
    assert parse_target("203.0.113.9/32", FARM) == ("203.0.113.9", "Ip")
    assert parse_target("2001:db8::/48", FARM) == ("2001:db8::/48", "Range")


@pytest.mark.parametrize("value", ["4", "4 hours", "-1h", "0h", "4w", "", "400d"])
def test_bad_durations(value):
    with pytest.raises(ActionError, match="^duration: "):
        parse_duration(value)


def test_durations():
    assert [parse_duration(v) for v in ("30m", "4h", "7d", "90s")] == ["30m", "4h", "168h",
                                                                        "90s"]


def test_unknown_galera_node():
    with pytest.raises(ActionError, match="unknown Galera node 'galera-9'.*galera-1, galera-2"):
        GaleraDesync(FARM, "galera-9", on=True)


def test_ban_needs_reason_and_credentials(tmp_path: Path):
    with pytest.raises(ActionError, match="^reason: "):
        BanAction(FARM, "203.0.113.7", reason="  ", credentials=tmp_path)
    with pytest.raises(ActionError, match="machine credentials: none given.*--machine-cred"):
        BanAction(FARM, "203.0.113.7", reason="x")


def test_bad_domains(tmp_path: Path):
    for bad in ("site1", "a b.test", 'x.test" || obj.status', "../etc.test/x"):
        with pytest.raises(ActionError, match="^domain: "):
            CachePurge(FARM, bad)
        with pytest.raises(ActionError, match="^domain: "):
            Maintenance(FARM, bad, on=True, flag_dir=tmp_path)


def test_galera_control_parsing():
    log = "x\n2026 [Note] WSREP: Recovered position: e70c36d6-e9a4-11f1-bfaa-5ecfb23f02f2:678\n"
    pos = parse_recovered(log)
    assert pos and pos.seqno == 678 and str(pos).startswith("e70c36d6")
    assert parse_recovered("nothing") is None
    text = "# GALERA saved state\nversion: 2.1\nuuid: abc\nseqno:   -1\nsafe_to_bootstrap: 0\n"
    assert GraState.parse(text) == GraState("abc", -1, False)
    assert GraState.parse(set_safe_to_bootstrap_text(text)).safe_to_bootstrap
