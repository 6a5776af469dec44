"""The broker API (/api/v1): OAuth2 client credentials, quotes, offers, applications, contracts,
documents as deliveries, eVB, webhooks — for comparison platforms and broker management systems.
It sits on top: it calls the pages' services and adds no rule of its own."""

from __future__ import annotations

from flask import Flask
from limits import parse as parse_limit

from core import crypto, db, navigation
from core.authz import MANAGER_AREA
from core.config import ConfigError
from core.errors import register_renderer
from messaging.transports import WEBHOOK_SECRETS
from messaging.worker import register_task

_connected = False


def init_app(app: Flask) -> None:
    global _connected
    from api import events, housekeeping, pages, views, webhooks
    from api.oauth import init_server

    try:  # a wrong limit would answer every API call with a 500: refuse it at start-up
        parse_limit(app.config["API_RATE_LIMIT"])
    except ValueError as error:
        raise ConfigError(f"API_RATE_LIMIT is not a limit like '600 per minute': {error}") from error
    app.register_blueprint(views.bp)
    app.register_blueprint(pages.bp)
    app.extensions["api_oauth_server"] = init_server(app)
    app.extensions[webhooks.KEY_RING] = crypto.SecretBox.from_config(app.config)
    app.extensions[WEBHOOK_SECRETS] = lambda endpoint_id: webhooks.secret_of(db.session, endpoint_id)
    register_renderer(app, "/api/", views.problem_for_error)
    hours = int(app.config["API_IDEMPOTENCY_HOURS"])
    register_task(app, lambda session: housekeeping.purge(session, hours))
    navigation.register(app, "API-Zugänge", "api_pages.clients_page", MANAGER_AREA, order=47)
    if not _connected:
        events.connect()
        _connected = True
