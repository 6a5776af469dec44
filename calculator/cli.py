"""`flask vehicles …` and `flask regions …`: reference data imports (idempotent)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import click
from flask.cli import AppGroup

from calculator import reference
from calculator.reference import ImportFormatError, ImportResult
from core import db

vehicles_cli = AppGroup("vehicles", help="Vehicle catalogue (KBA HSN/TSN) and Typklassen.")
regions_cli = AppGroup("regions", help="PLZ → Ort → Kreis and Regionalklassen.")

PATH = click.Path(exists=True, dir_okay=False, path_type=Path)


def _run(what: str, action: Callable[[], ImportResult]) -> None:
    started = time.perf_counter()
    session = db.session()
    try:
        result = action()
    except ImportFormatError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from exc
    session.commit()
    click.echo(
        f"{what}: {result.rows} Zeilen, {result.inserted} neu, {result.updated} aktualisiert "
        f"({time.perf_counter() - started:.1f} s)"
    )


@vehicles_cli.command("import")
@click.argument("path", type=PATH)
def import_vehicles_command(path: Path) -> None:
    """Import the KBA FZ 6 list (CSV hsn,tsn,hersteller,handelsname)."""
    _run("Fahrzeuge", lambda: reference.import_vehicles(db.session(), path))


@vehicles_cli.command("import-type-classes")
@click.argument("path", type=PATH)
@click.option("--source", required=True, help="Where the classes come from, e.g. 'GDV 2026'.")
def import_type_classes_command(path: Path, source: str) -> None:
    """Import Typklassen (CSV hsn;tsn;kh;tk;vk)."""
    _run("Typklassen", lambda: reference.import_type_classes(db.session(), path, source))


@regions_cli.command("import-places")
@click.argument("path", type=PATH)
def import_places_command(path: Path) -> None:
    """Import PLZ → Ort → Kreis (CSV osm_id,ags,ort,plz,landkreis,bundesland)."""
    _run("Orte", lambda: reference.import_places(db.session(), path))


@regions_cli.command("import-classes")
@click.argument("path", type=PATH)
@click.option("--source", required=True, help="Where the classes come from, e.g. 'GDV 2026'.")
def import_region_classes_command(path: Path, source: str) -> None:
    """Import Regionalklassen per Kreis (CSV kreis;kh;tk;vk)."""
    _run("Regionalklassen", lambda: reference.import_region_classes(db.session(), path, source))
