"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi …``."""

import sys

from core.app import create_app
from core.config import ConfigError

try:
    app = create_app()
except ConfigError as error:  # one line saying what to set, not a traceback
    print(f"Konfiguration unvollständig: {error}", file=sys.stderr)
    raise SystemExit(2) from None
