"""`flask contracts import PATH`: existing contracts (format in contracts/imports.py and the README)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from contracts.imports import ImportError_, import_contracts
from core import db

contracts_cli = AppGroup("contracts", help="Contracts: import existing ones.")


@contracts_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(path: Path) -> None:
    """Import existing contracts (CSV, semicolons, UTF-8); idempotent by Vertragsnummer."""
    s = db.session()
    try:
        result = import_contracts(s, path.read_bytes())
    except (ImportError_, UnicodeDecodeError) as exc:
        s.rollback()
        raise click.ClickException(str(exc)) from exc
    s.commit()
    click.echo(f"Verträge: {result.created} übernommen, {result.skipped} bereits vorhanden")
