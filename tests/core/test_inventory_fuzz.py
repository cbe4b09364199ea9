"""The farm.yaml loader under mutated input: every file ends as a Farm or as the project's
own InventoryError (each problem with a line and a field), never a traceback, a hang or a
balloon.

The mutations start from the packaged example and from the file `wpfarm lab up` writes,
and stack byte flips, line duplication and deletion, anchors and aliases (a billion-laughs
header, self-reference), merge keys, explicit tags, deep nesting, huge values, bytes that
are not UTF-8, duplicate keys, non-finite and oversized numbers, control characters and
secret references to devices. The seeds are fixed, so a failure names a case that can be
replayed: `python tests/core/test_inventory_fuzz.py --replay SEED INDEX OUT.yaml`.

The cases run in a child process: its peak RSS (ru_maxrss) is the memory measure (it sees
libyaml's C allocations, which tracemalloc does not), and a hang kills only the child.
Files that once crashed the loader live in tests/core/fuzz_seeds/ and are loaded too.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if __name__ == "__main__":  # run as the child: import this checkout's package
    sys.path.insert(0, str(REPO))

from wpfarm_tui.inventory import Farm, InventoryError, load_farm  # noqa: E402

SEEDS = (1, 2, 3, 5, 8, 13, 21, 34)  # fixed: the run is the same on every machine
CASES_PER_SEED = 400  # 3,200 files; ~15 s on an idle 2-core box
BUDGET_S = 45.0  # the child stops generating cases past this (a loaded box runs fewer)
MIN_CASES = 800  # ...but a run that checked fewer than this proves little
MAX_LOAD_S = 2.0
MAX_GROWTH_MB = 200
CORPUS = Path(__file__).parent / "fuzz_seeds"
EXAMPLE = REPO / "wpfarm_tui" / "data" / "farm.example.yaml"


# ---------------------------------------------------------------- the base files
def base_files() -> list[bytes]:
    """The packaged example and the lab's farm.yaml, written by the lab's own writer."""
    from wpfarm_tui.lab.lab import Lab

    with tempfile.TemporaryDirectory() as tmp:
        lab = Lab(Path(tmp))
        lab._write_farm_file()  # only formats a dict and writes it: no server is touched
        # The same bytes on every run, so a (seed, index) names the same file everywhere.
        lab_yaml = lab.farm_file.read_bytes().replace(tmp.encode(), b"/var/lib/wpfarm-lab")
    return [EXAMPLE.read_bytes(), lab_yaml]


# ---------------------------------------------------------------- mutations
Lines = list[bytes]

_VALUE_LINES = (b": ", b"- ")
_TAGS = (b"!!bool 2", b"!!int x", b"!!float nan", b"!!binary AAAA", b"!!set {a}", b"!custom x",
         b"!!python/object/apply:os.system [id]", b"!!timestamp 2001-99-99", b"!!str 5",
         b"!!map {a: 1}", b"!!seq [1]", b"!!null ''", b"!<tag:yaml.org,2002:int> 7", b"! 3",
         b"!!merge x", b"!!omap [a: 1]", b"!!value =")
_NUMBERS = (b".nan", b".NaN", b".inf", b"-.inf", b".Inf", b"1.0e+999", b"-1.0e+999", b"0",
            b"-1", b"1e999", b"9" * 5000, b"0x" + b"f" * 80, b"0b" + b"1" * 200, b"1:30",
            b"1:2:3:4:5:6:7:8:9", b"0_", b"0b_", b"1_000", b"3600.5", b"99999999", b"2001-99-99",
            b"2001-12-14t21:59:43.10-05:00", b"=", b"<<", b"0o17", b"017", b"+.5", b"1e3")
_SCALARS = (b"~", b"null", b"yes", b"no", b"on", b"off", b"true", b"''", b'""', b"[]", b"{}",
            b"[a, b]", b"{a: 1}", b"- x", b"|\n  block\n", b">-\n  folded\n", b"'quoted'",
            b'"\\0"', b'"\\e[31mred"', b'"\\ud800"', b'"\\x85"', b'"tab\\there"', b"\t",
            b'"\\U0001F600"', b"? complex", b"*undefined", b"&lonely value", b"'unclosed",
            b'"unclosed', b"[unclosed", b"{unclosed", b"@reserved", b"`reserved", b"%", b"#")
_SECRETS = (b"{file: /dev/zero}", b"{file: /dev/stdin}", b"{file: /}", b"{file: ''}",
            b"{env: 'A=B'}", b"{env: ''}", b"{env: \"\\0\"}", b"{docker_secret: ../../etc/x}",
            b"{file: ~nosuchuser-wpfarm/x}", b"{env: X, file: Y}", b"{vault: x}", b"{file: [a]}",
            b"{file: {a: 1}}", b"{docker_secret: '.'}")
_BAD_BYTES = (b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xe2\x82",
              b"\xf4\x90\x80\x80", b"\x80", b"\x00", b"\x1b[31m", b"\x07", b"\r", b"\x85",
              b"\xef\xbb\xbf", b"\xc2\x9b")
_TOKENS = (b"---", b"...", b"%YAML 1.1", b"%YAML 9.9", b"%TAG ! tag:x,2000:", b"? [a]", b": x",
           b"- - -", b"<<: *a", b"<<: {a: 1}", b"<<: [{a: 1}]", b"&a", b"*a", b"[", b"]", b"{",
           b"}", b",", b"'", b'"', b"|", b">", b"#", b"\t", b"key: value", b"- item", b"? ",
           b"!!", b"&", b"*")


def _value_line(rnd: random.Random, lines: Lines) -> int | None:
    candidates = [i for i, line in enumerate(lines) if any(m in line for m in _VALUE_LINES)]
    return rnd.choice(candidates) if candidates else None


def _set_value(rnd: random.Random, lines: Lines, value: bytes) -> None:
    """Replace the value of a `key: value` line (or a `- item`) with `value`."""
    i = _value_line(rnd, lines)
    if i is None:
        lines.append(b"x: " + value)
        return
    line = lines[i]
    cut = line.index(b": ") + 2 if b": " in line else line.index(b"- ") + 2
    lines[i] = line[:cut] + value


def _indent(line: bytes) -> bytes:
    return line[: len(line) - len(line.lstrip(b" "))]


def m_flip_bytes(rnd: random.Random, lines: Lines) -> None:
    data = bytearray(b"\n".join(lines))
    for _ in range(rnd.randint(1, 8)):
        if data:
            data[rnd.randrange(len(data))] = rnd.randrange(256)
    lines[:] = bytes(data).split(b"\n")


def m_dup_line(rnd: random.Random, lines: Lines) -> None:
    i = rnd.randrange(len(lines)) if lines else 0
    lines[i:i] = lines[i:i + 1] * rnd.randint(1, 3)


def m_del_lines(rnd: random.Random, lines: Lines) -> None:
    if lines:
        i = rnd.randrange(len(lines))
        del lines[i:i + rnd.randint(1, 4)]


def m_move_line(rnd: random.Random, lines: Lines) -> None:
    if len(lines) > 1:
        line = lines.pop(rnd.randrange(len(lines)))
        lines.insert(rnd.randrange(len(lines)), line)


def m_reindent(rnd: random.Random, lines: Lines) -> None:
    if lines:
        i = rnd.randrange(len(lines))
        lines[i] = b" " * rnd.choice((0, 1, 2, 3, 4, 6, 8, 40)) + lines[i].lstrip(b" ")


def m_duplicate_key(rnd: random.Random, lines: Lines) -> None:
    """`read_only: true` then `read_only: false`: the same key again, another value."""
    i = _value_line(rnd, lines)
    if i is not None and b": " in lines[i]:
        key = lines[i][: lines[i].index(b": ")]
        lines.insert(i + 1, key.replace(b"- ", b"  ") + b": " + rnd.choice(_SCALARS + _NUMBERS))


def m_anchor_alias(rnd: random.Random, lines: Lines) -> None:
    i = _value_line(rnd, lines)
    if i is None or b": " not in lines[i]:
        return
    cut = lines[i].index(b": ") + 2
    lines[i] = lines[i][:cut] + b"&a " + lines[i][cut:]
    _set_value(rnd, lines, rnd.choice((b"*a", b"*a # alias", b"[*a, *a]", b"{k: *a}", b"*b")))


def m_self_reference(rnd: random.Random, lines: Lines) -> None:
    _set_value(rnd, lines, rnd.choice((b"&s [*s]", b"&s {k: *s}", b"&s [[*s, *s], *s]")))


def m_billion_laughs(rnd: random.Random, lines: Lines) -> None:
    levels = rnd.randint(3, 12)
    header = [b'lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    header += [b"lol%d: &l%d [" % (n, n) + b", ".join([b"*l%d" % (n - 1)] * 9) + b"]"
               for n in range(1, levels)]
    where = rnd.choice((0, len(lines)))
    lines[where:where] = header
    if rnd.random() < 0.5:
        _set_value(rnd, lines, b"*l%d" % (levels - 1))


def m_merge_key(rnd: random.Random, lines: Lines) -> None:
    i = _value_line(rnd, lines)
    if i is not None:
        value = rnd.choice((b"{timeout: 3}", b"{read_only: true}", b"*a", b"[{a: 1}, {b: 2}]",
                            b"~"))
        lines.insert(i, _indent(lines[i]) + b"<<: " + value)


def m_tag(rnd: random.Random, lines: Lines) -> None:
    _set_value(rnd, lines, rnd.choice(_TAGS))


def m_deep(rnd: random.Random, lines: Lines) -> None:
    n = rnd.choice((20, 31, 32, 33, 64, 500, 999, 1001, 5000, 100_000))
    shape = rnd.randrange(4)
    if shape == 0:
        value = b"[" * n + b"]" * n
    elif shape == 1:
        value = b"{a: " * n + b"1" + b"}" * n
    elif shape == 2:
        value = b"[" * n  # never closed
    else:  # block style, one level a line
        n = min(n, 3000)
        lines.extend([b"deep:"] + [b" " * (k + 1) + b"k:" for k in range(n)])
        return
    _set_value(rnd, lines, value)


def m_huge(rnd: random.Random, lines: Lines) -> None:
    size = rnd.choice((1000, 70_000, 500_000, 1_000_000, 1_100_000))
    body = rnd.choice((b"x", b"a-", b"9", b"\xc3\xa9")) * (size // 2)
    _set_value(rnd, lines, rnd.choice((body, b'"' + body + b'"', b"[" + b"a," * (size // 2)
                                       + b"a]")))


def m_many(rnd: random.Random, lines: Lines) -> None:
    """Many values: a long list, many keys."""
    n = rnd.choice((1000, 30_000, 120_000))
    if rnd.random() < 0.5:
        _set_value(rnd, lines, b"[" + b"1," * n + b"1]")
    else:
        lines.extend(b"k%d: %d" % (k, k) for k in range(n))


def m_non_utf8(rnd: random.Random, lines: Lines) -> None:
    if lines:
        i = rnd.randrange(len(lines))
        j = rnd.randint(0, len(lines[i]))
        lines[i] = lines[i][:j] + rnd.choice(_BAD_BYTES) + lines[i][j:]


def m_number(rnd: random.Random, lines: Lines) -> None:
    numeric = [i for i, line in enumerate(lines)
               if b": " in line and line.rsplit(b": ", 1)[1].split(b"#")[0].strip()
               .replace(b".", b"").isdigit()]
    if numeric:
        i = rnd.choice(numeric)
        head, tail = lines[i].rsplit(b": ", 1)
        lines[i] = head + b": " + rnd.choice(_NUMBERS)
    else:
        _set_value(rnd, lines, rnd.choice(_NUMBERS))


def m_scalar(rnd: random.Random, lines: Lines) -> None:
    _set_value(rnd, lines, rnd.choice(_SCALARS))


def m_secret(rnd: random.Random, lines: Lines) -> None:
    refs = [i for i, line in enumerate(lines) if b"{env:" in line or b"{file:" in line
            or b"file:" in line or b"{docker_secret:" in line]
    value = rnd.choice(_SECRETS)
    if refs:
        i = rnd.choice(refs)
        lines[i] = lines[i][: lines[i].index(b":") + 2] + value
    else:
        _set_value(rnd, lines, value)


def m_token(rnd: random.Random, lines: Lines) -> None:
    if lines:
        i = rnd.randrange(len(lines))
        j = rnd.randint(0, len(lines[i]))
        token = rnd.choice(_TOKENS)
        if rnd.random() < 0.5:
            lines.insert(i, _indent(lines[i]) + token)
        else:
            lines[i] = lines[i][:j] + token + lines[i][j:]


def m_splice(rnd: random.Random, lines: Lines) -> None:
    if len(lines) > 2:
        a, b = sorted(rnd.sample(range(len(lines)), 2))
        lines[a:a] = lines[a:b]


MUTATIONS: tuple[Callable[[random.Random, Lines], None], ...] = (
    m_flip_bytes, m_dup_line, m_del_lines, m_move_line, m_reindent, m_duplicate_key,
    m_anchor_alias, m_self_reference, m_billion_laughs, m_merge_key, m_tag, m_deep, m_huge,
    m_many, m_non_utf8, m_number, m_scalar, m_secret, m_token, m_splice)
# The cheap ones are drawn more often: they find the interesting parse states.
_WEIGHTS = (4, 3, 3, 2, 2, 4, 3, 2, 1, 3, 3, 1, 1, 1, 3, 4, 4, 3, 4, 1)


def case(bases: list[bytes], seed: int, index: int) -> bytes:
    rnd = random.Random(seed * 1_000_003 + index)
    lines = rnd.choice(bases).split(b"\n")
    for mutate in rnd.choices(MUTATIONS, _WEIGHTS, k=rnd.choice((1, 1, 2, 3, 4))):
        mutate(rnd, lines)
    return b"\n".join(lines)


# ---------------------------------------------------------------- judging one load
def verdict(path: Path) -> tuple[str, str | None]:
    """("farm", None) or ("error", None) when the load ended well: a Farm, or InventoryError
    with a line and a field for every problem and each message short. Otherwise ("bug",
    what went wrong)."""
    try:
        result = load_farm(path)
    except InventoryError as exc:
        file_level = path.stat().st_size > (1 << 20)  # too large: no line to name
        for p in exc.problems:
            if p.line is None and not file_level:
                return "bug", f"a problem without a line: {p.render(str(path))[:300]}"
            if not isinstance(p.field, str):
                return "bug", f"a problem without a field: {p!r}"[:300]
            rendered = p.render("f")
            if len(rendered) > 600:
                return "bug", f"a message of {len(rendered)} characters: {rendered[:200]}"
        return "error", None
    except BaseException as exc:  # noqa: BLE001 - anything else is the bug being hunted
        return "bug", f"{type(exc).__name__}: {str(exc)[:200]}"
    if not isinstance(result, Farm):
        return "bug", f"returned {type(result).__name__}"
    return "farm", None


def _rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: ru_maxrss survives execve, so a child
    of a large pytest process would report its parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(seeds: tuple[int, ...], per_seed: int, budget_s: float) -> None:
    """Load every case, print one JSON line per failure and a summary line last."""
    # A runaway allocation fails inside the child instead of starving the shared machine.
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    bases = base_files()
    baseline = _rss_mb()
    started = time.monotonic()
    counts = {"cases": 0, "farms": 0, "errors": 0}
    slowest = (0.0, 0, 0)
    worst_growth = (0.0, 0, 0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "farm.yaml"
        for index in range(per_seed):
            for seed in seeds:
                if time.monotonic() - started > budget_s:
                    break
                data = case(bases, seed, index)
                path.write_bytes(data)
                print(json.dumps({"start": [seed, index]}), flush=True)
                before = _rss_mb()
                t0 = time.perf_counter()
                kind, problem = verdict(path)
                seconds = time.perf_counter() - t0
                growth = _rss_mb() - before
                counts["cases"] += 1
                if kind != "bug":
                    counts[f"{kind}s"] += 1
                slowest = max(slowest, (seconds, seed, index))
                worst_growth = max(worst_growth, (growth, seed, index))
                if problem or seconds > MAX_LOAD_S:
                    print(json.dumps({"seed": seed, "index": index, "seconds": round(seconds, 3),
                                      "problem": problem or "slow"}), flush=True)
    print(json.dumps({"summary": {
        **counts, "wall_s": round(time.monotonic() - started, 1),
        "slowest": [round(slowest[0], 3), slowest[1], slowest[2]],
        "baseline_mb": round(baseline), "peak_mb": round(_rss_mb()),
        "worst_growth": [round(worst_growth[0]), worst_growth[1], worst_growth[2]]}}), flush=True)


# ---------------------------------------------------------------- the tests
def test_mutated_farm_files_load_or_fail_cleanly():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, __file__, "--child", ",".join(map(str, SEEDS)), str(CASES_PER_SEED),
           str(BUDGET_S)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO,
                             timeout=BUDGET_S + 60)
    except subprocess.TimeoutExpired as exc:
        lines = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout
        starts = [json.loads(x)["start"] for x in (lines or "").splitlines() if '"start"' in x]
        pytest.fail(f"the fuzz child hung; last case started (seed, index): "
                    f"{starts[-1] if starts else None}")
    records = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    summaries = [r["summary"] for r in records if "summary" in r]
    assert summaries, f"the child died: rc={out.returncode}\n{out.stderr[-3000:]}\n" + \
        "\n".join(out.stdout.splitlines()[-3:])
    summary = summaries[0]
    print("fuzz:", json.dumps(summary))
    failures = [r for r in records if "problem" in r]
    assert not failures, "\n".join(json.dumps(f) for f in failures[:20])
    assert summary["cases"] >= MIN_CASES, summary
    assert summary["peak_mb"] - summary["baseline_mb"] < MAX_GROWTH_MB, summary
    assert summary["farms"] > 0 and summary["errors"] > 0, summary  # both roads were taken


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.yaml")))
def test_corpus_file_loads_or_fails_cleanly(name):
    """Files that once crashed, hung or ballooned the loader."""
    t0 = time.perf_counter()
    kind, problem = verdict(CORPUS / name)
    assert kind != "bug", problem
    assert time.perf_counter() - t0 < MAX_LOAD_S


def test_the_base_files_are_farms(tmp_path):
    """Mutations start from valid farms: the example and the lab's."""
    for i, data in enumerate(base_files()):
        (tmp_path / f"{i}.yaml").write_bytes(data)
        assert verdict(tmp_path / f"{i}.yaml") == ("farm", None)


def test_the_fuzzer_is_deterministic():
    bases = [b"a: 1\nb: [x, y]\nc: {env: X}\n"]
    assert [case(bases, 7, i) for i in range(50)] == [case(bases, 7, i) for i in range(50)]


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        child(tuple(int(s) for s in sys.argv[2].split(",")), int(sys.argv[3]),
              float(sys.argv[4]))
    elif sys.argv[1] == "--replay":
        Path(sys.argv[4]).write_bytes(case(base_files(), int(sys.argv[2]), int(sys.argv[3])))
