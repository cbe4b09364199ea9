#!/bin/sh
# ProxySQL start wrapper for farm @@FARM_NAME@@ (rendered by wpfarm): fills the
# __SECRET_<name>__ placeholders of the rendered proxysql.cnf from /run/secrets/<name>
# into a private copy, then runs ProxySQL in the foreground on it.
set -eu
src=/etc/proxysql/proxysql.cnf.tmpl
dst=/var/lib/proxysql/proxysql.cnf
umask 077
names="proxysql_admin_password proxysql_monitor_password mariadb_wordpress_password"
for name in $names; do
    if [ ! -r "/run/secrets/$name" ]; then
        echo "proxysql-start: missing Docker secret $name" >&2
        exit 1
    fi
done
# awk reads each secret from its file: a value given to sed or awk as an argument would be
# on the command line, which every process on the node can read in /proc.
awk -v names="$names" '
    BEGIN {
        n = split(names, name, " ")
        for (i = 1; i <= n; i++) {
            getline value[i] < ("/run/secrets/" name[i])
            sub(/\r$/, "", value[i])
            mark[i] = "__SECRET_" name[i] "__"
        }
    }
    {
        for (i = 1; i <= n; i++) {
            # index/substr, not gsub: a secret is text, never a pattern or "&".
            rest = $0
            $0 = ""
            while ((at = index(rest, mark[i])) > 0) {
                $0 = $0 substr(rest, 1, at - 1) value[i]
                rest = substr(rest, at + length(mark[i]))
            }
            $0 = $0 rest
        }
        print
    }' "$src" > "$dst"
exec proxysql -f --idle-threads -c "$dst" -D /var/lib/proxysql "$@"
