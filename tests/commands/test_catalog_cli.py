"""The catalog's entries are the CLI's procedure verbs: each entry's command line parses
to its own inputs, and each argument an entry's field describes (help, positional or
option, default, completer) is that field in the real parser. No servers needed."""

from __future__ import annotations

import argparse

import pytest

from wpfarm_tui.actions.catalog import CATALOG, Entry
from wpfarm_tui.cli import build_parser
from wpfarm_tui.commands import completion

PARSER = build_parser()


def parser_of(words: tuple[str, ...]) -> argparse.ArgumentParser:
    """The deepest parser these words reach (`node drain` stops at `node`, whose verb is
    a positional's choice)."""
    parser = PARSER
    for word in words:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or word not in subs[0].choices:
            break
        parser = subs[0].choices[word]
    return parser


@pytest.mark.parametrize("e", CATALOG, ids=[e.name for e in CATALOG])
def test_each_entrys_command_line_parses_to_its_inputs(e: Entry):
    args = PARSER.parse_args(e.cli_args())
    assert callable(args.func)
    for f in e.fields:
        want = e.example.get(f.key) or None
        if hasattr(args, f"{f.key}s"):  # backup's many DOMAINs
            assert getattr(args, f"{f.key}s") == [want], f.key
        else:
            assert getattr(args, f.key) == want, f.key


@pytest.mark.parametrize("e", [e for e in CATALOG if e.fields], ids=lambda e: e.name)
def test_each_field_is_its_argument(e: Entry):
    arguments = {a.dest: a for a in parser_of(e.verb)._actions}
    for f in e.fields:
        # backup takes many DOMAINs (dest "domains"): the same field, more of it.
        arg = arguments.get(f.key) or arguments[f"{f.key}s"]
        assert arg.option_strings == ([f.flag] if f.option else [])
        assert arg.help == f.help
        assert arg.metavar == (f.metavar or f.key.upper())
        assert tuple(arg.choices or ()) == f.choices
        if f.option:
            assert arg.required == f.required
            assert arg.default == (f.default if not f.required and f.default else None)
        assert getattr(getattr(arg, "completer", None), "__name__", None) == f.completer


def test_every_completer_a_field_names_exists():
    names = {f.completer for e in CATALOG for f in e.fields if f.completer}
    assert names == {"galera_nodes", "swarm_nodes", "services", "site_domains"}
    assert all(callable(getattr(completion, n, None)) for n in names)


def test_command_lines_are_the_ones_operators_type():
    by = {e.name: e for e in CATALOG}
    assert by["ban"].cli_args({"ip": "203.0.113.7", "reason": "scraper"}) == [
        "ban", "203.0.113.7", "--duration", "4h", "--reason", "scraper"]
    assert by["galera-rejoin"].cli_args({"node": "galera-1"}) == ["galera", "rejoin",
                                                                   "galera-1"]
    assert by["service-scale"].cli_args() == ["service", "scale", "drill-web", "2"]
    assert by["cache-purge-all"].cli_args() == ["cache", "purge", "--all"]
    assert by["site-create"].cli_args() == ["site", "create", "new.lab.test"]
    assert by["site-create"].cli_args({"title": "New"}) == ["site", "create", "new.lab.test",
                                                            "--title", "New"]


@pytest.mark.parametrize("verb", ["ban", "unban"])
def test_machine_credentials_help_says_when_none_are_needed(verb):
    text = " ".join(parser_of((verb,)).format_help().split())
    assert "--machine-credentials FILE" in text
    assert "endpoints.crowdsec has node and container" in text
    assert "LAPI's task over SSH" in text


def test_one_or_all_verbs_take_domain_or_all():
    for words in (("cache", "purge"), ("maintenance", "on"), ("maintenance", "off")):
        assert PARSER.parse_args([*words, "--all"]).all is True
        args = PARSER.parse_args([*words, "site1.test"])
        assert (args.domain, args.all) == ("site1.test", False)
