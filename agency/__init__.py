"""The agency's contract stock (Bestand) and switching existing contracts to the customer portal."""

from __future__ import annotations

from flask import Flask

from core import jobs as core_jobs
from core import navigation, panels
from core.authz import BACKOFFICE_AREA, BROKER_AREA, MANAGER_AREA
from core.users import Role
from messaging.worker import register_task


def init_app(app: Flask) -> None:
    from agency import jobs, views, worklist
    from agency.bulk import Limits
    from agency.figures import overview
    from agency.period import Settings, parse_period
    from agency.snapshots import close_months

    app.register_blueprint(views.bp)
    app.extensions["agency_limits"] = Limits(
        max_bytes=app.config["BULK_SWITCH_MAX_BYTES"],
        max_rows=app.config["BULK_SWITCH_MAX_ROWS"],
        sync_rows=app.config["BULK_SWITCH_SYNC_ROWS"],
    )
    settings = app.extensions["onboarding_settings"]  # onboarding's init_app ran before ours
    core_jobs.register(app, jobs.JOB_KIND, lambda session, payload: jobs.step(session, payload, settings))
    work = worklist.Settings(
        reminder_days=app.config["WORKLIST_REMINDER_DAYS"],
        decision_days=app.config["WORKLIST_DECISION_DAYS"],
        link_days=settings.link_days,
        letter_warning_days=app.config["WORKLIST_LETTER_WARNING_DAYS"],
    )
    panels.register(
        app,
        "agency/_worklist_panel.html",
        (Role.BROKER, Role.MANAGER),
        lambda session, user: worklist.worklist(session, user, work),
        order=5,
    )
    figures = Settings(
        default_days=app.config["DASHBOARD_DEFAULT_DAYS"],
        max_years=app.config["DASHBOARD_MAX_YEARS"],
        waiting_days=app.config["DASHBOARD_WAITING_DAYS"],
    )
    app.extensions["dashboard_settings"] = figures
    register_task(app, close_months)  # the worker closes each month's figures once
    panels.register(  # the agency manager's figures (default period), below what waits for him
        app,  # (issue #26 item 16: the worklist was ~3,000 px down, under the charts)
        "agency/_figures_panel.html",
        (Role.MANAGER,),
        lambda session, user: {"view": overview(session, user, parse_period("", "", figures)[0], figures)},
        order=20,
    )
    navigation.register(app, "Kennzahlen", "agency.figures", MANAGER_AREA, order=44)
    navigation.register(app, "Kennzahlen", "agency.figures_all", BACKOFFICE_AREA, order=44)
    navigation.register(app, "Bestand", "agency.stock", BROKER_AREA, order=45)
    navigation.register(app, "Umstellung", "agency.bulk", MANAGER_AREA, order=46)
