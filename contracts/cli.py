"""`flask contracts import PATH`: existing contracts (format in contracts/imports.py and the README)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from contracts import renewal
from contracts.imports import ImportError_, import_contracts
from contracts.settings import current as contract_settings
from core import clock, db

contracts_cli = AppGroup("contracts", help="Contracts: import existing ones, start the yearly renewal.")


@contracts_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(path: Path) -> None:
    """Import existing contracts (CSV, semicolons, UTF-8); idempotent by Vertragsnummer."""
    s = db.session()
    try:
        result = import_contracts(s, path.read_bytes(), contract_settings().catalog)
    except (ImportError_, UnicodeDecodeError) as exc:
        s.rollback()
        raise click.ClickException(str(exc)) from exc
    s.commit()
    click.echo(f"Verträge: {result.created} übernommen, {result.skipped} bereits vorhanden")


@contracts_cli.command("renew")
@click.option("--due", "due", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="Hauptfälligkeit")
def renew_command(due: datetime) -> None:
    """Start the yearly renewal of every contract due by DUE (for a scheduler); the worker runs it.
    Starting it again renews nothing twice."""
    s = db.session()
    try:
        run = renewal.start(s, due.date(), actor=None, today=clock.today(), label="Scheduler")
    except renewal.RenewalError as exc:
        s.rollback()
        raise click.ClickException(str(exc)) from exc
    s.commit()
    click.echo(f"Verlängerung zum {due.date():%d.%m.%Y}: {run.total} Verträge fällig; der Worker verlängert sie.")
