#!/bin/sh
# Start Redis or Sentinel from the rendered config (farm @@FARM_NAME@@; rendered by wpfarm).
# usage: start.sh redis|sentinel CONFIG [extra redis-server arguments...]
# The password is read from the Docker secret at start and written only inside the
# container's /data copy; the rendered files never hold it.
set -eu
kind="$1"
src="$2"
shift 2
secret=/run/secrets/redis_password
mkdir -p /data
if [ "$kind" = sentinel ]; then
    conf=/data/sentinel.conf
    # Keep the state Sentinel wrote after a failover; seed it only the first time.
    if [ ! -s "$conf" ]; then
        cp "$src" "$conf"
        if [ -r "$secret" ]; then
            for master in @@SENTINEL_MASTER_NAMES@@; do
                printf 'sentinel auth-pass %s "%s"\n' "$master" "$(cat "$secret")" >> "$conf"
            done
        fi
    fi
    exec redis-server "$conf" --sentinel "$@"
fi
conf=/data/redis.conf
cp "$src" "$conf"
if [ -r "$secret" ]; then
    pw="$(cat "$secret")"
    printf 'requirepass "%s"\nmasterauth "%s"\n' "$pw" "$pw" >> "$conf"
fi
exec redis-server "$conf" "$@"
