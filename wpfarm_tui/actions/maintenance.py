"""Maintenance mode for one site or every site: the site answers 503 with Retry-After.

The web servers check a flag file per site (`<flag_dir>/<domain>`) and one for every site
(`<flag_dir>/all`); in the lab, nginx does (`wpfarm_tui/lab/templates/nginx-server.conf`).
Varnish does not cache a 503 (the builtin VCL makes it uncacheable), but it still holds the
site's 200 pages, so turning maintenance on or off also bans the site's objects.

The flag directory is not in the farm file yet: the action takes it as an argument (the
lab keeps it next to its farm.yaml). On a Swarm farm one site's flag lives in its own
wp-content (the image's nginx checks it), set through the site runtime, which also bans
the site's pages in every Varnish (`runtime=`). "Every site" there is a second flag in
each registered site's wp-content, set by one job: turning it off leaves the sites that
were suspended one by one suspended (as the lab's `all` flag does).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from wpfarm_tui.actions.base import ActionError, Step, StepEvent, Verdict
from wpfarm_tui.actions.cache import check_domain, site_domains
from wpfarm_tui.farm import varnish as farm_varnish
from wpfarm_tui.inventory import Farm

ALL_FLAG = "all"
VERIFY_SAMPLE = 5


class Maintenance:
    def __init__(self, farm: Farm, domain: str | None = None, *, on: bool,
                 all_sites: bool = False, flag_dir: Path | None = None, runtime: Any = None):
        if all_sites == (domain is not None):
            raise ActionError("domain: give one site's domain, or --all for every site")
        if flag_dir is None and runtime is None and not farm.is_loopback_lab:
            # A Swarm farm: the flags live in the sites' wp-content, set by its runtime.
            from wpfarm_tui.sites.runtime import runtime_for

            runtime, _host = runtime_for(farm)
        if flag_dir is None and runtime is None:
            raise ActionError("flag_dir: unknown; pass --flag-dir DIR (the directory the web "
                              "servers check for maintenance flag files)")
        self.farm = farm
        self.domain = None if all_sites else check_domain(domain)
        self.all_sites = all_sites
        self.on = on
        self.runtime = runtime
        self.flag_dir = Path(flag_dir) if flag_dir is not None else None
        self.name = f"maintenance-{'all-' if all_sites else ''}{'on' if on else 'off'}"
        self.title = f"Maintenance {'on' if on else 'off'}"
        self.destructive = on and all_sites

    @property
    def flag(self) -> Path | str:
        if self.flag_dir is None:
            return f"{self.domain}'s wp-content" if self.domain else \
                "every site's wp-content (.wpfarm-maintenance-all)"
        return self.flag_dir / (self.domain or ALL_FLAG)

    def describe(self) -> Mapping[str, Any]:
        return {"domain": self.domain, "all": self.all_sites, "flag": str(self.flag)}

    def _ban(self) -> str:
        return f"obj.http.x-host == {self.domain}" if self.domain else "obj.status != 0"

    def plan(self) -> list[Step]:
        what = self.domain or "every site"
        steps = [Step(f"{'create' if self.on else 'remove'} flag {self.flag}",
                      f"{what} {'answers 503 + Retry-After' if self.on else 'serves again'}",
                      destructive=self.destructive)]
        if self.runtime is not None:
            steps.append(Step("ban cached pages", "BAN in every Varnish, from inside the farm"))
        elif self.farm.endpoints.varnish:
            steps.append(Step("ban cached pages", f"varnishadm ban {self._ban()}"))
        steps.append(Step("verify through the edge",
                          "503 with Retry-After" if self.on else "not 503"))
        return steps

    def run(self) -> Iterator[StepEvent]:
        if self.runtime is not None:
            yield from self._run_on_runtime()
            return
        s = f"{'create' if self.on else 'remove'} flag {self.flag}"
        assert isinstance(self.flag, Path)
        if self.on and self.flag.exists():
            yield StepEvent("skipped", s, "already in maintenance")
        elif not self.on and not self.flag.exists():
            yield StepEvent("skipped", s, "not in maintenance (by this flag)")
        else:
            yield StepEvent("started", s)
            try:
                if self.on:
                    self.flag.parent.mkdir(parents=True, exist_ok=True)
                    self.flag.write_text("wpfarm maintenance\n")
                    self.flag.chmod(0o644)
                else:
                    self.flag.unlink(missing_ok=True)
            except OSError as exc:
                yield StepEvent("failed", s, f"{exc.strerror}: {self.flag}")
                return
            yield StepEvent("done", s)
        varnish = self.farm.endpoints.varnish
        if varnish:
            s = "ban cached pages"
            yield StepEvent("started", s, self._ban())
            try:
                for inst in varnish.instances:
                    farm_varnish.ban(self.farm, inst, self._ban(), varnish.timeout)
            except Exception as exc:  # noqa: BLE001
                yield StepEvent("failed", s, str(exc))
                return
            yield StepEvent("done", s)

    def _run_on_runtime(self) -> Iterator[StepEvent]:
        from wpfarm_tui.sites.naming import names_for

        s = f"{'create' if self.on else 'remove'} flag {self.flag}"
        runtime = self.runtime
        if self.domain is None:
            problems: list[str] = []
            domains = site_domains(self.farm, problems)
            for problem in problems:  # a row that fails validation is reported, not used
                yield StepEvent("output", s, problem)
            yield StepEvent("started", s, f"{len(domains)} known sites")
            set_flags = partial(runtime.set_maintenance_all, domains, self.on)
            ban = partial(runtime.purge_all, domains)
        else:
            names = names_for(self.domain)
            yield StepEvent("started", s)
            set_flags = partial(runtime.set_maintenance, names, self.on)
            ban = partial(runtime.purge, names)
        try:
            changed = set_flags()
        except Exception as exc:  # noqa: BLE001 - reported as the step's failure
            yield StepEvent("failed", s, _first_line(exc))
            return
        if self.domain is None:
            said = f"{int(changed)} of {len(domains)} sites changed"
        else:
            said = "" if changed else "already so"
        yield StepEvent("done" if changed else "skipped", s, said)
        s = "ban cached pages"
        yield StepEvent("started", s)
        try:
            yield StepEvent("done", s, ban())
        except Exception as exc:  # noqa: BLE001
            yield StepEvent("failed", s, _first_line(exc))

    def _sample(self) -> list[str]:
        """The sites the verdict probes: this one, or a few of every site; after "all
        off", not those suspended one by one (they stay 503 on purpose)."""
        if self.domain:
            return [self.domain]
        domains = site_domains(self.farm)
        if not self.on and self.farm.endpoints.galera is not None:
            from wpfarm_tui.sites.registry import Registry

            try:
                suspended = {r.domain for r in
                             Registry(self.farm.endpoints.galera).list(state="suspended")}
            except Exception:  # noqa: BLE001 - the probe then reports what it sees
                suspended = set()
            domains = [d for d in domains if d not in suspended]
        return domains[:VERIFY_SAMPLE]

    def verify(self) -> Verdict:
        if not self.farm.sites.edge_url:
            return Verdict(True, "flag set; not checked through the edge (no sites.edge_url)")
        domains = self._sample()
        details, ok = [], True
        with httpx.Client(timeout=self.farm.sites.timeout,
                          verify=self.farm.sites.verify_tls) as client:
            for domain in domains:
                try:
                    r = client.get(self.farm.sites.edge_url + "/", headers={"Host": domain})
                except httpx.HTTPError as exc:
                    ok = False
                    details.append(f"{domain}: probe failed: {exc}")
                    continue
                retry = r.headers.get("retry-after")
                # Off: the site serves again, so any 5xx (a 502 is not "back") fails it.
                good = (r.status_code == 503 and bool(retry)) if self.on else \
                    r.status_code < 500
                ok = ok and good
                details.append(f"{domain}: HTTP {r.status_code}"
                               + (f", Retry-After {retry}" if retry else ""))
        what = self.domain or "every site"
        if self.on:
            summary = f"{what} in maintenance (503 + Retry-After)" if ok else \
                f"{what} does not answer 503 with Retry-After"
        else:
            summary = f"{what} serves again" if ok else f"{what} does not serve again (5xx)"
        return Verdict(ok, summary, tuple(details))


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else repr(exc)
