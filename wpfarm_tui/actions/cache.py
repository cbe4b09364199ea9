"""Cache purge: one site, or every site.

Varnish: a ban on `obj.http.x-host` (the VCL copies the request's Host onto every object,
so the ban lurker can apply it without waiting for requests), through `varnishadm -n
WORKDIR` where varnishd runs (locally, or over SSH on the instance's node). A Swarm farm
without Varnish endpoints in its farm file is banned from inside the farm: the site
runtime's one-off job sends BAN, with the purge token, to every Varnish task.

Redis object cache: the farm's convention is that each site's WordPress object cache uses
the key prefix `wp:<domain>:` (WP_REDIS_PREFIX / WP_CACHE_KEY_SALT set to it by the site
template), so one site's keys are deleted with SCAN MATCH `wp:<domain>:*` + UNLINK on the
master; purge all deletes `wp:*` (never FLUSHALL: sessions and locks live there too).

Verify: the next probe through the edge is a MISS (or a HIT on an object whose Age proves
it was fetched after the purge, which only a concurrent visitor can have done).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from wpfarm_tui.actions.base import ActionError, Step, StepEvent, Verdict
from wpfarm_tui.farm import http as farm_http
from wpfarm_tui.farm import redis as farm_redis
from wpfarm_tui.farm import varnish as farm_varnish
from wpfarm_tui.inventory import Farm
from wpfarm_tui.sites.naming import DomainError, validate_domain
from wpfarm_tui.sites.registry import Registry

REDIS_PREFIX = "wp:{domain}:"
VERIFY_SAMPLE = 5  # sites probed to verify a purge of all
RUNTIME_BAN = "ban varnish (every task)"


def check_domain(value: str | None) -> str:
    """A domain typed by the operator, through the one validator (sites/naming.py)."""
    try:
        return validate_domain(value or "")
    except DomainError as exc:
        raise ActionError(str(exc)) from None


def redis_prefix(domain: str | None) -> str:
    return REDIS_PREFIX.format(domain=domain) if domain else "wp:"


def site_domains(farm: Farm, problems: list[str] | None = None) -> list[str]:
    """The registry's domains (Galera), plus sites.static; best effort. A domain that
    fails validation is not used: it is appended to `problems`, when given."""
    domains = set()
    for domain in farm.sites.static:
        try:
            domains.add(validate_domain(domain))
        except DomainError as exc:
            if problems is not None:
                problems.append(f"sites.static: {exc}")
    if farm.endpoints.galera is not None:
        registry = Registry(farm.endpoints.galera)
        try:
            domains.update(r.domain for r in registry.list())
            if problems is not None:
                problems.extend(registry.invalid)
        except Exception:  # noqa: BLE001 - verification falls back to what it has
            pass
        finally:
            registry.db.close()
    return sorted(domains)


def edge_probe(farm: Farm, domain: str) -> farm_http.Probe:
    if not farm.sites.edge_url:
        raise ActionError("sites.edge_url: missing in the farm file; the check goes through "
                          "the edge")
    with httpx.Client(timeout=farm.sites.timeout, verify=farm.sites.verify_tls,
                      headers=farm_http.PROBE_HEADERS) as client:
        return farm_http.probe(client, farm.sites.edge_url, domain)


def _age(farm: Farm, domain: str) -> tuple[str | None, float | None]:
    """(X-Cache verdict, Age) of one probe through the edge."""
    assert farm.sites.edge_url
    with httpx.Client(timeout=farm.sites.timeout, verify=farm.sites.verify_tls,
                      headers=farm_http.PROBE_HEADERS) as client:
        r = client.get(farm.sites.edge_url + "/", headers={"Host": domain})
    age = r.headers.get("age")
    return farm_http.cache_verdict(r.headers), float(age) if age and age.isdigit() else None


class CachePurge:
    title = "Cache purge"

    def __init__(self, farm: Farm, domain: str | None = None, *, all_sites: bool = False,
                 runtime: Any = None):
        if all_sites == (domain is not None):
            raise ActionError("domain: give one site's domain, or --all for every site")
        self.farm = farm
        self.domain = None if all_sites else check_domain(domain)
        self.all_sites = all_sites
        self.destructive = all_sites
        self.name = "cache-purge-all" if all_sites else "cache-purge"
        if runtime is None and farm.endpoints.varnish is None and not farm.is_loopback_lab:
            # A Swarm farm: its Varnish tasks are reached from inside, by the site runtime.
            from wpfarm_tui.sites.runtime import runtime_for

            runtime, _host = runtime_for(farm)
        self.runtime = runtime if farm.endpoints.varnish is None else None
        if farm.endpoints.varnish is None and farm.endpoints.redis is None and not self.runtime:
            raise ActionError("endpoints.varnish / endpoints.redis: neither is in the farm "
                              "file; there is no cache to purge")
        self.purged_at: float | None = None

    def describe(self) -> Mapping[str, Any]:
        return {"domain": self.domain, "all": self.all_sites}

    @property
    def ban_expression(self) -> str:
        return f"obj.http.x-host == {self.domain}" if self.domain else "obj.status != 0"

    def plan(self) -> list[Step]:
        steps = []
        for inst in (self.farm.endpoints.varnish.instances if self.farm.endpoints.varnish
                     else ()):
            where = f"on {inst.node}" if inst.node else "locally"
            if inst.container:
                where = f"in the {inst.container} task {where}"
            workdir = f"-n {inst.workdir} " if inst.workdir else ""
            steps.append(Step(f"ban varnish {inst.name}", f"varnishadm {workdir}ban "
                              f"{self.ban_expression} ({where})", destructive=self.all_sites))
        if self.runtime is not None:
            steps.append(Step(RUNTIME_BAN, f"BAN {self.domain or 'every registered site'} in "
                              "every Varnish task (a one-off job on the farm's network, with "
                              "the purge token)", destructive=self.all_sites))
        if self.farm.endpoints.redis is not None:
            steps.append(Step("delete redis keys", f"SCAN MATCH {redis_prefix(self.domain)}* + "
                              "UNLINK on the master", destructive=self.all_sites))
        steps.append(Step("verify", "the next probe through the edge is a MISS"))
        return steps

    def run(self) -> Iterator[StepEvent]:
        self.purged_at = time.time()
        varnish = self.farm.endpoints.varnish
        for inst in varnish.instances if varnish else ():
            s = f"ban varnish {inst.name}"
            yield StepEvent("started", s, self.ban_expression)
            try:
                farm_varnish.ban(self.farm, inst, self.ban_expression, varnish.timeout)
            except Exception as exc:  # noqa: BLE001 - reported as the step's failure
                yield StepEvent("failed", s, str(exc))
                return
            yield StepEvent("done", s)
        if self.runtime is not None:
            yield StepEvent("started", RUNTIME_BAN)
            try:
                if self.domain is None:
                    said = self.runtime.purge_all(site_domains(self.farm))
                else:
                    from wpfarm_tui.sites.naming import names_for

                    said = self.runtime.purge(names_for(self.domain))
            except Exception as exc:  # noqa: BLE001 - reported as the step's failure
                yield StepEvent("failed", RUNTIME_BAN, str(exc).splitlines()[0])
                return
            if said.startswith("banned in 0 "):
                yield StepEvent("failed", RUNTIME_BAN, f"{said}: no Varnish task accepted the "
                                "BAN; see `wpfarm service logs cache_varnish`")
                return
            yield StepEvent("done", RUNTIME_BAN, said)
        endpoint = self.farm.endpoints.redis
        if endpoint is not None:
            s = "delete redis keys"
            yield StepEvent("started", s, f"{redis_prefix(self.domain)}*")
            try:
                master = farm_redis.current_master(endpoint)
                removed = farm_redis.unlink_prefix(endpoint, master, redis_prefix(self.domain))
            except Exception as exc:  # noqa: BLE001
                yield StepEvent("failed", s, str(exc))
                return
            yield StepEvent("done", s, f"{removed} key(s) on {master.name}")

    def verify(self) -> Verdict:
        if not self.farm.sites.edge_url:
            return Verdict(True, "purged; not checked through the edge (no sites.edge_url)")
        domains = [self.domain] if self.domain else site_domains(self.farm)[:VERIFY_SAMPLE]
        since = time.time() - (self.purged_at or time.time())
        details, ok = [], True
        for domain in domains:
            try:
                verdict, age = _age(self.farm, domain)
            except httpx.HTTPError as exc:
                ok = False
                details.append(f"{domain}: probe failed: {exc}")
                continue
            # A MISS, or a HIT on an object fetched after the purge by someone else: its
            # Age (whole seconds, rounded down) is at most `since - 1`. An object fetched
            # just before the purge has Age > since - 1: a tolerance beyond that would
            # call a purge that never happened fresh.
            fresh = verdict == "MISS" or (verdict == "HIT" and age is not None
                                          and age <= since - 1)
            ok = ok and fresh
            details.append(f"{domain}: {verdict or 'no cache header'}"
                           + (f", Age {age:.0f} s" if age is not None else ""))
        what = self.domain or f"{len(domains)} sampled site(s)"
        return Verdict(ok, f"{what}: the edge serves fresh content" if ok else
                       f"{what}: the edge still serves a cached copy", tuple(details))
