#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests, on 127.0.0.1 only.
#
#   scripts/postgres.sh start    install if missing, create the cluster once, start it, print its URL
#   scripts/postgres.sh stop     stop it (the cluster stays for a quick restart)
#   scripts/postgres.sh url      print the URL
#   scripts/postgres.sh status   say whether it runs
#   scripts/postgres.sh clean    stop it and delete the cluster
#
#   TEST_DATABASE_URL=$(scripts/postgres.sh start) .venv/bin/pytest tests/models tests/unit
#
# PostgreSQL refuses to run as root: as root the server tools run as the postgres user (runuser);
# as any other user they run as that user. The cluster lives in .pgtest/ (gitignored) when that
# user can reach it, otherwise in a fresh directory under /var/tmp recorded in .pgtest/cluster-dir.
set -euo pipefail

PORT="${PGTEST_PORT:-54329}"
HOST=127.0.0.1
URL="postgresql+psycopg://postgres@${HOST}:${PORT}/postgres"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$REPO/.pgtest"

say() { echo "postgres.sh: $*" >&2; }

server_user() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }

as_server() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

find_bin() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; fi
}

install_server() {
    if [ "$(id -u)" != 0 ]; then
        say "PostgreSQL server binaries are missing; run as root to install them with apt-get"
        exit 1
    fi
    say "installing PostgreSQL with apt-get"
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2
}

pgbin() {
    local bin
    bin="$(find_bin)"
    if [ -z "$bin" ]; then
        install_server
        bin="$(find_bin)"
    fi
    if [ -z "$bin" ]; then say "no initdb found under /usr/lib/postgresql/*/bin"; exit 1; fi
    echo "$bin"
}

# The directory holding data/ and server.log, created once and owned by the server user.
cluster_dir() {
    local dir user
    user="$(server_user)"
    mkdir -p "$STATE"
    if [ -f "$STATE/cluster-dir" ]; then
        dir="$(cat "$STATE/cluster-dir")"
        if [ -d "$dir" ]; then echo "$dir"; return; fi
    fi
    dir="$STATE/cluster"
    install -d -m 0700 -o "$user" "$dir"
    if ! as_server test -w "$dir"; then
        rmdir "$dir"
        # The checkout is not reachable by the server's user (e.g. under a private home): use the
        # system's temporary directory, which every user can traverse.
        dir="$(TMPDIR= mktemp -d -t payfriend-pgtest.XXXXXX)"
        chown "$user" "$dir"
        chmod 0700 "$dir"
    fi
    echo "$dir" > "$STATE/cluster-dir"
    echo "$dir"
}

running() {
    local bin="$1" dir="$2"
    [ -f "$dir/data/PG_VERSION" ] && as_server "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

start() {
    local bin dir
    bin="$(pgbin)"
    dir="$(cluster_dir)"
    if running "$bin" "$dir"; then
        echo "$URL"
        return
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_server "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
    fi
    as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o \
        "-c listen_addresses=$HOST -p $PORT -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null
    for _ in $(seq 1 100); do
        if "$bin/pg_isready" -q -h "$HOST" -p "$PORT"; then
            echo "$URL"
            return
        fi
        sleep 0.1
    done
    say "the server did not become ready; see $dir/server.log"
    exit 1
}

stop() {
    local bin dir
    [ -f "$STATE/cluster-dir" ] || { say "not running"; return; }
    bin="$(find_bin)"
    dir="$(cat "$STATE/cluster-dir")"
    if [ -n "$bin" ] && running "$bin" "$dir"; then
        as_server "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
        say "stopped"
    else
        say "not running"
    fi
}

status() {
    local bin dir
    bin="$(find_bin)"
    if [ -n "$bin" ] && [ -f "$STATE/cluster-dir" ]; then
        dir="$(cat "$STATE/cluster-dir")"
        if running "$bin" "$dir"; then echo "running: $URL"; return; fi
    fi
    echo "stopped"
    return 3
}

clean() {
    stop
    if [ -f "$STATE/cluster-dir" ]; then
        rm -rf "$(cat "$STATE/cluster-dir")"
        rm -f "$STATE/cluster-dir"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) echo "$URL" ;;
    status) status ;;
    clean) clean ;;
    *) echo "usage: $0 start|stop|url|status|clean" >&2; exit 2 ;;
esac
