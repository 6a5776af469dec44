"""Customer onboarding (access link, access code, first password) and the customer portal."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask


def _load_customer(session: so.Session, token: str) -> object:
    from onboarding.models import Customer

    return session.scalar(sa.select(Customer).where(Customer.session_token == token, Customer.is_active.is_(True)))


def init_app(app: Flask) -> None:
    from onboarding import portal, views

    app.register_blueprint(views.bp)
    app.register_blueprint(portal.bp)
    app.extensions["user_loaders"]["customer"] = _load_customer
