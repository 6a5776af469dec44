"""Every migration upgrades and downgrades; the newest one matches the models."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core import migrate
from core.db import make_engine
from core.model_registry import metadata
from tests.conftest import database_url_for, reset_database


def _tables(engine):
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(tmp_path):
    url = database_url_for("migrations", tmp_path)
    reset_database(url)
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        assert _tables(engine) == set(metadata().tables)
        migrate.downgrade(engine, "base")
        assert _tables(engine) == set()
        migrate.upgrade(engine)
        assert _tables(engine) == set(metadata().tables)
    finally:
        engine.dispose()


def test_models_and_migrations_agree(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata()) == []
