"""Where a site runs: the part of site create/delete that differs between farms.

The database, the registry and the caches are the same everywhere; serving
the site is not. `SiteRuntime` is that difference: the loopback lab serves
sites from its own nginx + php-fpm behind Traefik's file provider
(`LabSiteRuntime`); a Swarm farm runs one service per site with Traefik labels
(`SwarmSiteRuntime`; farm.yaml `sites.runtime` chooses, the profile decides by
default). Every method is idempotent and says whether it changed anything, so a
re-run skips what exists and an undo removes only what this run created.
"""

from __future__ import annotations

from wpfarm_tui.farm.logs import LogStream
from wpfarm_tui.inventory import Farm
from wpfarm_tui.sites.model import SiteConfig, SiteRuntime
from wpfarm_tui.sites.naming import DomainError, names_for, validate_domain
from wpfarm_tui.steps import ActionError


def runtime_for(farm: Farm) -> tuple[SiteRuntime, str]:
    """(where sites run, the host their database user connects from)."""
    if farm.is_loopback_lab:
        from wpfarm_tui.lab import Lab
        from wpfarm_tui.sites.lab_runtime import LabSiteRuntime

        root = farm.source.parent if farm.source else None
        return LabSiteRuntime(Lab(root)), "127.0.0.1"
    from wpfarm_tui.sites.swarm_runtime import SwarmRuntimeError, SwarmSiteRuntime
    from wpfarm_tui.stacks.deploy import DeployError

    try:
        # Containers reach the database from overlay addresses: any host.
        return SwarmSiteRuntime(farm), "%"
    except (SwarmRuntimeError, DeployError) as exc:
        raise ActionError(f"sites.runtime swarm: {exc}") from None


def site_log_stream(farm: Farm, domain: str, tail: int = 100, follow: bool = True
                    ) -> LogStream:
    """A site's logs wherever it runs (the lab's nginx files, a Swarm service's tasks)."""
    try:
        names = names_for(validate_domain(domain))
    except DomainError as exc:
        raise ActionError(str(exc)) from None
    runtime, _ = runtime_for(farm)
    return runtime.log_stream(names, tail=tail, follow=follow)

__all__ = ["SiteConfig", "SiteRuntime", "runtime_for", "site_log_stream"]
