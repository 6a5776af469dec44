"""`flask demo seed`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from core import db
from demo.seed import seed

demo_cli = AppGroup("demo", help="Demo data for trying the app (development only).")


@demo_cli.command("seed")
def seed_command() -> None:
    """Create the demo agency and demo logins (idempotent; refused in production)."""
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException(
            "Demo-Daten werden in Produktion nicht angelegt (APP_ENV=production). Echte Benutzer: flask users create."
        )
    s = db.session()
    created = seed(s)
    s.commit()
    click.echo("\n".join(f"angelegt: {c}" for c in created) if created else "Demo-Daten sind bereits vorhanden.")


@demo_cli.command("history")
def history_command() -> None:
    """A year of onboarding in the demo agency for Kennzahlen (idempotent; refused in production)."""
    from demo.history import seed_history

    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("Demo-Daten werden in Produktion nicht angelegt (APP_ENV=production).")
    from contracts.jobs import JOB_KIND
    from core import jobs

    s = db.session()
    created = seed_history(s, current_app.extensions["onboarding_settings"], jobs.runner(current_app, kinds=[JOB_KIND]))
    click.echo(
        f"angelegt: {created} Bestandsverträge mit einem Jahr Onboarding-Geschichte"
        if created
        else "Die Demo-Geschichte ist bereits vorhanden."
    )
