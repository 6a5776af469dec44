"""The broker calculator: quote forms, live premium, offers and the offer PDF."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from calculator.tariffs import TariffCatalog
from calculator.tariffs.catalog import DEFAULT_DIRECTORY
from core import navigation
from core.authz import BROKER_AREA


def init_app(app: Flask) -> None:
    from calculator import cli, reference, views

    reference.CHECK_SECONDS = float(app.config["REFERENCE_CHECK_SECONDS"])  # the process's snapshot
    extra = [Path(p) for p in app.config.get("TARIFF_EXTRA_DIRS", [])]
    app.extensions["tariffs"] = TariffCatalog.load([DEFAULT_DIRECTORY, *extra])
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.vehicles_cli)
    app.cli.add_command(cli.regions_cli)
    navigation.register(app, "Neues Angebot", "calculator.start", BROKER_AREA, order=10)
    navigation.register(app, "Angebote", "calculator.offers", BROKER_AREA, order=20)
