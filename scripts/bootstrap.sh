#!/usr/bin/env bash
# Install what is missing: Debian packages (as root, or via sudo) and the Python venv in .venv.
#   scripts/bootstrap.sh          what running the app needs
#   scripts/bootstrap.sh --test   plus what the test suite needs (Chromium, PostgreSQL, Redis, Java and
#                                 the Nu HTML Checker)
# Idempotent and quick when everything is there already.
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0; [ "${1:-}" = "--test" ] && want_test=1

missing=()
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required" >&2; exit 1; }
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v wkhtmltopdf >/dev/null || missing+=(wkhtmltopdf)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
if [ "$want_test" = 1 ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v java >/dev/null || missing+=(default-jre-headless)
  command -v npm >/dev/null || missing+=(npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# the Nu HTML Checker for the page tests (tests/browser/test_pages_checked.py), from the npm registry
VNU_VERSION=26.9.27
if [ "$want_test" = 1 ] && [ ! -f .tools/vnu.jar ]; then
  echo "Fetching the Nu HTML Checker (vnu-jar $VNU_VERSION)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack -q "vnu-jar@$VNU_VERSION" >/dev/null && tar xzf "vnu-jar-$VNU_VERSION.tgz" package/build/dist/vnu.jar)
  mkdir -p .tools && mv "$tmp/package/build/dist/vnu.jar" .tools/vnu.jar && rm -rf "$tmp"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
reqs=requirements.txt; [ "$want_test" = 1 ] && reqs=requirements-dev.txt
stamp=".venv/.installed-$(basename "$reqs" .txt)"
digest=$(cat requirements.txt "$reqs" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
  echo "Installing Python packages from $reqs"
  .venv/bin/pip install -q --disable-pip-version-check -r "$reqs" 2>&1 | grep -v "is ignored: it is neither" || true
  .venv/bin/python -c "import flask, sqlalchemy" # fail loudly if the install did not work
  echo "$digest" > "$stamp"
fi
