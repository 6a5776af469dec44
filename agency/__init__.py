"""The agency's contract stock (Bestand) and switching existing contracts to the customer portal."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from core import navigation
from core.authz import BROKER_AREA, MANAGER_AREA

agency_cli = AppGroup("agency", help="Agency stock: bulk switches.")


@agency_cli.command("resume-jobs")
def resume_jobs_command() -> None:
    """Finish bulk switches that a stopped process left running."""
    from agency.jobs import resume

    click.echo(f"{resume(current_app._get_current_object())} Umstellung(en) fortgesetzt.")  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    from agency import views

    app.register_blueprint(views.bp)
    app.cli.add_command(agency_cli)
    navigation.register(app, "Bestand", "agency.stock", BROKER_AREA, order=45)
    navigation.register(app, "Umstellung", "agency.bulk", MANAGER_AREA, order=46)
