"""Bad inputs give an ActionError naming the field and the fix (no servers needed)."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import pytest

from wpfarm_tui.actions import ActionError
from wpfarm_tui.actions.backup import BackupAction
from wpfarm_tui.actions.cache import CachePurge
from wpfarm_tui.actions.crowdsec import BanAction, parse_duration, parse_target
from wpfarm_tui.actions.galera import GaleraDesync
from wpfarm_tui.actions.maintenance import Maintenance
from wpfarm_tui.actions.restore import RestoreAction
from wpfarm_tui.actions.site import CreateSite, DeleteSite, SuspendSite
from wpfarm_tui.commands.runner import seconds, whole
from wpfarm_tui.farm.galera_control import GraState, parse_recovered, set_safe_to_bootstrap_text
from wpfarm_tui.inventory import (
    BackupSettings,
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
from wpfarm_tui.sites.naming import DomainError, validate_domain
from wpfarm_tui.sites.registry import Registry
from wpfarm_tui.sites.swarm_runtime import SwarmRuntimeError, SwarmSiteRuntime, domain_words

FARM = Farm(
    name="t", domain="t.example.org", profile="small",
    nodes=(Node("db1", "10.1.0.5", SshSettings(), frozenset({"db"})),),
    endpoints=Endpoints(galera=GaleraEndpoint("u", None, (
        HostPort("galera-1", "10.1.0.5", 3306), HostPort("galera-2", "10.1.0.6", 3306))),
        crowdsec=CrowdSecEndpoint("http://127.0.0.1:9", Secret("env", "NO_SUCH_KEY"))),
    sites=SitesSettings(), refresh=RefreshSettings(),
)
BACKUP_FARM = dataclasses.replace(FARM, backup=BackupSettings("/nonexistent/repo",
                                                              Secret("env", "NO_SUCH_PW")))


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


# ---- issue #19 item 6: smaller input gaps ------------------------------------------------
@pytest.mark.parametrize(("value", "words"), [
    ("::ffff:127.0.0.1", "carries 127.0.0.1/32) covers a loopback"),      # IPv4-mapped
    ("64:ff9b::7f00:1", "carries 127.0.0.1/32) covers a loopback"),       # NAT64
    ("2002:7f00:1::1", "carries 127.0.0.1/32) covers a loopback"),        # 6to4
    ("::127.0.0.1", "carries 127.0.0.1/32) covers a loopback"),           # IPv4-compatible
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "carries 127.0.0.1/32"),     # Teredo client
    ("::ffff:127.0.0.0/104", "carries 127.0.0.0/8"), ("64:ff9b::/64", "carries 0.0.0.0/0"),
    ("::ffff:10.1.0.5", "farm's own node db1"), ("64:ff9b::a01:5", "farm's own node db1"),
    ("2002:a01:5::/48", "farm's own node db1"),
    ("::1", "loopback"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("::ffff:169.254.1.1", "link-local"),
    ("fe80::1%eth0", "neither an IP address"), ("\uff11.2.3.4", "neither an IP address"),
    ("128.0.0.0/1", "broadest range a ban may cover is /16 for IPv4 and /48 for IPv6"),
    ("10.0.0.0/15", "/16 for IPv4"), ("2001:db8::/47", "/48 for IPv6"),
])
def test_ban_refuses_what_would_hurt_the_farm_in_any_form(value, words):
    with pytest.raises(ActionError) as err:
        parse_target(value, FARM)
    assert words in str(err.value) and str(err.value).startswith("ip: ")


def test_ban_accepts_ordinary_clients_in_every_form():
    assert parse_target("::ffff:203.0.113.7", FARM)[1] == "Ip"
    assert parse_target("64:ff9b::cb00:7100/120", FARM) == ("64:ff9b::cb00:7100/120", "Range")
    assert parse_target("10.0.0.0/16", FARM) == ("10.0.0.0/16", "Range")


@pytest.mark.parametrize("value", ["\uff14h", "\u0664h", "\u0b68m", "4\u200bh", "1" * 12 + "s"])
def test_durations_are_ascii_digits_only(value):
    with pytest.raises(ActionError, match="^duration: "):
        parse_duration(value)


@pytest.mark.parametrize("bad", ["1.2.3.4", "a.123", "xn--a.com", "a\u200b.com",
                                 "p\u0430ypal.com", "\uff41.com"])
def test_every_verb_uses_the_one_domain_validator(bad, tmp_path: Path):
    """cache purge and maintenance refuse what site create refuses (they had a looser
    regex of their own)."""
    with pytest.raises(DomainError) as expected:
        validate_domain(bad)
    for build in (lambda: CachePurge(FARM, bad),
                  lambda: Maintenance(FARM, bad, on=True, flag_dir=tmp_path),
                  lambda: CreateSite(FARM, None, bad),  # type: ignore[arg-type]
                  lambda: DeleteSite(FARM, None, bad),  # type: ignore[arg-type]
                  lambda: SuspendSite(FARM, bad, suspend=True, flag_dir=tmp_path),
                  lambda: RestoreAction(BACKUP_FARM, bad),
                  lambda: BackupAction(BACKUP_FARM, [bad])):
        with pytest.raises(ActionError) as err:
            build()
        assert str(err.value) == str(expected.value)


def test_an_idn_site_is_shown_and_confirmed_never_silent():
    action = CreateSite(FARM, None, "b\u00fccher.example.org")  # type: ignore[arg-type]
    assert action.names.domain == "xn--bcher-kva.example.org"
    assert action.destructive  # so the CLI asks (or takes --yes) and the dialog focuses Cancel
    first = action.plan()[0]
    assert "b\u00fccher.example.org will be registered as xn--bcher-kva.example.org" \
        in first.detail and first.destructive
    assert action.describe()["typed"] == "b\u00fccher.example.org"
    plain = CreateSite(FARM, None, "plain.example.org")  # type: ignore[arg-type]
    assert not plain.destructive and "registered as" not in plain.plan()[0].detail


class _Rows:
    """The registry's database, faked: these tests are about what the code builds from a
    tampered row, and no real registry should hold one (the lab's is shared)."""

    def __init__(self, rows, others=()):
        self.rows, self.others, self.statements = rows, list(others), []

    def query(self, sql, args=None):
        self.statements.append(sql)
        if sql.startswith("SELECT domain FROM wpfarm.sites WHERE (db_name"):
            return self.others
        return self.rows if sql.startswith("SELECT") else []


def _row(domain, db_name, db_user):
    return (domain, "", db_name, db_user, "active", None, "256M", "")


@pytest.mark.parametrize(("db_name", "db_user", "others", "words"), [
    ("mysql", "wp_a", (), "database name 'mysql' is not a site database name"),
    ("wp_a`; DROP DATABASE wpfarm; -- ", "wp_a", (), "is not a site database name"),
    ("wp_a", "root", (), "database user 'root' is not a site database user"),
    ("wp_site1", "wp_site1", [("site1.test",)], "also registered to site1.test"),
])
def test_delete_site_checks_the_rows_names_before_drop(db_name, db_user, others, words):
    action = DeleteSite(FARM, None, "victim.example.org")  # type: ignore[arg-type]
    fake = _Rows([_row("victim.example.org", db_name, db_user)], others)
    action.registry.db = fake  # type: ignore[assignment]
    with pytest.raises(ActionError, match=re.escape(words)):
        action.plan()
    events = list(action.run())
    assert [e.kind for e in events] == ["failed"] and words in events[0].message
    assert not [s for s in fake.statements if s.startswith(("DROP", "UPDATE", "DELETE"))]


def test_registry_reports_invalid_rows_and_does_not_list_them():
    registry = Registry(FARM.endpoints.galera, db=_Rows([  # type: ignore[arg-type]
        _row("good.example.org", "wp_good", "wp_good"),
        _row("a b.example.org", "wp_x", "wp_x"), _row("*", "wp_y", "wp_y"),
        _row("Upper.Example.org", "wp_z", "wp_z"), _row("ok.example.org", "mysql", "wp_o")]))
    assert [r.domain for r in registry.list()] == ["good.example.org"]
    assert len(registry.invalid) == 4
    assert all(p.startswith("wpfarm.sites row ") and "Fix:" in p for p in registry.invalid)
    assert "'mysql' is not a site database name" in registry.invalid[3]


def test_shell_loops_get_only_valid_domains():
    assert domain_words(["a.example.org", "b.example.org"]) == "a.example.org b.example.org"
    for bad in ("*", "a.example.org b", "-rf.example.org", "$(reboot).example.org", "A.ORG"):
        with pytest.raises(SwarmRuntimeError, match="refusing to pass invalid domains"):
            domain_words(["ok.example.org", bad])


@pytest.mark.parametrize(("parse", "text"), [
    (seconds(60), "nan"), (seconds(60), "inf"), (seconds(60), "-1"), (seconds(60), "0"),
    (seconds(60), "1e3"), (seconds(60), "\u0664"), (seconds(60), "61"),
    (whole(1, 64), "0"), (whole(1, 64), "\u0664"), (whole(1, 64), "-3"), (whole(1, 64), "65")])
def test_numeric_options_are_plain_ascii_in_range(parse, text):
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(repr(text))):
        parse(text)
    assert seconds(60)("2.5") == 2.5 and whole(1, 64)("4") == 4


def test_cli_names_the_option_of_a_bad_time(capsys):
    parser = argparse.ArgumentParser(prog="wpfarm deploy")
    parser.add_argument("--timeout", type=seconds(600))
    with pytest.raises(SystemExit):
        parser.parse_args(["--timeout", "nan"])
    assert "argument --timeout: 'nan' is not a number of seconds" in capsys.readouterr().err


def test_swarm_jobs_refuse_invalid_domains_before_running():
    """The jobs themselves need a Swarm; what matters here is what reaches their shell."""
    runtime = object.__new__(SwarmSiteRuntime)
    runtime.example_domain = "site1.test"
    scripts: list[tuple[str, dict]] = []
    runtime._media_job = lambda names, script, what, media=True, env=None, secrets=(): (  # type: ignore
        scripts.append((script, env or {})) or "changed 1\nbanned in 1 varnish")
    for call in (lambda d: runtime.set_maintenance_all(d, True), runtime.purge_all):
        with pytest.raises(SwarmRuntimeError):
            call(["ok.example.org", "*"])
        call(["ok.example.org"])
    assert not [s for s, env in scripts if "*" in env.get("DOMAINS", "")]
    assert all(s.startswith("set -f;") for s, _ in scripts) and len(scripts) == 2


def test_backup_and_restore_skip_invalid_registry_rows_loudly(monkeypatch):
    import wpfarm_tui.actions.backup as backup

    rows = [("good.example.org", "wp_good", "active"), ("../etc.example.org", "wp_x", "active"),
            ("evil.example.org", "wp_e`; DROP DATABASE wpfarm", "active")]

    class Conn:
        def __init__(self, endpoint):
            pass

        def query(self, sql, args=None):
            return rows

        def close(self):
            pass

    monkeypatch.setattr(backup, "GaleraConnections", Conn)
    problems: list[str] = []
    assert [s.domain for s in backup.registry_sites(BACKUP_FARM, None, problems)] == \
        ["good.example.org"]
    assert len(problems) == 2 and all("is not used" in p for p in problems)
    with pytest.raises(ActionError, match="'evil.example.org' is not used: database name"):
        backup.registry_sites(BACKUP_FARM, ["evil.example.org"])
    action = BackupAction(BACKUP_FARM, None)
    assert [s.name for s in action.plan()][:2] == ["skip invalid row"] * 2
