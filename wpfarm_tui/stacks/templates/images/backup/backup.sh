#!/bin/bash
# Farm backups (farm @@FARM_NAME@@; rendered by wpfarm): restic to S3 (DO Spaces).
#   backup.sh db        one mariadb-dump per site database, streamed into restic
#   backup.sh files     the sites' wp-content from GlusterFS
#   backup.sh prune     keep 24 hourly, 7 daily, 4 weekly, 12 monthly
#   backup.sh schedule  db every hour, files + prune every day at BACKUP_DAILY_HOUR (UTC)
# Credentials come from Docker secrets (*_FILE variables), never from this file.
set -euo pipefail

: "${RESTIC_REPOSITORY:?RESTIC_REPOSITORY (s3:https://.../bucket/path) is not set}"
: "${RESTIC_PASSWORD_FILE:=/run/secrets/restic_password}"
: "${BACKUP_DB_HOST:=proxysql}"
: "${BACKUP_DB_PORT:=6033}"
: "${BACKUP_DB_USER:=backup}"
: "${BACKUP_DB_PASSWORD_FILE:=/run/secrets/mariadb_backup_password}"
: "${BACKUP_SITES_DIR:=/mnt/gluster/sites}"
: "${BACKUP_DAILY_HOUR:=2}"
export RESTIC_PASSWORD_FILE
AWS_ACCESS_KEY_ID="$(tr -d '\n' < "${AWS_ACCESS_KEY_ID_FILE:-/run/secrets/s3_access_key_id}")"
AWS_SECRET_ACCESS_KEY="$(tr -d '\n' < "${AWS_SECRET_ACCESS_KEY_FILE:-/run/secrets/s3_secret_access_key}")"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

log() { printf '%s backup: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }

ensure_repo() {
    restic cat config >/dev/null 2>&1 || restic init
}

mysql_defaults() {
    # A client option file in a private temp file: the password is never on a command line.
    local f
    f="$(mktemp)"
    chmod 600 "$f"
    printf '[client]\nhost=%s\nport=%s\nuser=%s\npassword=%s\n' "$BACKUP_DB_HOST" \
        "$BACKUP_DB_PORT" "$BACKUP_DB_USER" "$(tr -d '\n' < "$BACKUP_DB_PASSWORD_FILE")" > "$f"
    echo "$f"
}

backup_db() {
    ensure_repo
    local defaults db
    defaults="$(mysql_defaults)"
    trap 'rm -f "$defaults"' RETURN
    mariadb --defaults-extra-file="$defaults" -N -e \
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'wp\\_%' OR schema_name = 'wpfarm'" |
    while read -r db; do
        log "dumping $db"
        mariadb-dump --defaults-extra-file="$defaults" --single-transaction --quick \
            --routines --triggers --events "$db" |
            restic backup --stdin --stdin-filename "$db.sql" --tag db --tag "db:$db" --host wpfarm
    done
}

backup_files() {
    ensure_repo
    log "backing up $BACKUP_SITES_DIR"
    restic backup "$BACKUP_SITES_DIR" --tag files --host wpfarm --exclude-caches \
        --exclude '*/wp-content/cache/*'
}

prune() {
    restic forget --prune --host wpfarm --group-by host,tags \
        --keep-hourly 24 --keep-daily 7 --keep-weekly 4 --keep-monthly 12
}

schedule() {
    local last_daily=""
    while true; do
        backup_db || log "database backup FAILED"
        local today hour
        today="$(date -u +%F)"
        hour="$(date -u +%-H)"
        if [ "$today" != "$last_daily" ] && [ "$hour" -ge "$BACKUP_DAILY_HOUR" ]; then
            { backup_files && prune; } || log "daily backup FAILED"
            last_daily="$today"
        fi
        sleep $((3600 - $(date -u +%s) % 3600))
    done
}

case "${1:-schedule}" in
    db) backup_db ;;
    files) backup_files ;;
    prune) prune ;;
    schedule) schedule ;;
    *) echo "usage: backup.sh db|files|prune|schedule" >&2; exit 2 ;;
esac
