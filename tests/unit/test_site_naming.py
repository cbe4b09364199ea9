"""Domain validation and derived names: what reaches SQL and shells is safe."""

from __future__ import annotations

import re

import pytest

from wpfarm_tui.sites.naming import DomainError, names_for, validate_domain


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
