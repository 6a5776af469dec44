"""Issue #28 item 3: no ping before every checkout. A pooled connection the server has dropped (a
restart, a proxy's idle timeout, an administrator's pg_terminate_backend) is found by the first
statement of the next transaction, replaced, and the statement runs again: the user sees his page,
not an error. A transaction that already did something is never repeated.

PostgreSQL only (SQLite has no server to drop a connection): the test command runs this file in the
PostgreSQL pass and deselects it in the SQLite pass, as it does test_database_outage.py."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from core import db
from core.users import User
from tests.helpers import login
from tests.integration.test_concurrency import parallel_app  # noqa: F401 (fixture)


def _terminate(app, *, idle_only: bool = True) -> int:
    """Drop the app's connections (only those idle in its pool) on the server's side, from a
    connection of our own."""
    admin = sa.create_engine(app.extensions["database"].engine.url, poolclass=sa.pool.NullPool)
    which = " AND state = 'idle'" if idle_only else ""
    try:
        with admin.connect() as connection:
            killed = connection.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    f"WHERE datname = current_database() AND pid <> pg_backend_pid(){which}"
                )
            ).scalar_one()
    finally:
        admin.dispose()
    return int(killed)


@pytest.fixture
def pg_app(parallel_app):  # noqa: F811 (the fixture of test_concurrency)
    if parallel_app.extensions["database"].engine.dialect.name != "postgresql":
        pytest.fail("runs on PostgreSQL only: the SQLite pass of the test command deselects this file")
    database = parallel_app.extensions["database"]
    database.engine.dispose()
    database.engine = db.make_engine(str(database.engine.url.render_as_string(hide_password=False)))
    database.sessionmaker = sa.orm.sessionmaker(database.engine, class_=db.RetryingSession, expire_on_commit=False)
    yield parallel_app
    database.engine.dispose()


def test_a_dropped_pooled_connection_costs_the_user_nothing(pg_app):
    client = pg_app.test_client()
    assert login(client, "vermittler@demo.example", "Demo-Passwort-1!").status_code == 302
    assert client.get("/vermittler/").status_code == 200
    assert _terminate(pg_app) >= 1
    page = client.get("/vermittler/")  # its first statement meets the dead connection
    assert page.status_code == 200
    assert "Startseite" in page.get_data(as_text=True)


def test_a_transaction_that_already_did_something_is_not_repeated(pg_app):
    with pg_app.app_context():
        s = db.session()
        assert s.scalar(sa.select(sa.func.count()).select_from(User)) > 0  # the transaction's first statement
        assert _terminate(pg_app, idle_only=False) >= 1  # also the connection of this transaction
        with pytest.raises(sa.exc.DBAPIError):
            s.execute(sa.update(User).values(full_name=User.full_name))  # the second: not retried
        s.rollback()
        assert s.scalar(sa.select(sa.func.count()).select_from(User)) > 0  # a new transaction: retried
