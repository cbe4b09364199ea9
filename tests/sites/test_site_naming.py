"""Domain validation and derived names: what reaches SQL and shells is safe."""

from __future__ import annotations

import re

import pytest

from wpfarm_tui.sites.naming import (
    DomainError,
    db_name_problem,
    db_user_problem,
    names_for,
    parse_domain,
    sql_ident,
    validate_domain,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("Example.COM", "example.com"), ("www.example.com.", "www.example.com"),
    ("bücher.de", "xn--bcher-kva.de"), ("a-b.example.org", "a-b.example.org")])
def test_good_domains(raw, expected):
    assert validate_domain(raw) == expected


@pytest.mark.parametrize(("raw", "message"), [
    ("", "empty"), ("x", "has no dot"), ("1.2.3.4", "is an IP address"),
    ("a;rm -rf /.com", "characters a domain cannot have"),
    ("site'); DROP TABLE x;--.com", "characters a domain cannot have"),
    ("$(reboot).com", "characters a domain cannot have"),
    ("-a.com", "not a valid"), ("a" * 64 + ".com", "not a valid"),
    (("a" * 60 + ".") * 5 + "com", "the limit is 253"), ("example.123", "ends in a number")])
def test_bad_domains_say_what_and_fix(raw, message):
    with pytest.raises(DomainError, match=re.escape(message)) as info:
        validate_domain(raw)
    assert str(info.value).startswith("domain:") and "Fix:" in str(info.value)


def test_derived_names_are_safe_bounded_and_distinct():
    a, b = names_for("a-b.example.com"), names_for("a.b.example.com")
    assert a.db_name != b.db_name and a.db_user != b.db_user
    long = names_for(("verylonglabel" * 4)[:60] + ".example.com")
    assert len(long.db_name) <= 64 and len(long.db_user) <= 32 and len(long.service) <= 63
    for n in (a, b, long):
        assert re.fullmatch(r"[a-z0-9_]+", n.db_name) and re.fullmatch(r"[a-z0-9_]+", n.db_user)
        assert re.fullmatch(r"[a-z0-9-]+", n.service)
    assert a.redis_prefix == "wp:a-b.example.com:"


# ---- issue #19: nothing the operator typed is changed silently -------------------------
@pytest.mark.parametrize(("raw", "code_point"), [
    ("a\u200b.com", "U+200B ZERO WIDTH SPACE"), ("a\u00ad.com", "U+00AD SOFT HYPHEN"),
    ("ex\u200dample.com", "U+200D ZERO WIDTH JOINER"), ("a\ufe0f.com", "U+FE0F VARIATION"),
    ("a\u3164.com", "U+3164 HANGUL FILLER"), ("a\u2060b.com", "U+2060 WORD JOINER"),
    ("a\x00.com", "U+0000"), ("a\u00a0b.com", "U+00A0 NO-BREAK SPACE")])
def test_invisible_characters_are_refused_by_code_point(raw, code_point):
    with pytest.raises(DomainError, match=re.escape(code_point)) as info:
        validate_domain(raw)
    assert "invisible" in str(info.value) and "Fix:" in str(info.value)


@pytest.mark.parametrize(("raw", "code_point", "becomes"), [
    ("\uff41.com", "U+FF41 FULLWIDTH LATIN SMALL LETTER A", "'a'"),
    ("\uff25xample.com", "U+FF25 FULLWIDTH LATIN CAPITAL LETTER E", "'e'"),
    ("a\u3002com", "U+3002 IDEOGRAPHIC FULL STOP", "'.'"),
    ("\u2170.com", "U+2170 SMALL ROMAN NUMERAL ONE", "'i'")])
def test_look_alikes_that_idna_would_fold_are_refused(raw, code_point, becomes):
    with pytest.raises(DomainError, match=re.escape(code_point)) as info:
        validate_domain(raw)
    assert f"registered as {becomes}" in str(info.value)


@pytest.mark.parametrize("raw", ["p\u0430ypal.com", "\u0430pple-\u03b1.com", "g\u043eogle.com"])
def test_mixed_script_labels_are_refused(raw):
    with pytest.raises(DomainError, match="mixes scripts"):
        validate_domain(raw)


def test_an_idn_says_what_it_will_be_registered_as():
    d = parse_domain("B\u00fccher.de")
    assert (d.ascii, d.unicode, d.is_idn) == ("xn--bcher-kva.de", "b\u00fccher.de", True)
    assert d.registered_as == "b\u00fccher.de will be registered as xn--bcher-kva.de"
    # One script, even a look-alike one, is an IDN to confirm, not refused.
    assert parse_domain("\u0430\u0440\u0435.com").registered_as.endswith("xn--80ak6a.com")
    assert parse_domain("\u4e2d\u56fdabc.cn").is_idn  # Han with Latin is a normal mix
    assert parse_domain("site1.test").registered_as == ""


@pytest.mark.parametrize(("raw", "message"), [
    ("xn--a.com", "not valid punycode"), ("xn--zz.example.org", "not valid punycode"),
    ("a.xn--abc-", "not valid punycode"), ("a.123", "ends in a number"),
    ("10.0.0.1", "is an IP address"), ("ab--cd.com", "hyphens in 3rd and 4th")])
def test_punycode_numbers_and_addresses(raw, message):
    with pytest.raises(DomainError, match=re.escape(message)):
        validate_domain(raw)


def test_registry_names_and_identifiers():
    assert db_name_problem(names_for("a.example.com").db_name) is None
    assert db_name_problem("wp_site1") is None and db_user_problem("wp_site1") is None
    for bad in ("mysql", "wpfarm", "wp_a`; DROP DATABASE x", "WP_A", "wp_" + "a" * 62, None):
        assert db_name_problem(bad)
    assert db_user_problem("root") and db_user_problem("wp_" + "a" * 30)
    assert sql_ident("t`x") == "`t``x`" and sql_ident("wp_posts") == "`wp_posts`"
