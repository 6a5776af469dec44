#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest against SQLite and against a throwaway PostgreSQL
# (browser tests in headless Chromium included). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/bootstrap.sh --test
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
unset DATABASE_URL TEST_DATABASE_URL APP_ENV

# one command per line: with `set -e`, a failure on the left of && would not stop the script
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== import layers"
.venv/bin/lint-imports
echo "== mypy"
.venv/bin/mypy
.venv/bin/mypy --strict --follow-imports=silent -p calculator.tariffs

echo "== pytest on SQLite"
.venv/bin/python -m pytest -p no:cacheprovider "$@"

pgdir=$(mktemp -d /tmp/vr-test-pg.XXXXXX)
trap 'scripts/pg-throwaway.sh stop "$pgdir"' EXIT
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=$(scripts/pg-throwaway.sh start "$pgdir" "$port")
echo "== pytest on PostgreSQL"
# the axe/Nu checks of every page look at HTML, which does not depend on the database: run once (SQLite)
TEST_DATABASE_URL="$url" .venv/bin/python -m pytest -p no:cacheprovider \
  --deselect "tests/browser/test_pages_checked.py::test_every_page_passes_axe_and_the_nu_html_checker[chromium]" "$@"

echo "== test command finished in $(( $(date +%s) - start )) s"
