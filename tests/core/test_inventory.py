"""farm.yaml -> Farm: good files load, and each bad case has its own message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wpfarm_tui.inventory import InventoryError, find_farm_file, load_farm, parse_farm
from wpfarm_tui.secrets import Secret, SecretError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "wpfarm_tui" / "data" / "farm.example.yaml"

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


# ---------------------------------------------------------------- hostile or mangled files
# Each of these once crashed, hung or ballooned the loader (issue #19, item 5).

def _in_child(code: str, timeout: float = 30) -> dict:
    """Run `code` (which prints one JSON line) in a fresh Python limited to 1 GiB of address
    space, so a loader that balloons or hangs fails the test instead of the machine."""
    limit = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n")
    try:
        out = subprocess.run([sys.executable, "-c", limit + textwrap.dedent(code)],
                             capture_output=True, text=True, timeout=timeout, cwd=REPO,
                             env=dict(os.environ, PYTHONPATH=str(REPO)))
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for more than {timeout} s")
    assert out.stdout.strip(), f"the child died (rc={out.returncode}): {out.stderr[-2000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


_LOAD_IN_CHILD = """
    import json, resource, sys, time
    from pathlib import Path
    from wpfarm_tui.inventory import InventoryError, load_farm
    t0 = time.perf_counter()
    try:
        load_farm(Path({path!r}))
        result = {{"loaded": True}}
    except InventoryError as exc:
        result = {{"problems": [p.render("f") for p in exc.problems]}}
    result["seconds"] = time.perf_counter() - t0
    # VmHWM, not ru_maxrss: ru_maxrss survives execve and would report pytest's own size.
    result["maxrss_mb"] = int(next(line for line in open("/proc/self/status")
                                   if line.startswith("VmHWM:")).split()[1]) / 1024
    print(json.dumps(result))
"""


def test_billion_laughs_is_refused_fast_and_small(tmp_path):
    """Nine levels of nine aliases: 1.47 GB in 10 s before; now refused at the first anchor."""
    laughs = ['lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    laughs += [f"lol{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, 10)]
    farm = tmp_path / "farm.yaml"
    farm.write_text("\n".join(laughs) + "\n" + EXAMPLE.read_text())
    result = _in_child(_LOAD_IN_CHILD.format(path=str(farm)))
    assert result["problems"][0].startswith("f:1: lol0: defines the anchor &l0; anchors and "
                                            "aliases are not supported"), result
    assert result["seconds"] < 2 and result["maxrss_mb"] < 200, result


def test_self_referencing_anchor_is_refused():
    messages = problems_of(MINIMAL.replace("roles: [manager, db]", "roles: &r [manager, *r]"))
    assert messages == [
        "f.yaml:3: nodes[0].roles: defines the anchor &r; anchors and aliases are not supported "
        "in a farm file. Fix: remove `&r` and write the value out where it is used",
        "f.yaml:3: nodes[0].roles[1]: uses the alias *r; anchors and aliases are not supported "
        "in a farm file. Fix: write the value out in full"]


def test_deep_nesting_is_refused_without_recursion():
    for deep in ("[" * 5000 + "]" * 5000, "{a: " * 600 + "1" + "}" * 600, "[" * 40 + "]" * 40):
        messages = problems_of(MINIMAL.replace("user: mon", f"user: {deep}"))
        assert len(messages) == 1 and messages[0].startswith("f.yaml:6: endpoints.galera.user")
        assert "nest" in messages[0], messages
    block = "deep:\n" + "".join(" " * (k + 1) + "k:\n" for k in range(200))
    assert "nested more than 32 levels deep" in problems_of(MINIMAL + block)[0]


def test_merge_key_is_refused():
    text = MINIMAL.replace("    user: mon\n", "    <<: {user: mon, timeout: 3}\n")
    assert problems_of(text) == [
        "f.yaml:6: endpoints.galera.<<: is a merge key (<<); merge keys are not supported in a "
        "farm file. Fix: write the merged keys out in full"]


def test_duplicate_key_is_refused_naming_both_lines():
    """Last-one-wins turned `read_only: true` into a read-write farm."""
    text = MINIMAL.replace("farm: {name: tiny, domain: tiny.test}\n",
                           "farm:\n  name: tiny\n  domain: tiny.test\n  read_only: true\n"
                           "  read_only: false\n")
    assert problems_of(text) == [
        "f.yaml:5: farm.read_only: is a duplicate key: `read_only` is also on line 4. "
        "Fix: keep one of the two lines"]


def test_non_utf8_is_refused_with_line_and_byte_offset(tmp_path):
    data = MINIMAL.encode().replace(b"address: 127.0.0.1", b"address: 127.0.0.\xff")
    farm = tmp_path / "farm.yaml"
    farm.write_bytes(data)
    with pytest.raises(InventoryError) as info:
        load_farm(farm)
    offset = data.index(b"\xff")
    assert [p.render("f") for p in info.value.problems] == [
        f"f:3: (top level): is not UTF-8 text: byte 0xff at byte offset {offset}. "
        "Fix: save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"]


@pytest.mark.parametrize("tagged", ["!!bool 2", "!!python/object/apply:os.system [id]",
                                    "!!binary AAAA", "!custom true", "!!str true"])
def test_explicit_tags_are_refused(tagged):
    text = MINIMAL + f"sites:\n  verify_tls: {tagged}\n"
    (message,) = problems_of(text)
    assert message.startswith(f"f.yaml:10: sites.verify_tls: has the explicit tag "
                              f"{tagged.split()[0]}; tags are not supported"), message


@pytest.mark.parametrize("number", [".nan", ".NaN", ".inf", "-.inf", "1.0e+999"])
def test_non_finite_numbers_are_refused(number):
    text = MINIMAL.replace("user: mon", f"user: mon\n    timeout: {number}")
    text += f"thresholds:\n  cpu: {{warning: {number}, critical: 90}}\n"
    messages = problems_of(text)
    assert any("f.yaml:7: endpoints.galera.timeout: must be seconds > 0, got " in m
               and "(not a finite number)" in m for m in messages), messages
    assert any("thresholds.cpu.warning: must be a number" in m for m in messages), messages


def test_oversized_numbers_and_timeouts_are_refused():
    messages = problems_of(MINIMAL.replace("port: 3306", "port: " + "9" * 5000)
                           .replace("user: mon", "user: mon\n    timeout: 1e300\n"
                                    "    nodes_timeout: 0b_"))
    assert any("endpoints.galera.nodes[0].port: is a number of 5,000 characters" in m
               for m in messages), messages
    messages = problems_of(MINIMAL.replace("user: mon", "user: mon\n    timeout: 86400"))
    assert any("timeout: must be seconds > 0, got 86400 (at most 3600)" in m for m in messages)


def test_a_megabyte_value_is_cut_in_the_message():
    text = MINIMAL.replace("name: tiny,", "name: " + "a" * 1_000_000 + ",")
    with pytest.raises(InventoryError) as info:
        parse_farm(text, "f.yaml")
    assert len(str(info.value)) < 1000
    assert "farm.name: must be a short farm name, got '" + "a" * 40 in str(info.value)
    assert "…" in str(info.value)


def test_file_over_one_mebibyte_is_refused_unread(tmp_path):
    farm = tmp_path / "farm.yaml"
    farm.write_text(MINIMAL + "#" * (2 << 20) + "\n")
    with pytest.raises(InventoryError, match=r"at most 1,048,576 bytes \(1 MiB\)"):
        load_farm(farm)


def test_other_yaml_oddities_are_refused_with_a_line():
    assert problems_of(MINIMAL + "---\nfarm: {}\n") == [
        "f.yaml:9: (top level): holds a second YAML document (`---`). Fix: keep one document: "
        "remove the second `---` and what follows"]
    assert problems_of(MINIMAL.replace("name: tiny,", 'name: "ti\\e[31mny",')) == [
        "f.yaml:1: farm.name: contains the control character U+001B. "
        "Fix: remove it (from the \\ escape in the quoted value)"]
    assert problems_of(MINIMAL + "? [a, b]\n: c\n")[0].startswith(
        "f.yaml:9: (top level): has a list or mapping as a key")


def test_secret_references_are_names_not_paths():
    for ref, expected in (("{env: 'A=B'}", "is not an environment variable name"),
                          ("{docker_secret: ../../etc/shadow}", "is not a Docker secret name"),
                          ("{file: ~no-such-user-wpfarm/pw}", "no such home directory")):
        messages = problems_of(MINIMAL.replace("{env: TINY_DB_PW}", ref))
        assert any("f.yaml:7: endpoints.galera.password: " in m and expected in m
                   for m in messages), messages


def test_list_items_keep_their_own_lines():
    text = MINIMAL.replace("nodes:\n  - {name: n1, address: 127.0.0.1, roles: [manager, db]}\n",
                           "nodes:\n  - name: n1\n    address: 127.0.0.1\n    roles:\n"
                           "      - manager\n      - boss\n  - just-a-string\n")
    messages = problems_of(text)
    assert "f.yaml:7: nodes[0].roles: unknown role 'boss'. Fix: use manager, worker, db, " \
           "cache, storage, ops" in messages
    assert any(m.startswith("f.yaml:8: nodes[1]: must be a mapping") for m in messages), messages


_REVEAL_IN_CHILD = """
    import json
    from wpfarm_tui.secrets import Secret, SecretError
    try:
        Secret("file", {path!r}).reveal()
        print(json.dumps({{"revealed": True}}))
    except SecretError as exc:
        print(json.dumps({{"error": str(exc)}}))
"""


def test_dev_zero_secret_is_refused_unread():
    """`status` read /dev/zero without end."""
    result = _in_child(_REVEAL_IN_CHILD.format(path="/dev/zero"), timeout=20)
    assert result == {"error": "cannot read secret file:/dev/zero: a character device, not a "
                               "regular file"}


def test_fifo_secret_and_fifo_farm_file_never_block(tmp_path):
    fifo = tmp_path / "pw.fifo"
    os.mkfifo(fifo)
    result = _in_child(_REVEAL_IN_CHILD.format(path=str(fifo)), timeout=10)
    assert result == {"error": f"cannot read secret file:{fifo}: a FIFO, not a regular file"}
    result = _in_child(_LOAD_IN_CHILD.format(path=str(fifo)), timeout=10)
    assert result["problems"] == ["f: (top level): cannot read: a FIFO, not a regular file. "
                                  "Fix: name the farm.yaml file itself"]


def test_secret_file_over_64_kib_or_not_utf8_is_refused(tmp_path):
    big = tmp_path / "big"
    big.write_bytes(b"x" * (64 * 1024 + 1))
    with pytest.raises(SecretError, match=r"larger than 65,536 bytes"):
        Secret("file", str(big)).reveal()
    (tmp_path / "ok").write_bytes(b"x" * (64 * 1024))
    assert len(Secret("file", str(tmp_path / "ok")).reveal()) == 64 * 1024
    (tmp_path / "latin1").write_bytes(b"caf\xe9")
    with pytest.raises(SecretError, match="not UTF-8 text"):
        Secret("file", str(tmp_path / "latin1")).reveal()
    with pytest.raises(SecretError, match="a directory, not a regular file"):
        Secret("file", str(tmp_path)).reveal()


def _bad_farm_files(tmp_path: Path) -> dict[str, Path]:
    example = EXAMPLE.read_text()
    files = {
        "billion-laughs": "lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                          + "".join(f"lol{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]\n"
                                    for n in range(1, 10)) + example,
        "merge-key": example.replace("  docker:\n", "  docker:\n    <<: {timeout: 3}\n"),
        "bool-tag": example.replace("verify_tls: true", "verify_tls: !!bool 2"),
        "deep": example + "x: " + "[" * 100_000 + "\n",
        "too-large": example + "#" * (2 << 20),
    }
    out = {name: tmp_path / f"{name}.yaml" for name in files}
    for name, text in files.items():
        out[name].write_text(text)
    out["non-utf8"] = tmp_path / "latin1.yaml"
    out["non-utf8"].write_bytes(example.replace("prod-eu1", "prod-\xe9u1").encode("latin-1"))
    out["fifo"] = tmp_path / "fifo.yaml"
    os.mkfifo(out["fifo"])
    out["device"] = Path("/dev/zero")
    out["directory"] = tmp_path
    return out


_CLI_IN_CHILD = """
    import contextlib, io, json, traceback
    from wpfarm_tui.cli import main
    results = {{}}
    for name, path in {files!r}.items():
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                rc = main(["--farm", path, "status"])  # what the `wpfarm` script runs
        except BaseException:
            rc, err = None, io.StringIO(traceback.format_exc())
        results[name] = [rc, err.getvalue()]
    print(json.dumps(results))
"""


def test_cli_prints_the_error_and_exits_1_never_a_traceback(tmp_path):
    """`wpfarm --farm BAD status`: the report and exit code 1, in one child for all files
    (starting the CLI costs seconds on a loaded box)."""
    from wpfarm_tui.commands.runner import ExitCode

    files = {name: str(path) for name, path in _bad_farm_files(tmp_path).items()}
    results = _in_child(_CLI_IN_CHILD.format(files=files), timeout=60)
    for name, (rc, stderr) in results.items():
        assert rc == ExitCode.FAILED, (name, stderr[-2000:])
        assert "Traceback" not in stderr, (name, stderr[-2000:])
        assert stderr.startswith(f"{files[name]}: "), (name, stderr)
        assert " problem(s) in the farm definition" in stderr, (name, stderr)
        assert len(stderr) < 1000, (name, len(stderr))
