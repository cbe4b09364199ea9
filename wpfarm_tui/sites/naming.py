"""A site's domain, validated, and the names derived from it (database, user, prefix).

Every name that reaches SQL, a shell or a config file is derived here from a
domain that passed `validate_domain`: lowercase ASCII letters, digits, '-'
and '.', so no quoting trick can get through.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass

import idna

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class DomainError(ValueError):
    pass


def validate_domain(raw: str) -> str:
    """The domain in its ASCII (IDNA 2008) form, or DomainError saying what is wrong."""
    text = raw.strip().rstrip(".").lower()
    if not text:
        raise DomainError("domain: empty. Fix: give a name like www.example.com")
    if any(c in text for c in " \t\n;|&$`'\"\\/<>(){}[]*?!#%,=:@_"):
        raise DomainError(f"domain: {raw!r} contains characters a domain cannot have. "
                          "Fix: letters, digits, '-' and '.' only")
    try:
        ipaddress.ip_address(text)
        raise DomainError(f"domain: {raw!r} is an IP address. Fix: give the site's name")
    except ValueError as exc:
        if isinstance(exc, DomainError):
            raise
    if text.isascii() and len(text) > 253:
        raise DomainError(f"domain: {len(text)} characters, the limit is 253. "
                          "Fix: a shorter name")
    try:
        ascii_form = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise DomainError(f"domain: {raw!r} is not a valid internationalised name ({exc}). "
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
    return ascii_form


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
