"""farm.yaml -> Farm: good files load, and each bad case has its own message."""

from __future__ import annotations

from pathlib import Path

import pytest

from wpfarm_tui.inventory import InventoryError, find_farm_file, load_farm, parse_farm
from wpfarm_tui.secrets import Secret, SecretError

EXAMPLE = Path(__file__).parents[2] / "wpfarm_tui" / "data" / "farm.example.yaml"

MINIMAL = """\
farm: {name: tiny, domain: tiny.test}
nodes:
  - {name: n1, address: 127.0.0.1, roles: [manager, db]}
endpoints:
  galera:
    user: mon
    password: {env: TINY_DB_PW}
    nodes: [{name: db1, host: 127.0.0.1, port: 3306}]
"""


def test_example_file_loads_with_defaults():
    farm = load_farm(EXAMPLE)
    assert farm.name == "prod-eu1"
    assert [n.name for n in farm.nodes] == ["mgr1", "db1", "cache1"]
    assert farm.endpoints.galera.password == Secret("env", "WPFARM_GALERA_PASSWORD")
    assert farm.endpoints.varnish.instances[0].node == "cache1"
    # An override from the file, and a default from the architecture's table.
    assert farm.thresholds["cache_hit_ratio"].warning == 80
    assert farm.thresholds["cpu"].critical == 90


def test_minimal_file_fills_defaults():
    farm = parse_farm(MINIMAL)
    assert farm.profile == "production"
    assert farm.refresh.interval == 2.0
    assert farm.endpoints.docker is None
    assert farm.nodes[0].roles == frozenset({"manager", "db"})


def test_farm_is_frozen():
    farm = parse_farm(MINIMAL)
    with pytest.raises(AttributeError):
        farm.name = "other"  # type: ignore[misc]


def problems_of(text: str) -> list[str]:
    with pytest.raises(InventoryError) as info:
        parse_farm(text, "f.yaml")
    return [p.render("f.yaml") for p in info.value.problems]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("domain: tiny.test", "domian: tiny.test"), "f.yaml:1: farm.domian: unknown key. "
         "Fix: remove it or correct it (did you mean `domain`?)"),
        (("name: tiny,", "name: Tiny_1,"), "farm.name: must be a short farm name"),
        (("roles: [manager, db]", "roles: [manager, boss]"), "f.yaml:3: nodes[0].roles: "
         "unknown role 'boss'"),
        (("roles: [manager, db]", "roles: []"), "nodes[0].roles: must be a non-empty list"),
        (("address: 127.0.0.1", "address: bad_host!"), "nodes[0].address: must be an IP "
         "address or host name"),
        (("port: 3306", "port: 99999"), "f.yaml:8: endpoints.galera.nodes[0].port: must be a "
         "port number 1-65535, got 99999"),
        (("password: {env: TINY_DB_PW}", "password: hunter2"), "f.yaml:7: "
         "endpoints.galera.password: is a literal value; secrets must be references"),
        (("password: {env: TINY_DB_PW}", "password: {vault: x}"), "endpoints.galera.password: "
         "must be one reference"),
        (("user: mon", "user: mon\n    timout: 3"), "endpoints.galera.timout: unknown key. "
         "Fix: remove it or correct it (did you mean `timeout`?)"),
    ],
)
def test_each_bad_case_names_line_field_and_fix(change, expected):
    old, new = change
    assert old in MINIMAL
    messages = problems_of(MINIMAL.replace(old, new))
    assert any(expected in m for m in messages), messages
    assert all("Fix: " in m for m in messages)


def test_literal_secret_is_never_echoed_back():
    messages = problems_of(MINIMAL.replace("{env: TINY_DB_PW}", "s3cr3t-value"))
    assert not any("s3cr3t-value" in m for m in messages)


def test_all_problems_reported_at_once():
    text = MINIMAL.replace("domain: tiny.test", "domain: x").replace("port: 3306", "port: 0")
    text += "thresholds:\n  cpu: {warning: 95, critical: 90}\nbogus: 1\n"
    messages = problems_of(text)
    assert len(messages) == 4, messages
    assert any("thresholds.cpu: critical (90.0) is not above warning (95.0)" in m
               for m in messages)
    assert any("f.yaml:11: bogus: unknown key" in m for m in messages)


def test_varnish_node_must_exist():
    text = MINIMAL + ("  varnish:\n    instances:\n"
                      "      - {name: v1, workdir: /var/lib/varnish, node: ghost}\n")
    assert any("no node named 'ghost'" in m for m in problems_of(text))


def test_invalid_yaml_and_empty_file():
    assert "not valid YAML" in problems_of("farm: [unclosed\n")[0]
    assert "the file is empty" in problems_of("")[0]
    assert "is not a YAML mapping" in problems_of("- a\n- b\n")[0]


def test_missing_sections():
    messages = problems_of("farm: {name: a, domain: a.test}\n")
    assert any("nodes: is missing" in m for m in messages)
    assert any("endpoints: is missing" in m for m in messages)


def test_unreadable_file(tmp_path):
    with pytest.raises(InventoryError, match="cannot read"):
        load_farm(tmp_path / "nope.yaml")


def test_find_farm_file_order(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("WPFARM_FARM", raising=False)
    with pytest.raises(InventoryError, match="wpfarm lab up"):
        find_farm_file()
    xdg = tmp_path / "wpfarm" / "farm.yaml"
    xdg.parent.mkdir()
    xdg.write_text(MINIMAL)
    assert find_farm_file() == xdg
    monkeypatch.setenv("WPFARM_FARM", "/elsewhere/farm.yaml")
    assert find_farm_file() == Path("/elsewhere/farm.yaml")
    assert find_farm_file("/explicit.yaml") == Path("/explicit.yaml")


def test_secret_references_resolve_and_never_render(tmp_path, monkeypatch):
    monkeypatch.setenv("TINY_DB_PW", "pw-from-env")
    secret = Secret("env", "TINY_DB_PW")
    assert secret.reveal() == "pw-from-env"
    assert "pw-from-env" not in f"{secret} {secret!r}"
    f = tmp_path / "pw"
    f.write_text("pw-from-file\n")
    assert Secret("file", str(f)).reveal() == "pw-from-file"
    monkeypatch.delenv("TINY_DB_PW")
    with pytest.raises(SecretError, match="TINY_DB_PW is not set"):
        secret.reveal()
    with pytest.raises(SecretError, match="cannot read secret file:"):
        Secret("file", str(tmp_path / "missing")).reveal()


def test_backup_section():
    farm = load_farm(EXAMPLE)
    assert farm.backup.repository.startswith("s3:")
    assert farm.backup.retention.daily == 7 and farm.backup.node == "db1"
    bad = MINIMAL + "backup:\n  repository: /srv/restic\n  password: pw\n  retention: {daily: 0}\n"
    messages = problems_of(bad)
    assert any("backup.password: is a literal value" in m for m in messages)
    assert any("backup.retention.daily: must be a whole number >= 1" in m for m in messages)
