#!/usr/bin/env bash
# All benchmarks (bench/): pricing in process, KBA import/lookup/typeahead on SQLite and PostgreSQL,
# bulk switch, Bestand, and the live-premium endpoint under gunicorn + wrk. Prints figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test
command -v wrk >/dev/null || { SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo; $SUDO apt-get update -qq;
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null; }
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
py=.venv/bin/python
echo "== pricing";        $py -m bench.pricing
echo "== documents and policing"; $py -m bench.documents
echo "== vehicles (SQLite)"; $py -m bench.vehicles
pgdir=$(mktemp -d /tmp/vr-bench-pg.XXXXXX)
trap 'scripts/pg-throwaway.sh stop "$pgdir"' EXIT
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=$(scripts/pg-throwaway.sh start "$pgdir" "$port")
echo "== vehicles (PostgreSQL)"; $py -m bench.vehicles "$url"
echo "== outbox (PostgreSQL)"; $py -m bench.outbox "$url"
echo "== bulk switch and its letters (SQLite)"; $py -m bench.bulk_switch
echo "== bulk switch and its letters (PostgreSQL)"; $py -m bench.bulk_switch "$url"
echo "== Bestand with a status filter (SQLite, PostgreSQL)"; $py -m bench.bestand; $py -m bench.bestand "$url"
echo "== agency dashboard, 100,000 contracts (SQLite, PostgreSQL)"; $py -m bench.dashboard; $py -m bench.dashboard "$url"
echo "== forgot-password timing (SQLite)"; $py -m bench.forgot_timing
echo "== live endpoint (SQLite, PostgreSQL)";  $py -m bench.live_endpoint; $py -m bench.live_endpoint "$url"
