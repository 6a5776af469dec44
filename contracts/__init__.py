"""Applications, underwriting referral, policing, contracts and their documents."""

from __future__ import annotations

from flask import Flask

from core import navigation
from core.authz import BACKOFFICE_AREA, BROKER_AREA


def init_app(app: Flask) -> None:
    from contracts import cli, jobs, views
    from core import jobs as core_jobs

    app.register_blueprint(views.bp)
    core_jobs.register(app, jobs.JOB_KIND, jobs.step)
    app.cli.add_command(cli.contracts_cli)
    navigation.register(app, "Anträge", "contracts.applications", BROKER_AREA, order=30)
    navigation.register(app, "Verträge", "contracts.contracts", BROKER_AREA, order=40)
    navigation.register(app, "Risikoprüfung", "contracts.referrals", BACKOFFICE_AREA, order=20)
