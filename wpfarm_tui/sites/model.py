"""What a site runtime is (SiteConfig, the SiteRuntime protocol), apart from which one a farm
uses (sites/runtime.py picks it): the runtimes import this module, not the picker, so the
three files import in one direction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from wpfarm_tui.farm.logs import LogStream
from wpfarm_tui.sites.naming import SiteNames


@dataclass(frozen=True)
class SiteConfig:
    names: SiteNames
    db_host: str  # host:port the site's PHP connects to
    db_password: str  # handed to the runtime's secret store, never logged
    title: str
    admin_email: str


class SiteRuntime(Protocol):
    def store_secret(self, name: str, value: str) -> bool:
        """Keep a generated secret where the site reads it; False when it existed."""
        ...

    def read_secret(self, name: str) -> str | None: ...

    def remove_secret(self, name: str) -> bool: ...

    def ensure_media(self, names: SiteNames) -> bool: ...

    def remove_media(self, names: SiteNames) -> bool: ...

    def deploy(self, config: SiteConfig) -> bool:
        """Serve the site (service + router); False when it already runs as asked."""
        ...

    def undeploy(self, names: SiteNames) -> bool: ...

    def install_wordpress(self, config: SiteConfig, admin_password: str) -> bool:
        """Run the WordPress installer; False when the site was installed already."""
        ...

    def set_maintenance(self, names: SiteNames, on: bool) -> bool: ...

    def log_stream(self, names: SiteNames, tail: int = 100, follow: bool = True) -> LogStream:
        """The site's log lines (web server and PHP), following until closed."""
        ...

    def deployed(self, names: SiteNames) -> bool: ...

    def close(self) -> None:
        """Let go of clients the runtime opened (a Docker client over SSH, say)."""
        ...
