"""`wpfarm init` against a real sshd on loopback: host keys shown and trusted only
on request, a changed key refused, node facts read, farm.yaml written and loadable,
nothing written on any failure."""

from __future__ import annotations

import json

from tests.conftest import keygen
from wpfarm_tui.cli import main
from wpfarm_tui.farm import ssh
from wpfarm_tui.inventory import load_farm

PORT = 16222


def init_args(sshd, tmp_path, *extra: str) -> list[str]:
    return ["init", "--name", "stage", "--domain", "stage.example.com", "--profile", "small",
            "--node", f"node1=127.0.0.1:{PORT},key={sshd / 'client_key'},roles=manager+db+cache",
            "--output", str(tmp_path / "farm.yaml"),
            "--known-hosts", str(tmp_path / "known_hosts"), "--json", *extra]


def run(capsys, args: list[str]) -> tuple[int, dict]:
    rc = main(args)
    return rc, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_unknown_host_key_is_shown_not_trusted(sshd, tmp_path, capsys):
    rc, report = run(capsys, init_args(sshd, tmp_path))
    assert rc == 1 and report["written"] is None
    node = report["nodes"][0]
    assert node["host_key"] == "unknown" and node["fingerprint"].startswith("SHA256:")
    assert any("--trust-new-host-keys" in p for p in report["problems"])
    assert not (tmp_path / "farm.yaml").exists()
    assert not (tmp_path / "known_hosts").exists()


def test_trusted_init_checks_node_and_writes_loadable_farm(sshd, tmp_path, capsys):
    rc, report = run(capsys, init_args(sshd, tmp_path, "--trust-new-host-keys"))
    assert rc == 0, report
    node = report["nodes"][0]
    assert node["host_key"] == "trusted now"
    assert node["facts"]["cpus"] >= 1 and node["facts"]["ram_gb"] > 0
    farm = load_farm(tmp_path / "farm.yaml")
    assert farm.name == "stage" and farm.profile == "small"
    assert farm.nodes[0].roles == frozenset({"manager", "db", "cache"})
    assert farm.endpoints.galera.nodes[0].host == "127.0.0.1"
    assert "# farm.yaml for stage" in (tmp_path / "farm.yaml").read_text()
    # Known now: a second check reports it trusted; an existing file is kept.
    before = (tmp_path / "farm.yaml").read_text()
    rc, report = run(capsys, init_args(sshd, tmp_path))
    assert rc == 1 and report["nodes"][0]["host_key"] == "trusted"
    assert any("--force" in p for p in report["problems"])
    assert (tmp_path / "farm.yaml").read_text() == before


def test_changed_host_key_is_refused_even_with_trust_flag(sshd, tmp_path, capsys):
    keygen(tmp_path / "other")
    kind, key = (tmp_path / "other.pub").read_text().split()[:2]
    (tmp_path / "known_hosts").write_text(f"[127.0.0.1]:{PORT} {kind} {key}\n")
    rc, report = run(capsys, init_args(sshd, tmp_path, "--trust-new-host-keys"))
    assert rc == 1 and report["nodes"][0]["host_key"] == "changed"
    assert any("CHANGED" in p for p in report["problems"])
    assert not (tmp_path / "farm.yaml").exists()
    assert (tmp_path / "known_hosts").read_text().count("\n") == 1  # not replaced


def test_unreachable_node_and_bad_input(sshd, tmp_path, capsys):
    args = init_args(sshd, tmp_path, "--trust-new-host-keys")
    args[args.index("--node") + 1] = "ghost=127.0.0.1:1"
    rc, report = run(capsys, args)
    assert rc == 1 and any("127.0.0.1:1: cannot connect" in p for p in report["problems"])
    args = init_args(sshd, tmp_path)
    args[args.index("--domain") + 1] = "nodot"
    args[args.index("--node") + 1] = "Bad_Name=127.0.0.1,roles=boss"
    rc, report = run(capsys, args)
    problems = " | ".join(report["problems"])
    assert "domain: 'nodot' is not valid" in problems
    assert "nodes[0].name: 'Bad_Name' is not valid" in problems
    assert "nodes[0].roles: boss not valid" in problems
    assert not (tmp_path / "farm.yaml").exists()


def test_trust_refuses_to_replace_a_different_key(sshd, tmp_path):
    key = ssh.fetch_host_key("127.0.0.1", PORT, 5)
    hosts = tmp_path / "known_hosts"
    ssh.trust_host_key(key, hosts)
    ssh.trust_host_key(key, hosts)  # idempotent
    assert hosts.read_text().count("\n") == 1
    assert ssh.known_key(key, hosts) == "trusted"
