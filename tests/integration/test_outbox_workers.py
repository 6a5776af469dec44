"""Worker processes (`flask outbox run`) on a database of their own: in parallel, and killed."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from core import migrate
from core.app import create_app
from messaging import outbox
from messaging.models import OutboxMessage, State
from tests.conftest import TEST_TEMPLATES, database_url_for, messaging_environ, reset_database

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).parent / "flask")


@pytest.fixture
def shared_db(tmp_path, smtp_server, twilio_server):
    """A committed database that worker processes and the test both use."""
    from jinja2 import ChoiceLoader, DictLoader

    url = database_url_for("workers", tmp_path)
    reset_database(url)
    environ = messaging_environ(url, smtp_server, twilio_server)
    app = create_app(environ=environ)
    app.jinja_loader = ChoiceLoader([DictLoader(TEST_TEMPLATES), app.jinja_loader])
    migrate.upgrade(app.extensions["database"].engine)
    yield app, {**os.environ, **environ, "FLASK_APP": "wsgi"}
    app.extensions["database"].engine.dispose()


def _enqueue(app, emails: int, sms: int) -> None:
    with app.app_context():
        s = app.extensions["database"].sessionmaker()
        for n in range(emails):
            outbox.enqueue_email(
                s,
                key=f"mail:{n}",
                to=f"kunde{n}@example.org",
                subject=f"Nachricht {n}",
                template="hello",
                context={"name": str(n)},
            )
        for n in range(sms):
            outbox.enqueue_sms(s, key=f"sms:{n}", to=f"+49151{n:08d}", template="raw", context={"text": f"SMS {n}"})
        s.commit()
        s.close()


def _rows(app):
    with app.extensions["database"].sessionmaker() as s:
        return s.scalars(sa.select(OutboxMessage)).all()


def _worker(env, *args, **extra):
    return subprocess.Popen(
        [FLASK, "outbox", "run", *args],
        cwd=ROOT,
        env={**env, **extra},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_workers_in_parallel_deliver_every_message_exactly_once(shared_db, smtp_server, twilio_server):
    app, env = shared_db
    _enqueue(app, emails=60, sms=60)
    twilio_server.delay = smtp_server.inbox.delay = 0.01  # slow enough that both workers get work
    workers = [_worker(env, "--once", OUTBOX_BATCH_SIZE="5") for _ in range(2)]
    for w in workers:
        _out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
    mail_ids = [m["Message-ID"] for m in smtp_server.inbox.messages]
    sms_bodies = [m["Body"] for m in twilio_server.messages]
    assert len(mail_ids) == len(set(mail_ids)) == 60
    assert sorted(sms_bodies) == sorted(f"SMS {n}" for n in range(60))
    rows = _rows(app)
    assert {r.state for r in rows} == {State.SENT}
    assert all(r.attempts == 1 for r in rows)
    assert len({r.claimed_by for r in rows}) == 2  # both workers took part


def test_a_worker_killed_mid_batch_loses_nothing(shared_db, smtp_server):
    app, env = shared_db
    _enqueue(app, emails=12, sms=0)
    smtp_server.inbox.delay = 0.15
    victim = _worker(env, OUTBOX_BATCH_SIZE="20", OUTBOX_LEASE_SECONDS="2")
    deadline = time.monotonic() + 30
    while len(smtp_server.inbox.messages) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=10)
    delivered_before = len(smtp_server.inbox.messages)
    assert 3 <= delivered_before < 12  # killed in the middle of its batch
    stuck = [r for r in _rows(app) if r.state is State.SENDING]
    assert stuck  # its claimed messages are still leased to the dead worker

    time.sleep(2.1)  # the dead worker's lease ends
    smtp_server.inbox.delay = 0
    rescuer = _worker(env, "--once")
    _, err = rescuer.communicate(timeout=60)
    assert rescuer.returncode == 0, err
    ids = [m["Message-ID"] for m in smtp_server.inbox.messages]
    assert {r.state for r in _rows(app)} == {State.SENT}
    assert len(set(ids)) == 12  # every message arrived
    # at most the one mail in flight at the kill arrives twice (documented window), with the same Message-ID
    assert len(ids) - len(set(ids)) <= 1


def test_sigterm_stops_the_worker_after_the_current_message(shared_db):
    _, env = shared_db
    w = _worker(env)
    started = w.stderr.readline()  # the worker says when its signal handlers are in place
    assert "Zustell-Worker läuft" in started
    time.sleep(0.5)  # inside its delivery loop now
    w.send_signal(signal.SIGTERM)
    out, err = w.communicate(timeout=10)
    assert w.returncode == 0, err
    assert "versendet 0" in out


def _database_fault(app, seconds: float) -> None:
    """A real database fault for the workers: on SQLite the file locked (BEGIN EXCLUSIVE) longer than
    the busy timeout — "database is locked", as seen under load; on PostgreSQL every other connection
    to this database terminated by the server (a lost connection), every 50 ms for `seconds` — so the
    workers lose their connection in the middle of a transaction, not only between two (the pool's
    pre-ping would hide that)."""
    engine = app.extensions["database"].engine
    if engine.dialect.name == "sqlite":
        import sqlite3

        raw = sqlite3.connect(engine.url.database, timeout=30, isolation_level=None)
        raw.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        raw.execute("COMMIT")
        raw.close()
        return
    deadline = time.monotonic() + seconds
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        while time.monotonic() < deadline:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            time.sleep(0.05)


def test_workers_survive_a_database_fault_and_lose_nothing(shared_db, smtp_server):
    """Issue #25 item 9: under load the worker ended on `database is locked` (SQLite) or a lost
    PostgreSQL connection and never came back. Now both workers back off and go on: no process exits,
    every message is delivered, a message sent twice only when its delivery fell into the fault (the
    documented at-least-once window: sent, then its record failed), and the heartbeat says what
    happened."""
    app, env = shared_db
    _enqueue(app, emails=80, sms=0)
    smtp_server.inbox.delay = 0.02
    # on SQLite a worker waits SQLITE_WAIT_SECONDS for the lock before it reports a fault: shorter here
    # than the 8 s fault, so the fault is one the workers must survive (the wait itself: test_sqlite_waits)
    extra = {
        "OUTBOX_BATCH_SIZE": "5",
        "OUTBOX_LEASE_SECONDS": "3",
        "OUTBOX_POLL_SECONDS": "1",
        "SQLITE_WAIT_SECONDS": "2",
    }
    workers = [_worker(env, **extra) for _ in range(2)]
    try:
        # both workers are in their loop (a loaded machine takes seconds to start one: a worker that
        # first touches the database late in the fault only waits out the lock, and reports nothing)
        deadline = time.monotonic() + 60
        while _heartbeats(app) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        _database_fault(app, 8)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            # done when all is delivered and a worker's heartbeat has told of the fault (it does so at
            # its first beat after the fault: when the queue ran empty before the fault, that beat may
            # come a backoff after the last message)
            if all(r.state is State.SENT for r in _rows(app)) and _heartbeat_errors(app):
                break
            assert all(w.poll() is None for w in workers), [w.communicate() for w in workers if w.poll() is not None]
            time.sleep(0.5)
        assert all(w.poll() is None for w in workers)  # no worker process ended
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        outputs = [w.communicate(timeout=60) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    rows = _rows(app)
    assert {r.state for r in rows} == {State.SENT}  # nothing lost
    subjects = [m["Subject"] for m in smtp_server.inbox.messages]
    assert set(subjects) == {f"Nachricht {n}" for n in range(80)}
    assert len(subjects) - 80 <= 2 * 5  # a second send only for a batch in flight at the fault
    assert _heartbeat_errors(app)  # the heartbeat says what the worker survived


def _heartbeats(app) -> int:
    from core.observability import WorkerHeartbeat

    with app.extensions["database"].sessionmaker() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(WorkerHeartbeat)) or 0


def _heartbeat_errors(app) -> list[str]:
    from core.observability import WorkerHeartbeat

    with app.extensions["database"].sessionmaker() as s:
        return list(
            s.scalars(sa.select(WorkerHeartbeat.last_error).where(WorkerHeartbeat.last_error.is_not(None))).all()
        )
