#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL for the test suite (RECIPES.md). Root-safe: runs as postgres.
#   scripts/pg-throwaway.sh start DIR PORT   -> prints the DATABASE_URL
#   scripts/pg-throwaway.sh stop DIR
#   scripts/pg-throwaway.sh halt DIR          -> the server stops, its data stays (an outage in a test)
#   scripts/pg-throwaway.sh resume DIR PORT   -> the halted server runs again on PORT
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?data directory}

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  ls /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -1
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

serve() {
  local port=$1
  as_postgres "$(find_bin pg_ctl)" -D "$dir/data" -w -l "$dir/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
}

case "$cmd" in
  start)
    port=${3:?port}
    initdb=$(find_bin initdb); pg_ctl=$(find_bin pg_ctl)
    [ -n "$initdb" ] && [ -n "$pg_ctl" ] || { echo "PostgreSQL server binaries not found" >&2; exit 1; }
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then useradd --system --home-dir "$dir" postgres; fi
    rm -rf "$dir"; mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_postgres "$initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log"
    serve "$port"
    as_postgres "$(find_bin createdb)" -h 127.0.0.1 -p "$port" -U postgres app
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/app"
    ;;
  stop)
    pg_ctl=$(find_bin pg_ctl)
    [ -d "$dir/data" ] && as_postgres "$pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  halt)
    as_postgres "$(find_bin pg_ctl)" -D "$dir/data" -w -m fast stop >/dev/null
    ;;
  resume)
    serve "${3:?port}"
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR | halt DIR | resume DIR PORT" >&2; exit 2 ;;
esac
