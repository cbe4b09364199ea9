#!/bin/sh
# ProxySQL start wrapper for farm @@FARM_NAME@@ (rendered by wpfarm): fills the
# __SECRET_<name>__ placeholders of the rendered proxysql.cnf from /run/secrets/<name>
# into a private copy, then runs ProxySQL in the foreground on it.
set -eu
src=/etc/proxysql/proxysql.cnf.tmpl
dst=/var/lib/proxysql/proxysql.cnf
umask 077
cp "$src" "$dst"
for name in proxysql_admin_password proxysql_monitor_password mariadb_wordpress_password; do
    file="/run/secrets/$name"
    if [ ! -r "$file" ]; then
        echo "proxysql-start: missing Docker secret $name" >&2
        exit 1
    fi
    # Secrets are generated as [A-Za-z0-9] strings; sed needs no escaping for them.
    value="$(tr -d '\n' < "$file")"
    sed -i "s|__SECRET_${name}__|${value}|g" "$dst"
done
exec proxysql -f --idle-threads -c "$dst" -D /var/lib/proxysql "$@"
