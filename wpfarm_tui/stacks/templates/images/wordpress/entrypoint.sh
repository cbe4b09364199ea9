#!/bin/bash
# Entrypoint of the WordPress image (farm @@FARM_NAME@@; rendered by wpfarm).
# Reads the site's settings from the environment and passwords from Docker secrets
# (/run/secrets/*), writes wp-config.php, installs core on first start, runs PHP-FPM and nginx.
set -euo pipefail

: "${WPFARM_SITE:?WPFARM_SITE (the site domain) is not set}"
: "${WORDPRESS_DB_NAME:?WORDPRESS_DB_NAME is not set}"
: "${WORDPRESS_DB_HOST:=proxysql:6033}"
: "${WORDPRESS_DB_USER:=wordpress}"
: "${WPFARM_REDIS_HOST:=redis-cache-1}"
: "${WPFARM_REDIS_PREFIX:=${WPFARM_SITE//./_}:}"
: "${WPFARM_REDIS_SESSIONS:=tcp://redis-sessions-1:6379}"
: "${WPFARM_VARNISH_HOST:=varnish}"
docroot=/var/www/html

secret() { tr -d '\n' < "/run/secrets/$1"; }

# PHP sessions in the sessions Redis, authenticated with the shared Redis secret.
redis_auth=""
if [ -r /run/secrets/redis_password ]; then
    redis_auth="?auth=$(secret redis_password)"
fi
umask 027
cat > /etc/php/8.2/fpm/conf.d/99-wpfarm.ini <<INI
session.save_handler = redis
session.save_path = "${WPFARM_REDIS_SESSIONS}${redis_auth}&prefix=${WPFARM_REDIS_PREFIX}sess:"
INI
chgrp www-data /etc/php/8.2/fpm/conf.d/99-wpfarm.ini

if [ ! -f "$docroot/wp-includes/version.php" ]; then
    wp core download --path="$docroot" --version="${WORDPRESS_VERSION}" --skip-content --allow-root
fi

# wp-config.php reads every secret at request time from /run/secrets: nothing is copied.
cat > "$docroot/wp-config.php" <<'PHP'
<?php
function wpfarm_secret($name) { return trim((string) @file_get_contents("/run/secrets/$name")); }
define('DB_NAME', getenv('WORDPRESS_DB_NAME'));
define('DB_USER', getenv('WORDPRESS_DB_USER'));
define('DB_PASSWORD', wpfarm_secret('mariadb_wordpress_password'));
define('DB_HOST', getenv('WORDPRESS_DB_HOST'));
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
$table_prefix = 'wp_';
foreach (['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY',
          'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT'] as $k) {
    define($k, hash('sha256', $k . wpfarm_secret('wordpress_salt') . getenv('WPFARM_SITE')));
}
define('WP_HOME', 'https://' . getenv('WPFARM_SITE'));
define('WP_SITEURL', 'https://' . getenv('WPFARM_SITE'));
define('FORCE_SSL_ADMIN', true);
$_SERVER['HTTPS'] = 'on';
// Layer 4 hardening: no theme/plugin editor, updates come with the image.
define('DISALLOW_FILE_EDIT', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_POST_REVISIONS', 10);
define('DISABLE_WP_CRON', true);   // cron runs from the farm's scheduler, not on page views
// Redis object cache (plugin redis-cache), one key prefix per site on the shared Redis.
define('WP_REDIS_CLIENT', 'phpredis');
define('WP_REDIS_SENTINEL', 'wpfarm-cache');
define('WP_REDIS_SERVERS', array_map(fn($h) => "tcp://$h:26379",
    explode(',', getenv('WPFARM_REDIS_SENTINELS') ?: 'sentinel-1')));
define('WP_REDIS_PASSWORD', wpfarm_secret('redis_password'));
define('WP_REDIS_PREFIX', getenv('WPFARM_REDIS_PREFIX'));
define('WP_CACHE_KEY_SALT', getenv('WPFARM_REDIS_PREFIX'));
// Proxy Cache Purge (plugin varnish-http-purge): purge requests go to Varnish.
define('VHP_VARNISH_IP', getenv('WPFARM_VARNISH_HOST'));
// ... with the farm's purge token, without which Varnish refuses PURGE and BAN. Set as a
// pre-initialised hook: WordPress adopts $wp_filter entries made before it loads.
$GLOBALS['wp_filter']['varnish_http_purge_headers'][10][] = ['accepted_args' => 1,
    'function' => function ($headers) {
        $headers['@@PURGE_TOKEN_HEADER@@'] = wpfarm_secret('@@PURGE_TOKEN_SECRET@@');
        return $headers;
    }];
define('WP_CACHE', true);
if (!defined('ABSPATH')) { define('ABSPATH', __DIR__ . '/'); }
require_once ABSPATH . 'wp-settings.php';
PHP
chown root:www-data "$docroot/wp-config.php"
chmod 0640 "$docroot/wp-config.php"

# `install`: the one-off job `wpfarm site create` runs with the site's own spec. The admin
# password comes as a Docker secret and reaches WP-CLI on its standard input, never on a
# command line.
if [ "${1:-}" = install ]; then
    # The media step's flag keeps the site unserved until this has run (nginx.conf).
    if wp core is-installed --path="$docroot" --allow-root; then
        rm -f "$docroot/wp-content/.wpfarm-installing"
        echo "already installed"
        exit 0
    fi
    wp core install --path="$docroot" --url="https://${WPFARM_SITE}" \
        --title="${WPFARM_SITE_TITLE:-$WPFARM_SITE}" --admin_user=admin \
        --admin_email="${WPFARM_ADMIN_EMAIL:-admin@$WPFARM_SITE}" --skip-email --allow-root \
        --prompt=admin_password < /run/secrets/wpfarm_admin_password
    rm -f "$docroot/wp-content/.wpfarm-installing"
    echo "installed"
    exit 0
fi

php-fpm8.2 --nodaemonize --fpm-config /etc/php/8.2/fpm/php-fpm.conf &
fpm=$!
trap 'kill -TERM "$fpm" 2>/dev/null; nginx -s quit 2>/dev/null' TERM INT
nginx &
wait -n
exit 1
