"""Every image the farm runs, pinned in ONE place.

`render_farm(..., versions={"traefik": "traefik:v3.7.1"})` overrides an entry;
an unknown key is an error (a misspelt override must not be silently ignored).
Tags are pinned to a release, never `latest`: a redeploy must not change what runs.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_VERSIONS: dict[str, str] = {
    # edge and security
    "traefik": "traefik:v3.7.1",
    "crowdsec": "crowdsecurity/crowdsec:v1.6.8",
    # the Traefik plugin github.com/maxlerebourg/crowdsec-bouncer-traefik-plugin
    "crowdsec_bouncer_plugin": "v1.4.2",
    # cache
    "varnish": "varnish:7.6.1",  # base of the custom image docker/images/varnish
    "redis": "redis:7.4.2-bookworm",
    # database
    "mariadb": "mariadb:11.4.5",  # ships galera-4 and mariadb-backup
    "proxysql": "proxysql/proxysql:2.7.2",
    # application
    "debian": "debian:bookworm-slim",  # base of the wordpress and backup images
    "wordpress": "6.7.2",  # WordPress core, installed by the image's entrypoint via WP-CLI
    "wp_cli": "2.11.0",
    "wp_cli_image": "wordpress:cli-2.11.0-php8.2",  # build stage that provides wp-cli.phar
    "restic": "0.17.3",
    # observability
    "grafana": "grafana/grafana:11.5.2",
    "mimir": "grafana/mimir:2.15.0",
    "loki": "grafana/loki:3.4.2",
    "tempo": "grafana/tempo:2.7.1",
    "alloy": "grafana/alloy:v1.7.1",
    "node_exporter": "prom/node-exporter:v1.9.0",
    "cadvisor": "gcr.io/cadvisor/cadvisor:v0.51.0",
    "mysqld_exporter": "prom/mysqld-exporter:v0.17.2",
    "redis_exporter": "oliver006/redis_exporter:v1.67.0",
    "varnish_exporter": "jonnenauha/prometheus_varnish_exporter:1.6.1",
    # management
    "portainer": "portainer/portainer-ce:2.27.1",
    "portainer_agent": "portainer/agent:2.27.1",
    # the farm's own image registry, started by `wpfarm bootstrap`
    "registry": "registry:2.8.3",
    # the farm's own images, built from docker/images/* and pushed to the farm's registry
    "image_wordpress": "wpfarm/wordpress:1.0.0",
    "image_varnish": "wpfarm/varnish:1.0.0",
    "image_backup": "wpfarm/backup:1.0.0",
}


class VersionError(ValueError):
    pass


def resolve_versions(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The defaults with `overrides` applied; unknown names are rejected."""
    out = dict(DEFAULT_VERSIONS)
    for key, value in (overrides or {}).items():
        if key not in DEFAULT_VERSIONS:
            known = ", ".join(sorted(DEFAULT_VERSIONS))
            raise VersionError(f"unknown image version {key!r}; known: {known}")
        if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
            raise VersionError(f"version for {key!r} must be a non-empty string without spaces")
        out[key] = value.strip()
    return out
