#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for the store tests.
#   scripts/pg-test-cluster.sh start         -> prints postgresql://postgres@127.0.0.1:PORT/nimbus_test
#   scripts/pg-test-cluster.sh stop [URL]    -> stops that cluster (default: the last one started)
#                                               and removes its directory
# Each cluster has a state file $PG_TEST_STATE_DIR/PORT.env (default .build/pg-test-clusters),
# so concurrent runs in one checkout do not stop each other's cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE_DIR=${PG_TEST_STATE_DIR:-$PWD/.build/pg-test-clusters}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
[[ -x $PGBIN/pg_ctl ]] || { echo "pg-test-cluster: no PostgreSQL server found (run scripts/install-deps.sh)" >&2; exit 1; }

# PostgreSQL refuses to run as root: run its tools as the `postgres` user then.
as_pg() { if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start() {
    local dir port url
    dir=$(mktemp -d /tmp/nimbus-pg.XXXXXX)
    chmod 755 "$dir"
    if ((EUID == 0)); then chown postgres: "$dir"; fi
    port=$(free_port)
    url="postgresql://postgres@127.0.0.1:$port/nimbus_test"
    mkdir -p "$STATE_DIR"
    printf 'PG_DIR=%q\nPG_PORT=%q\nPG_BIN=%q\nPG_URL=%q\n' "$dir" "$port" "$PGBIN" "$url" > "$STATE_DIR/$port.env"
    ln -sfn "$port.env" "$STATE_DIR/last"
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; stop "$port"; exit 1; }
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500" \
        start >/dev/null || { cat "$dir/server.log" >&2; stop "$port"; exit 1; }
    as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
        -c 'CREATE DATABASE nimbus_test' >/dev/null
    echo "$url"
}

stop() {
    local which=${1:-last} state
    which=${which##*127.0.0.1:}   # accept a URL, a port or "last"
    which=${which%%/*}
    if [[ $which == last ]]; then state=$STATE_DIR/last; else state=$STATE_DIR/$which.env; fi
    [[ -e $state ]] || { echo "pg-test-cluster: no cluster to stop ($state missing)" >&2; return 0; }
    # shellcheck disable=SC1090
    source "$state"
    if [[ -d $PG_DIR/data ]]; then
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$PG_DIR" "$STATE_DIR/$PG_PORT.env"
    if [[ $(readlink "$STATE_DIR/last" 2>/dev/null) == "$PG_PORT.env" ]]; then rm -f "$STATE_DIR/last"; fi
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-last}" ;;
    *) echo "usage: $0 start | stop [URL|PORT]" >&2; exit 2 ;;
esac
