#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest against SQLite and against a throwaway PostgreSQL
# (browser tests in headless Chromium included). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/bootstrap.sh --test
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
unset DATABASE_URL TEST_DATABASE_URL APP_ENV
# the test command needs every part (../shared, Redis, the Nu checker, Java): a missing one fails
export VR_REQUIRE_ALL=1

# one command per line: with `set -e`, a failure on the left of && would not stop the script
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== import layers"
.venv/bin/lint-imports
echo "== mypy"
.venv/bin/mypy
.venv/bin/mypy --strict --follow-imports=silent -p calculator.tariffs

pgdir=$(mktemp -d /tmp/vr-test-pg.XXXXXX)
logs=$(mktemp -d /tmp/vr-test-logs.XXXXXX)
trap 'scripts/pg-throwaway.sh stop "$pgdir"; rm -rf "$logs"' EXIT
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=$(scripts/pg-throwaway.sh start "$pgdir" "$port")

# The two passes run side by side (they share nothing: other databases, other temporary
# directories, free ports), each writing its own log; both logs are shown, and both must pass.
# each pass gets half the cores; with 4 or more, pytest-xdist spreads it over them (a file's tests
# stay together). TEST_WORKERS overrides the number of workers per pass (1: no xdist).
workers=${TEST_WORKERS:-$(( $(nproc) / 2 ))}
parallel=()
if [ "$workers" -ge 2 ]; then parallel=(-n "$workers" --dist loadfile); fi
echo "== pytest on SQLite and on PostgreSQL, in parallel (${workers} worker(s) each)"
set +e
# the database outage test stops a PostgreSQL server of its own: run once (PostgreSQL pass)
.venv/bin/python -m pytest -p no:cacheprovider "${parallel[@]}" \
  --deselect tests/integration/test_database_outage.py --deselect tests/integration/test_dead_connection.py \
  "$@" > "$logs/sqlite.log" 2>&1 &
sqlite_pid=$!
# the axe/Nu checks of every page, the phone layouts, the login/first-price pages and the phone journey
# of a self-registration look at HTML and layout, which do not depend on the database: run once
# (SQLite; the registration's limits have their PostgreSQL tests); the money journeys run on both; the
# SQLite writer waits are about SQLite: run once (SQLite)
TEST_DATABASE_URL="$url" .venv/bin/python -m pytest -p no:cacheprovider "${parallel[@]}" \
  --deselect "tests/browser/test_pages_checked.py::test_every_page_passes_axe_and_the_nu_html_checker[chromium]" \
  --deselect tests/browser/test_portal_phone.py --deselect tests/browser/test_dashboard.py \
  --deselect tests/browser/test_first_price.py --deselect tests/browser/test_login_journey.py \
  --deselect tests/browser/test_registration_journey.py \
  --deselect tests/integration/test_sqlite_waits.py \
  "$@" > "$logs/postgresql.log" 2>&1
pg_status=$?
wait "$sqlite_pid"
sqlite_status=$?
set -e
echo "== pytest on SQLite (exit $sqlite_status)"
cat "$logs/sqlite.log"
echo "== pytest on PostgreSQL (exit $pg_status)"
cat "$logs/postgresql.log"
if [ "$sqlite_status" -ne 0 ] || [ "$pg_status" -ne 0 ]; then
  echo "== FAILED: SQLite exit $sqlite_status, PostgreSQL exit $pg_status"
  exit 1
fi

echo "== test command finished in $(( $(date +%s) - start )) s"
