"""Alembic environment: the engine comes from the app (core.migrate) or from DATABASE_URL."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from core.db import make_engine
from core.model_registry import metadata

config = context.config
target_metadata = metadata()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = make_engine(os.environ["DATABASE_URL"])
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _foreign_keys(connection, on=False)
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=sqlite,  # SQLite cannot ALTER constraints
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:  # what the rebuilt tables hold must still fit together
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")
            if connection.in_transaction():  # left open after the block (SQLAlchemy 2 autobegin): ours to end
                connection.commit()
        except BaseException:
            if connection.in_transaction():
                connection.rollback()
            raise
        finally:
            if sqlite:
                _foreign_keys(connection, on=True)


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    """SQLite's batch mode rebuilds a table (copy, DROP, rename); with foreign keys enforced, the DROP
    of a table other rows point at fails. So they are off while migrating and on again after (the
    connection goes back to the pool), switched on the driver's connection outside any transaction —
    SQLite ignores the PRAGMA inside one; `foreign_key_check` runs before the commit."""
    driver = connection.connection.driver_connection
    assert driver is not None
    assert not connection.in_transaction()
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
