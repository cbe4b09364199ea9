#!/bin/bash
# Galera start wrapper for farm @@FARM_NAME@@ (rendered by wpfarm).
# The official mariadb image never bootstraps a cluster by itself. Bootstrapping is an
# explicit operator decision: deploy once with WPFARM_GALERA_BOOTSTRAP=<node name> (e.g.
# `WPFARM_GALERA_BOOTSTRAP=db1 docker stack deploy -c mariadb.yml db`), then redeploy
# without it. Only the named node starts with --wsrep-new-cluster, and only when its
# grastate.dat says it is safe (a new datadir, or safe_to_bootstrap: 1).
set -euo pipefail
node="${WPFARM_GALERA_NODE:?WPFARM_GALERA_NODE is not set}"
bootstrap="${WPFARM_GALERA_BOOTSTRAP:-}"
datadir=/var/lib/mysql
# The task's own IP, not its name: Swarm's DNS lists a task only once it is healthy, so
# during a joiner's state transfer the donor could not resolve the joiner's name.
args=("--wsrep_node_name=${node}" "--wsrep_node_address=$(hostname -i | awk '{print $1}')")

if [ -r /run/secrets/galera_sst_password ]; then
    umask 077
    printf '[mysqld]\nwsrep_sst_auth=mariabackup:%s\n' "$(cat /run/secrets/galera_sst_password)" \
        > /etc/mysql/conf.d/zz-sst-auth.cnf
    chown mysql:mysql /etc/mysql/conf.d/zz-sst-auth.cnf
fi

if [ "$bootstrap" = "$node" ]; then
    state="$datadir/grastate.dat"
    if [ -f "$state" ] && ! grep -q '^safe_to_bootstrap: *1' "$state"; then
        echo "galera-start: refusing to bootstrap ${node}: ${state} has safe_to_bootstrap: 0." >&2
        echo "galera-start: run the wpfarm Galera recovery (it picks the node with the highest" >&2
        echo "galera-start: seqno) instead of forcing a new cluster here." >&2
        exit 1
    fi
    echo "galera-start: bootstrapping a new cluster from ${node}" >&2
    args+=("--wsrep-new-cluster")
fi
exec docker-entrypoint.sh mariadbd "${args[@]}" "$@"
