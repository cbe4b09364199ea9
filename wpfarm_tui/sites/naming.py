"""A site's domain, validated, and the names derived from it (database, user, prefix).

The one domain validator: every verb and screen that takes a domain, and every
row read back from the registry, goes through `parse_domain` / `validate_domain`.
Every name that reaches SQL, a shell or a config file is derived here from a
domain that passed it: lowercase ASCII letters, digits, '-' and '.', so no
quoting trick can get through.

What the operator typed is never changed silently: invisible characters and
look-alikes that IDNA would fold away (full-width letters, ideographic dots)
are refused naming the code point; an internationalised name is accepted,
and `Domain.registered_as` says which xn-- name it becomes, for the plan to
show and the operator to confirm. A label that mixes scripts (Latin with
Cyrillic, say) is refused: that is how look-alike names are made.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import unicodedata
from dataclasses import dataclass

import idna

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# What CreateSite derives (`names_for`) and the lab uses (wp_<label>): checked before
# a registry row's names reach DROP DATABASE / DROP USER / RENAME TABLE.
_DB_NAME = re.compile(r"^wp_[a-z0-9_]{1,61}$")
_DB_USER = re.compile(r"^wp_[a-z0-9_]{1,29}$")
# Default-ignorable code points that are letters or marks, not format characters
# (Unicode DerivedCoreProperties): fillers and variation selectors.
_IGNORABLE = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0,
              *range(0x180B, 0x1810), *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)}
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"}
# Scripts that may share a label (UTS 39 "highly restrictive"); any other mix is refused.
_SCRIPT_SETS = ({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}, {"LATIN", "HAN", "BOPOMOFO"},
                {"LATIN", "HAN", "HANGUL"})
_SCRIPT_ALIASES = {"CJK": "HAN", "IDEOGRAPHIC": "HAN", "ARABIC-INDIC": "ARABIC",
                   "KATAKANA-HIRAGANA": "KATAKANA"}


class DomainError(ValueError):
    pass


@dataclass(frozen=True)
class Domain:
    ascii: str  # what the farm registers and routes: IDNA 2008, xn-- for non-ASCII labels
    unicode: str  # how it reads
    typed: str  # what the operator gave

    @property
    def is_idn(self) -> bool:
        return self.ascii != self.unicode

    @property
    def registered_as(self) -> str:
        """The sentence a plan shows for an internationalised name ('' for plain ASCII)."""
        if not self.is_idn:
            return ""
        return f"{self.unicode} will be registered as {self.ascii}"


def _codepoint(c: str) -> str:
    return f"U+{ord(c):04X} {unicodedata.name(c, 'unnamed character')}"


def _script(c: str) -> str | None:
    """The script of a letter or digit, from its Unicode name; None for ASCII digits,
    '-' and combining marks (they take the script of what they follow)."""
    if c.isascii() and not c.isalpha():
        return None
    if unicodedata.category(c)[0] not in "LN":
        return None
    words = unicodedata.name(c, "UNKNOWN").split()
    word = words[1] if words[0] == "EXTENDED" and len(words) > 1 else words[0]
    return _SCRIPT_ALIASES.get(word, word)


def _check_scripts(label: str, raw: str) -> None:
    scripts = {s for s in map(_script, label) if s}
    if len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPT_SETS):
        names = ", ".join(sorted(s.title() for s in scripts))
        raise DomainError(f"domain: label {label!r} of {raw!r} mixes scripts ({names}), as "
                          "look-alike names do. Fix: type the name in one script")


def parse_domain(raw: str) -> Domain:
    """The domain in its ASCII (IDNA 2008) and Unicode forms, or DomainError saying
    what is wrong and how to fix it."""
    text = (raw or "").strip()
    if not text:
        raise DomainError("domain: empty. Fix: give a name like www.example.com")
    if any(c in text for c in " \t\n;|&$`'\"\\/<>(){}[]*?!#%,=:@_"):
        raise DomainError(f"domain: {raw!r} contains characters a domain cannot have. "
                          "Fix: letters, digits, '-' and '.' only")
    for c in text:
        if unicodedata.category(c) in _INVISIBLE_CATEGORIES or ord(c) in _IGNORABLE:
            raise DomainError(f"domain: {raw!r} contains {_codepoint(c)}, an invisible or "
                              "control character. Fix: retype the name without it")
    for c in sorted(set(text)):
        if c.isascii():
            continue
        try:
            mapped = idna.uts46_remap(c, std3_rules=True, transitional=False)
        except idna.IDNAError:
            raise DomainError(f"domain: {raw!r} contains {_codepoint(c)}, which a domain "
                              "cannot have. Fix: retype the name without it") from None
        if mapped != c.lower():  # more than a change of case: a look-alike folded away
            raise DomainError(f"domain: {raw!r} contains {_codepoint(c)}, which would be "
                              f"registered as {mapped!r}. Fix: type {mapped!r} itself")
    text = text.rstrip(".").lower()
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        raise DomainError(f"domain: {raw!r} is an IP address. Fix: give the site's name")
    if text.isascii() and len(text) > 253:
        raise DomainError(f"domain: {len(text)} characters, the limit is 253. "
                          "Fix: a shorter name")
    for label in text.split("."):
        if label.startswith("xn--") and label.isascii():
            try:
                if idna.encode(idna.decode(label)).decode("ascii") != label:
                    raise idna.IDNAError("not in canonical form")
            except (idna.IDNAError, UnicodeError) as exc:
                raise DomainError(f"domain: label {label!r} of {raw!r} is not valid punycode "
                                  f"({exc}). Fix: check the name, or type it in Unicode") \
                    from None
    try:
        ascii_form = idna.encode(text, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise DomainError(f"domain: {raw!r} is not a valid domain name ({exc}). "
                          "Fix: check the spelling") from None
    if len(ascii_form) > 253:
        raise DomainError(f"domain: {len(ascii_form)} characters, the limit is 253. "
                          "Fix: a shorter name")
    labels = ascii_form.split(".")
    if len(labels) < 2:
        raise DomainError(f"domain: {raw!r} has no dot. Fix: a full name like example.com")
    for label in labels:
        if not _LABEL.match(label):
            raise DomainError(f"domain: label {label!r} of {raw!r} is not valid (1-63 letters, "
                              "digits or '-', not starting or ending with '-'). Fix: rename it")
    if labels[-1].isdigit():
        raise DomainError(f"domain: {raw!r} ends in a number. Fix: a real top-level domain")
    unicode_form = idna.decode(ascii_form)
    for label in unicode_form.split("."):
        _check_scripts(label, raw)
    return Domain(ascii_form, unicode_form, raw)


def validate_domain(raw: str) -> str:
    """The domain in its ASCII (IDNA 2008) form, or DomainError saying what is wrong."""
    return parse_domain(raw).ascii


def db_name_problem(name: object) -> str | None:
    """Why a registry row's database name may not be dropped or renamed into (None: fine)."""
    if isinstance(name, str) and _DB_NAME.match(name):
        return None
    return (f"database name {name!r} is not a site database name (wp_ and up to 61 "
            "lowercase letters, digits or '_')")


def db_user_problem(name: object) -> str | None:
    """Why a registry row's database user may not be dropped (None: fine)."""
    if isinstance(name, str) and _DB_USER.match(name):
        return None
    return (f"database user {name!r} is not a site database user (wp_ and up to 29 "
            "lowercase letters, digits or '_')")


def row_problem(domain: object, db_name: object, db_user: object = None) -> str | None:
    """Why a site registry row must not be used (None: it follows the naming rules): the
    one check every reader of wpfarm.sites applies. `db_user` None: not read."""
    if not isinstance(domain, str):
        return f"domain {domain!r} is not text"
    try:
        canonical = validate_domain(domain)
    except DomainError as exc:
        return str(exc)
    if canonical != domain:
        return f"domain {domain!r} is not in its canonical form {canonical!r}"
    return db_name_problem(db_name) or (db_user_problem(db_user) if db_user is not None
                                        else None)


def sql_ident(name: str) -> str:
    """A MariaDB identifier quoted for SQL text: backticks around it, and each backtick
    inside doubled (the only character that needs it in a quoted identifier)."""
    if "\0" in name:
        raise ValueError(f"identifier {name!r} contains NUL")
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class SiteNames:
    domain: str
    slug: str  # letters, digits, '_': safe in SQL identifiers and file names
    db_name: str  # <= 64 characters (MariaDB's limit)
    db_user: str  # <= 32 characters (safe for MySQL-compatible tools too)
    redis_prefix: str  # object cache keys: wp:<domain>:
    service: str  # the Swarm service name, <= 63 characters


def names_for(domain: str) -> SiteNames:
    domain = validate_domain(domain)
    slug = re.sub(r"[^a-z0-9]+", "_", domain).strip("_")
    # A short hash keeps truncated names unique (a-b.com and a.b.com differ).
    digest = hashlib.sha256(domain.encode()).hexdigest()[:6]
    return SiteNames(
        domain=domain, slug=slug,
        db_name=f"wp_{slug[:53]}_{digest}",
        db_user=f"wp_{slug[:22]}_{digest}",
        redis_prefix=f"wp:{domain}:",
        service=f"site_{slug[:50]}_{digest}".replace("_", "-"),
    )
