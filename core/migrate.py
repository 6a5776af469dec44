"""Alembic migrations, driven from the `flask db` commands and from tests."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from flask import Flask, current_app, has_app_context
from flask.cli import AppGroup

from core.crypto import SecretBox

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    config.attributes["engine"] = engine
    if has_app_context():  # a migration that encrypts secrets at rest uses the app's keys
        config.attributes["secret_box"] = SecretBox.from_config(current_app.config)
    return config


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Upgrade the database to the revision (default: the newest)."""
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


db_cli = AppGroup("db", help="Database migrations (Alembic).")


def _engine() -> sa.Engine:
    from core.db import database

    return database().engine


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """Upgrade the database schema (default: to the newest revision)."""
    upgrade(_engine(), revision)


@db_cli.command("downgrade")
@click.argument("revision")
def downgrade_command(revision: str) -> None:
    """Downgrade the database schema to REVISION ('-1' for one step, 'base' for empty)."""
    downgrade(_engine(), revision)


@db_cli.command("current")
def current_command() -> None:
    """Show the database's current revision."""
    command.current(alembic_config(_engine()), verbose=True)


@db_cli.command("history")
def history_command() -> None:
    """List the migrations."""
    command.history(alembic_config(_engine()))


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate/--empty", default=True)
def revision_command(message: str, autogenerate: bool) -> None:
    """Create a new migration from the difference between models and database."""
    command.revision(alembic_config(_engine()), message=message, autogenerate=autogenerate)


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
