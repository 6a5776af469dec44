"""Applications, underwriting referral, policing, contracts and their documents."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy.orm as so
from flask import Flask

from core import clock, navigation, panels
from core.authz import BACKOFFICE_AREA, BROKER_AREA
from core.users import Role, User

NEW_DOCUMENTS_DAYS = 30  # how far back the start page lists new documents


def init_app(app: Flask) -> None:
    from contracts import backoffice_views, change_views, cli, einstufung, jobs, probelauf, queues, renewal, views
    from contracts.settings import ContractSettings, current
    from core import jobs as core_jobs
    from messaging.worker import register_task

    # once, at start-up (calculator's init_app loaded the tariffs before ours)
    settings = ContractSettings.from_config(app.config, app.extensions["tariffs"])
    app.extensions["contract_settings"] = settings
    app.jinja_env.globals["end_label"] = end_label
    app.jinja_env.globals["insurer"] = settings.insurer
    app.register_blueprint(views.bp)
    app.register_blueprint(change_views.bp)
    app.register_blueprint(backoffice_views.bp)
    # the worker's edges hand the app's settings in (looked up when they run)
    register_task(app, lambda session: einstufung.expire(session, current().catalog, current().pdf_workers))
    core_jobs.register(app, jobs.JOB_KIND, lambda session, payload: jobs.step(session, payload, current()))
    core_jobs.register(app, renewal.JOB_KIND, lambda session, payload: renewal.step(session, payload, current()))
    core_jobs.register(
        app,
        probelauf.PREVIEW_JOB_KIND,
        lambda session, payload: probelauf.preview_step(session, payload, current()),
    )
    panels.register(app, "contracts/_new_documents_panel.html", (Role.BROKER, Role.MANAGER), _new_documents, order=10)
    panels.register(app, "contracts/_queues_panel.html", (Role.BACKOFFICE,), queues.queues, order=5)
    app.cli.add_command(cli.contracts_cli)
    navigation.register(app, "Anträge", "contracts.applications", BROKER_AREA, order=30)
    navigation.register(app, "Kunden", "contracts.clients", BROKER_AREA, order=35)
    navigation.register(app, "Verträge", "contracts.contracts", BROKER_AREA, order=40)
    navigation.register(app, "Risikoprüfung", "contracts_backoffice.referrals", BACKOFFICE_AREA, order=20)
    navigation.register(app, "Hauptfälligkeit", "contracts_backoffice.renewals", BACKOFFICE_AREA, order=25)
    navigation.register(app, "Schadenmeldungen", "contracts_backoffice.claims_list", BACKOFFICE_AREA, order=27)
    navigation.register(app, "Kontakt", "contracts_backoffice.contact_list", BACKOFFICE_AREA, order=28)
    navigation.register(app, "eVB", "contracts_backoffice.evbs", BACKOFFICE_AREA, order=28)
    navigation.register(app, "SF-Bestätigung", "contracts_backoffice.sf_confirmations", BACKOFFICE_AREA, order=26)


def end_label(ends_on: date | None) -> str:
    """How every list and page names a contract's end: "endet am TT.MM.JJJJ" (still running) or
    "beendet am TT.MM.JJJJ"; empty for a contract without an end."""
    if ends_on is None:
        return ""
    from core.formatting import date_de

    today = clock.today()
    return f"{'endet' if ends_on > today else 'beendet'} am {date_de(ends_on)}"


def _new_documents(session: so.Session, user: User) -> dict[str, Any]:
    from contracts import queries

    since = clock.now() - timedelta(days=NEW_DOCUMENTS_DAYS)
    return {"documents": queries.new_documents(session, user, since), "days": NEW_DOCUMENTS_DAYS}
