"""Applications, underwriting referral, policing, contracts and their documents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy.orm as so
from flask import Flask

from core import clock, navigation, panels
from core.authz import BACKOFFICE_AREA, BROKER_AREA
from core.users import Role, User

NEW_DOCUMENTS_DAYS = 30  # how far back the start page lists new documents


def init_app(app: Flask) -> None:
    from contracts import changes, cli, jobs, renewal, views
    from core import jobs as core_jobs

    app.extensions["contract_rules"] = changes.Rules(
        backdate_days=app.config["CONTRACT_CHANGE_BACKDATE_DAYS"],
        notice_months=app.config["CANCELLATION_NOTICE_MONTHS"],
    )
    # the notice the documents and the Kündigen page state is the configured one
    app.jinja_env.globals["cancellation_notice_months"] = app.config["CANCELLATION_NOTICE_MONTHS"]
    app.register_blueprint(views.bp)
    core_jobs.register(app, jobs.JOB_KIND, jobs.step)
    core_jobs.register(app, renewal.JOB_KIND, renewal.step)
    panels.register(app, "contracts/_new_documents_panel.html", (Role.BROKER, Role.MANAGER), _new_documents, order=10)
    app.cli.add_command(cli.contracts_cli)
    navigation.register(app, "Anträge", "contracts.applications", BROKER_AREA, order=30)
    navigation.register(app, "Kunden", "contracts.clients", BROKER_AREA, order=35)
    navigation.register(app, "Verträge", "contracts.contracts", BROKER_AREA, order=40)
    navigation.register(app, "Risikoprüfung", "contracts.referrals", BACKOFFICE_AREA, order=20)
    navigation.register(app, "Hauptfälligkeit", "contracts.renewals", BACKOFFICE_AREA, order=25)
    navigation.register(app, "Schadenmeldungen", "contracts.claims_list", BACKOFFICE_AREA, order=27)
    navigation.register(app, "eVB", "contracts.evbs", BACKOFFICE_AREA, order=28)


def _new_documents(session: so.Session, user: User) -> dict[str, Any]:
    from contracts import queries

    since = clock.now() - timedelta(days=NEW_DOCUMENTS_DAYS)
    return {"documents": queries.new_documents(session, user, since), "days": NEW_DOCUMENTS_DAYS}
