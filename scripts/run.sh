#!/usr/bin/env bash
# The embedded default: SQLite in instance/, demo data, dev mailbox. http://127.0.0.1:${PORT:-5000}
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export APP_ENV="${APP_ENV:-development}" FLASK_APP=wsgi PORT="${PORT:-5000}"
.venv/bin/flask db upgrade
.venv/bin/flask demo seed
.venv/bin/flask demo history  # once: a year of onboarding for Kennzahlen (~20 s)
echo "Vermittler-Rechner läuft auf http://127.0.0.1:${PORT} — Demo-Logins: siehe README"
exec .venv/bin/flask run --host 127.0.0.1 --port "${PORT}"
