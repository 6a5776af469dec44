"""Staff area: login/logout, the start page of each role, and the `flask users` commands."""

from __future__ import annotations

from flask import Flask

from core import navigation
from core.authz import BACKOFFICE_AREA, MANAGER_AREA
from core.users import Role


def init_app(app: Flask) -> None:
    from staff import cli, views
    from staff.settings import StaffSettings

    app.extensions["staff_settings"] = StaffSettings.from_config(app.config)  # once, at start-up

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.users_cli)
    app.cli.add_command(cli.agencies_cli)
    navigation.register(app, "Startseite", "staff.broker_home", (Role.BROKER,), order=0)
    navigation.register(app, "Startseite", "staff.manager_home", MANAGER_AREA, order=0)
    navigation.register(app, "Startseite", "staff.backoffice_home", BACKOFFICE_AREA, order=0)
