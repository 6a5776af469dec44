"""The agency's contract stock (Bestand) and switching existing contracts to the customer portal."""

from __future__ import annotations

from flask import Flask

from core import jobs as core_jobs
from core import navigation
from core.authz import BROKER_AREA, MANAGER_AREA


def init_app(app: Flask) -> None:
    from agency import jobs, views
    from agency.bulk import Limits

    app.register_blueprint(views.bp)
    app.extensions["agency_limits"] = Limits(
        max_bytes=app.config["BULK_SWITCH_MAX_BYTES"], max_rows=app.config["BULK_SWITCH_MAX_ROWS"]
    )
    settings = app.extensions["onboarding_settings"]  # onboarding's init_app ran before ours
    core_jobs.register(app, jobs.JOB_KIND, lambda session, payload: jobs.step(session, payload, settings))
    navigation.register(app, "Bestand", "agency.stock", BROKER_AREA, order=45)
    navigation.register(app, "Umstellung", "agency.bulk", MANAGER_AREA, order=46)
