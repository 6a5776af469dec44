"""Issue #28 item 10: on SQLite one writer at a time. A writer that holds the lock longer than one
busy timeout (a worker's step rendering its PDFs on a busy machine) must not make the next one fail
with "database is locked": its BEGIN IMMEDIATE is tried again until SQLITE_WAIT_SECONDS have passed.
Runs on SQLite files of its own in both passes (it is about SQLite, whatever the suite's database)."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from core import db


@pytest.fixture
def short_waits(monkeypatch):
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(db, "SQLITE_WAIT_SECONDS", 5)


def _engine(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'waits.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE IF NOT EXISTS counter (n INTEGER)"))
        connection.execute(sa.text("INSERT INTO counter VALUES (0)"))
    return engine


def _hold_the_lock(engine: sa.Engine, seconds: float, held: threading.Event) -> None:
    with engine.begin() as connection:  # BEGIN IMMEDIATE: the write lock
        connection.execute(sa.text("UPDATE counter SET n = n + 1"))
        held.set()
        time.sleep(seconds)


def test_a_writer_waits_past_one_busy_timeout_for_the_lock(short_waits, tmp_path):
    engine = _engine(tmp_path)
    held = threading.Event()
    holder = threading.Thread(target=_hold_the_lock, args=(engine, 1.0, held))  # 5 busy timeouts long
    holder.start()
    held.wait(5)
    started = time.monotonic()
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE counter SET n = n + 1"))
    waited = time.monotonic() - started
    holder.join()
    assert waited >= 0.5  # it did wait for the holder
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT n FROM counter")).scalar_one() == 2
    engine.dispose()


def test_a_writer_gives_up_with_an_error_after_the_wait(short_waits, tmp_path, monkeypatch):
    monkeypatch.setattr(db, "SQLITE_WAIT_SECONDS", 0.5)
    engine = _engine(tmp_path)
    held = threading.Event()
    holder = threading.Thread(target=_hold_the_lock, args=(engine, 2.0, held))
    holder.start()
    held.wait(5)
    with pytest.raises(sa.exc.OperationalError, match="locked"), engine.begin() as connection:
        connection.execute(sa.text("UPDATE counter SET n = n + 1"))
    holder.join()
    engine.dispose()
