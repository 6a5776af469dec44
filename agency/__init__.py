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
    from agency.figures import overview
    from agency.period import parse_period
    from agency.settings import AgencySettings, current
    from agency.snapshots import close_months
    from onboarding.settings import current as onboarding_settings

    app.register_blueprint(views.bp)
    onboarding = app.extensions["onboarding_settings"]  # onboarding's init_app ran before ours
    app.extensions["agency_settings"] = AgencySettings.from_config(app.config, link_days=onboarding.link_days)
    core_jobs.register(app, jobs.JOB_KIND, lambda session, payload: jobs.step(session, payload, onboarding_settings()))
    panels.register(
        app,
        "agency/_worklist_panel.html",
        (Role.BROKER, Role.MANAGER),
        lambda session, user: worklist.worklist(session, user, current().worklist),
        order=5,
    )
    register_task(app, close_months)  # the worker closes each month's figures once
    panels.register(  # the agency manager's figures (default period), below what waits for him
        app,  # (issue #26 item 16: the worklist was ~3,000 px down, under the charts)
        "agency/_figures_panel.html",
        (Role.MANAGER,),
        lambda session, user: {
            "view": overview(session, user, parse_period("", "", current().dashboard)[0], current().dashboard)
        },
        order=20,
    )
    navigation.register(app, "Kennzahlen", "agency.figures", MANAGER_AREA, order=44)
    navigation.register(app, "Kennzahlen", "agency.figures_all", BACKOFFICE_AREA, order=44)
    navigation.register(app, "Bestand", "agency.stock", BROKER_AREA, order=45)
    navigation.register(app, "Umstellung", "agency.bulk", MANAGER_AREA, order=46)
