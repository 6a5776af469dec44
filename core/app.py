"""The application factory."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask, current_app, g, request, session
from flask_login import current_user
from jinja2.bccache import Bucket, BytecodeCache
from werkzeug.middleware.proxy_fix import ProxyFix

from core import (
    audit,
    clock,
    errors,
    formatting,
    legal,
    migrate,
    navigation,
    observability,
    passwords,
    security,
    sessions,
    storage,
)
from core.config import from_environment, load_config
from core.db import Database
from core.db import session as db_session
from core.extensions import csrf, htmx, limiter, login_manager
from core.model_registry import metadata
from core.users import load_by_login_token

log = logging.getLogger(__name__)


class _ProcessBytecodeCache(BytecodeCache):
    """Compiled templates kept for the process: an app created again in the same process (the test
    suite makes one per test, the CLI one per command) loads them instead of parsing every template
    anew. Jinja checks each entry against its template's source checksum."""

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            self._store[bucket.key] = bucket.bytecode_to_string()


_BYTECODE_CACHE = _ProcessBytecodeCache()

ROOT = Path(__file__).resolve().parent.parent
# feature packages, each with an init_app(app) that registers its blueprint, CLI and navigation
FEATURES = ("staff", "messaging", "calculator", "contracts", "onboarding", "agency", "api", "demo")


def create_app(test_config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Flask:
    """Create the app from the environment (or ``environ``); ``test_config`` overrides settings."""
    app = Flask(
        "calculator_app",
        root_path=str(ROOT),
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    config = load_config(environ, app.instance_path) if environ is not None else from_environment(app.instance_path)
    app.config.from_mapping(config)
    if test_config:
        app.config.from_mapping(test_config)
    if app.config.get("DELIVERY_WARNING"):
        log.warning("%s: e-mails and SMS go to the dev mailbox only", app.config["DELIVERY_WARNING"])

    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]

    passwords.configure(
        passwords.HashCost(
            time_cost=app.config["PASSWORD_HASH_TIME_COST"],
            memory_kib=app.config["PASSWORD_HASH_MEMORY_KIB"],
            parallelism=app.config["PASSWORD_HASH_PARALLELISM"],
        )
    )
    metadata()  # every model imported, so relationships resolve
    Database(app)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    formatting.init_app(app)
    navigation.init_app(app)
    legal.init_app(app)
    observability.init_app(app)
    migrate.init_app(app)
    storage.init_app(app)
    app.add_url_rule("/healthz", "healthz", _healthz)
    app.extensions["user_loaders"] = {"staff": load_by_login_token}
    app.extensions["session_policy"] = sessions.Policy(
        idle=timedelta(minutes=app.config["SESSION_IDLE_MINUTES"]),
        touch_every=timedelta(seconds=app.config["SESSION_TOUCH_SECONDS"]),
    )
    app.before_request(_keep_session_alive)
    for name in FEATURES:
        importlib.import_module(name).init_app(app)
    app.jinja_env.bytecode_cache = _BYTECODE_CACHE
    app.jinja_env.globals["audit_labels"] = audit.ACTION_LABELS
    # the icon inline (img-src allows data:): no extra request per page, and no file handle left
    # open when a browser drops that request
    icon = Path(app.static_folder or "static", "favicon.svg").read_text(encoding="utf-8")
    app.jinja_env.globals["favicon_uri"] = "data:image/svg+xml," + quote(" ".join(icon.split()))
    return app


def _healthz() -> tuple[str, int, dict[str, str]]:
    """Liveness for load balancers (and the trivial baseline of bench/live_endpoint.py)."""
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}


login_manager.login_view = "staff.login"
login_manager.login_message = "Bitte melden Sie sich an."
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(user_id: str) -> Any:
    """Session id "<kind>:<token>" (staff, customer); the token rotates when the password changes.
    Feature packages add loaders for their kinds to app.extensions["user_loaders"]."""
    kind, _, token = user_id.partition(":")
    loader = current_app.extensions["user_loaders"].get(kind)
    if loader is None or not token:
        return None
    started = session.get("login_at")
    max_age = current_app.config["SESSION_MAX_HOURS"] * 3600
    if started is None or clock.now().timestamp() - started > max_age:
        return None  # absolute session lifetime reached: log in again
    return loader(db_session(), token, current_app.extensions["session_policy"])


def _keep_session_alive() -> None:
    """Before a logged-in request: load the account (the idle check) and, at most once per
    SESSION_TOUCH_SECONDS, write the session's last activity — committed at once, before the view
    does anything (so it never commits a view's work, and on SQLite holds the write lock a moment)."""
    if request.endpoint == "static" or "_user_id" not in session:
        return
    current_user._get_current_object()
    session_id = g.pop("session_touch", None)
    if session_id is not None:
        s = db_session()
        sessions.touch(s, session_id, clock.now(), current_app.extensions["session_policy"])
        s.commit()
