"""SQLAlchemy 2.x: declarative base, engine and the request-scoped session."""

from __future__ import annotations

import enum
import functools
import itertools
import logging
import secrets
import sqlite3
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, current_app, g
from sqlalchemy.ext.compiler import compiles

log = logging.getLogger(__name__)

# Named constraints, so Alembic can drop and alter them on every backend (SQLite batch mode too).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use core.clock.now()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_type(enum_class: type[enum.Enum], length: int = 20) -> sa.Enum:
    """Enums are stored as their values in a VARCHAR (no database enum type to migrate)."""
    return sa.Enum(enum_class, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Base(so.DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    # every Mapped[datetime] is UTC-aware and every Mapped[<an enum>] a VARCHAR(20) of its values
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), enum.Enum: enum_type(enum.Enum)}


def table(model: type[Base]) -> sa.Table:
    """A model's table, for Core bulk statements (executemany keeps None values in one batch, where
    the ORM's bulk INSERT splits it wherever a value is None)."""
    return model.metadata.tables[model.__tablename__]


def rowcount(result: sa.Result[Any]) -> int:
    """The rows an UPDATE or DELETE changed (the cursor's count; an executemany's sum)."""
    return int(getattr(result, "rowcount", 0) or 0)


def insert_rows(session: so.Session, target: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Many rows (each with the same keys, every column but the generated ones) in the caller's
    transaction: on PostgreSQL one COPY (psycopg's copy protocol: no statement text to build or parse
    per batch — the bulk switch writes tens of thousands of outbox and audit rows), elsewhere one
    executemany. Values go through the columns' own bind processing (enums, JSON, UTC datetimes), so
    what is stored is what an INSERT stores."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(sa.insert(target), rows)
        return
    given = list(rows[0])
    # the columns' Python-side defaults, which an INSERT applies and COPY does not (scalars once,
    # callables per row, as the INSERT would)
    defaults = [c for c in target.c if c.name not in given and c.default is not None and not c.default.is_sequence]
    names = given + [c.name for c in defaults]
    processors = [target.c[name].type._cached_bind_processor(connection.dialect) for name in names]
    quoted = ", ".join(connection.dialect.identifier_preparer.quote(name) for name in names)
    statement = f"COPY {connection.dialect.identifier_preparer.format_table(target)} ({quoted}) FROM STDIN"
    import psycopg

    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                values = itertools.chain(
                    (row[name] for name in given),
                    (c.default.arg if c.default.is_scalar else c.default.arg(None) for c in defaults),  # type: ignore[union-attr]
                )
                copy.write_row([v if p is None else p(v) for v, p in zip(values, processors, strict=True)])
    except psycopg.errors.IntegrityError as error:  # as an INSERT would raise it: callers fall back on it
        raise sa.exc.IntegrityError(statement, None, error) from error


class seconds_between(sa.sql.functions.FunctionElement[float]):
    """`later - earlier` in seconds, on PostgreSQL and SQLite (for durations computed in SQL)."""

    type = sa.Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "postgresql")
def _seconds_between_pg(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)}))"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return f"((julianday({compiler.process(later, **kw)}) - julianday({compiler.process(earlier, **kw)})) * 86400.0)"


def new_public_id() -> str:
    """An unguessable id for URLs (128 bits)."""
    return secrets.token_urlsafe(16)


# how long a SQLite writer waits for the write lock: each try up to the busy timeout, and BEGIN
# IMMEDIATE tried again until SQLITE_WAIT_SECONDS have passed — on a busy machine a worker's step (its
# PDFs rendered inside the transaction) held the lock longer than one busy timeout (issue #28 item 10:
# "database is locked")
SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_WAIT_SECONDS = 60


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_timeout_ms: int) -> None:
    # pysqlite's own transaction handling never BEGINs before DDL and breaks SAVEPOINT; let
    # SQLAlchemy emit BEGIN itself (see _sqlite_begin), as the SQLAlchemy SQLite docs recommend.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cursor.execute("PRAGMA journal_mode=WAL")
    # WAL with NORMAL: commits stay atomic and consistent; only the last ones before a power cut may be
    # lost (SQLite's recommended setting for WAL). FULL syncs on every commit, and workers commit often.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: sa.Connection, *, wait_seconds: float) -> None:
    """IMMEDIATE: take the write lock at the start (waiting up to busy_timeout). A deferred transaction
    that read first fails at once with SQLITE_BUSY when another writer committed meanwhile — SQLite's
    safe equivalent of row locks is one writer at a time (outbox workers rely on it). SQLite's busy
    handler may still give up early (it does so rather than risk a deadlock, and a starved waiter can
    lose every race): the BEGIN is then tried again, with a growing pause, until wait_seconds
    more have passed. Nothing has happened in the transaction yet, so trying again is safe."""
    raw = connection.connection.driver_connection
    assert raw is not None
    deadline = time.monotonic() + wait_seconds
    pause = 0.01
    while True:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() >= deadline:
                raise sa.exc.OperationalError("BEGIN IMMEDIATE", None, error) from error
            log.info("SQLite write lock busy at BEGIN: trying again in %.2f s", pause)
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


def make_engine(url: str, pool_recycle_seconds: int = 1800, sqlite_wait_seconds: float | None = None) -> sa.Engine:
    """An engine for the URL; SQLite gets foreign keys, WAL and a busy timeout, PostgreSQL custom plans.

    No ping before every checkout (issue #28 item 3: a round trip on every request): connections are
    renewed after pool_recycle_seconds (before a server or proxy drops idle ones), and a connection
    found dead by a transaction's first statement is replaced and the statement run again
    (RetryingSession) — nothing had happened in that transaction yet."""
    sqlite = url.startswith("sqlite")
    # PostgreSQL: psycopg prepares a statement run 5 times on a connection, and the server may then
    # switch it to one generic plan for all parameters — for a date range that is 30 days one time and
    # five years the next (the Kennzahlen funnel) that plan took 2–3× as long. Plans stay per execution;
    # prepared statements still save the parsing.
    # (a SET on each new connection, not a startup option: connection poolers such as PgBouncer
    # refuse unknown startup parameters)
    engine = sa.create_engine(url, pool_recycle=-1 if sqlite else pool_recycle_seconds)
    if engine.dialect.name == "postgresql":
        sa.event.listen(engine, "connect", _postgresql_custom_plans)
    if engine.dialect.name == "sqlite":
        wait = SQLITE_WAIT_SECONDS if sqlite_wait_seconds is None else sqlite_wait_seconds
        busy_ms = int(min(SQLITE_BUSY_TIMEOUT_MS, wait * 1000))
        sa.event.listen(engine, "connect", functools.partial(_sqlite_pragmas, busy_timeout_ms=busy_ms))
        sa.event.listen(engine, "begin", functools.partial(_sqlite_begin, wait_seconds=wait))
    return engine


def _postgresql_custom_plans(dbapi_connection: Any, _record: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_connection.commit()


class RetryingSession(so.Session):
    """A session whose transactions survive a dead pooled connection at their first statement."""


@sa.event.listens_for(RetryingSession, "do_orm_execute")
def _retry_first_statement(state: so.ORMExecuteState) -> Any:
    session = state.session
    if session.info.get("transaction_used"):
        return None  # only a transaction's first statement: after it, a retry could repeat work
    session.info["transaction_used"] = True
    try:
        return state.invoke_statement()
    except sa.exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
        log.warning("database connection was dead at a transaction's first statement: retried on a new one")
        session.rollback()
        session.info["transaction_used"] = True
        return state.invoke_statement()


@sa.event.listens_for(RetryingSession, "after_transaction_end")
def _transaction_ended(session: so.Session, transaction: so.SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop("transaction_used", None)


class Database:
    """One per app (kept in ``app.extensions``): the engine and the session factory."""

    def __init__(self, app: Flask) -> None:
        self.engine = make_engine(
            app.config["DATABASE_URL"], app.config["DATABASE_POOL_RECYCLE_SECONDS"], app.config["SQLITE_WAIT_SECONDS"]
        )
        self.sessionmaker: so.sessionmaker[so.Session] = so.sessionmaker(
            self.engine, class_=RetryingSession, expire_on_commit=False
        )
        app.extensions["database"] = self
        app.teardown_appcontext(_close_session)

    def bind_to(self, connection: sa.Connection) -> None:
        """Run every session inside the given connection's transaction (tests roll it back)."""
        self.sessionmaker = so.sessionmaker(
            bind=connection, class_=RetryingSession, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )


def database() -> Database:
    db: Database = current_app.extensions["database"]
    return db


def session() -> so.Session:
    """The session of the current application context (created on first use)."""
    if "db_session" not in g:
        g.db_session = database().sessionmaker()
    s: so.Session = g.db_session
    return s


def _close_session(_exc: BaseException | None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()  # rolls back whatever was not committed
