"""Customer onboarding (access link, access code, first password) and the customer portal."""

from __future__ import annotations

from typing import Any

import sqlalchemy.orm as so
from flask import Flask


def _load_customer(session: so.Session, token: str, policy: Any) -> object:
    from core import sessions
    from onboarding.models import PortalAccount

    return sessions.load(session, "customer", PortalAccount, token, policy)


def init_app(app: Flask) -> None:
    from contracts.signals import contact_answered, contract_policed, document_added
    from core import navigation
    from core.authz import BACKOFFICE_AREA
    from messaging.worker import register_task
    from onboarding import account, backoffice_views, cli, kontakt, portal, progress, registration, views
    from onboarding.invitations import on_contract_policed, on_document_added, post_expired_invitations
    from onboarding.login import process_reset_requests
    from onboarding.settings import OnboardingSettings

    progress.listen()  # the onboarding progress read model follows every ORM change of its sources
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.secrets_cli)
    app.cli.add_command(cli.onboarding_cli)
    app.register_blueprint(portal.bp)
    app.register_blueprint(account.bp)  # "Meine Daten", also under /portal
    app.register_blueprint(backoffice_views.bp)
    navigation.register(app, "Zwei-Faktor", "portal_backoffice.two_factor_lookup", BACKOFFICE_AREA, order=29)
    navigation.register_customer(app, "Meine Dokumente", "portal.documents")
    navigation.register_customer(app, "Meine Verträge", "portal.contracts")
    navigation.register_customer(app, "Meine Schäden", "portal.claims_list")
    navigation.register_customer(app, "Kontakt", "portal.contact_page")
    my_data_pages = ("/portal/sicherheit", "/portal/email-bestaetigen", "/portal/passwort-aendern")
    navigation.register_customer(app, "Meine Daten", "my_data.index", my_data_pages)
    app.extensions["user_loaders"]["customer"] = _load_customer
    settings = OnboardingSettings.from_config(app.config)  # once, at start-up
    app.extensions["onboarding_settings"] = settings
    register_task(app, lambda session: process_reset_requests(session, settings))
    register_task(app, post_expired_invitations)
    register_task(app, lambda session: registration.process_registrations(session, settings))
    register_task(app, registration.end_expired)
    # contracts announces, onboarding acts (the same receivers for every app: blinker keeps one each)
    contract_policed.connect(on_contract_policed)
    document_added.connect(on_document_added)
    contact_answered.connect(kontakt.on_contact_answered)
    app.context_processor(_portal_unread)


def _portal_unread() -> dict[str, int]:
    """The number of unread documents beside "Meine Dokumente" and of unseen answers beside "Kontakt"
    (customers only)."""
    from flask import g
    from flask_login import current_user

    from contracts import contact
    from core import db
    from onboarding.documents import unread_count

    # templates rendered outside a request (documents, e-mails) have no user at all
    if not (getattr(current_user, "is_authenticated", False) and getattr(current_user, "is_customer", False)):
        return {}
    if "portal_unread" not in g:  # once a request (a request may render several templates)
        customer = current_user._get_current_object()
        g.portal_unread = unread_count(db.session(), customer)
        g.portal_answers = contact.unread_answers(db.session(), customer.id)  # Kontakt: answers not seen yet
    return {"portal_unread": g.portal_unread, "portal_answers": g.portal_answers}
