"""core.db.make_engine sets up each connection: SQLite with foreign keys and WAL; PostgreSQL planning
every execution (plan_cache_mode) — psycopg prepares a statement after five runs, and a generic plan
chosen then for all parameters made the five-year Kennzahlen funnel 2–3× slower (issue #28 item 7)."""

from __future__ import annotations

import sqlalchemy as sa

from core.db import make_engine


def test_each_connection_is_set_up_for_its_database(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                assert connection.scalar(sa.text("SHOW plan_cache_mode")) == "force_custom_plan"
            else:
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()
