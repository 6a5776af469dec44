"""Issue #25 item 9: the database goes away while two worker processes deliver a few hundred messages
and run a bulk switch job — the PostgreSQL server itself is stopped for several seconds and started
again (a failover or a restart), not only connections cut. No worker process exits, nothing is lost,
no row of the job is done twice, and a message goes out twice only inside the documented
at-least-once window (sent, then its record failed).

The test runs a PostgreSQL server of its own (scripts/pg-throwaway.sh), so it never stops the suite's
database; the test command runs it once, in the PostgreSQL pass (the SQLite pass deselects it)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from jinja2 import ChoiceLoader, DictLoader

from agency import bulk
from agency import jobs as switch_jobs
from agency.models import JobState, SwitchJob
from contracts.imports import import_contracts
from contracts.models import Contract, Document, DocumentKind
from core import jobs, migrate
from core.app import create_app
from core.observability import WorkerHeartbeat
from core.users import User
from demo.seed import DEMO_EXISTING
from messaging import outbox
from messaging.models import Kind, OutboxMessage, State
from tests.conftest import TEST_TEMPLATES, messaging_environ
from tests.helpers import SHIPPED_TARIFFS, missing

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).parent / "flask")
PG = str(ROOT / "scripts" / "pg-throwaway.sh")
MAILS = 240  # plain messages queued before the workers start
ROWS = 60  # contracts of the bulk switch: one access-link e-mail each, then a Versicherungsschein each
OUTAGE_SECONDS = 6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own: (data directory, port, URL)."""
    if not shutil.which("initdb") and not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        missing("the PostgreSQL server binaries (initdb)")  # fails under the test command and in CI
    directory = tempfile.mkdtemp(prefix="vr-outage-pg.")  # not under pytest's 0700 tmp: the server's user reads it
    port = _free_port()
    url = subprocess.run([PG, "start", directory, str(port)], check=True, capture_output=True, text=True).stdout
    yield directory, port, url.strip()
    subprocess.run([PG, "stop", directory], check=False)


@pytest.fixture
def outage_app(own_postgres, smtp_server, twilio_server):
    _directory, _port, url = own_postgres
    environ = {
        **messaging_environ(url, smtp_server, twilio_server),
        "JOB_LEASE_SECONDS": "8",
        "OUTBOX_LEASE_SECONDS": "8",
        "OUTBOX_BATCH_SIZE": "10",
        "OUTBOX_POLL_SECONDS": "1",
        "PDF_WORKERS": "2",
    }
    app = create_app(environ=environ)
    app.jinja_loader = ChoiceLoader([DictLoader(TEST_TEMPLATES), app.jinja_loader])
    migrate.upgrade(app.extensions["database"].engine)
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    yield app, {**os.environ, **environ, "FLASK_APP": "wsgi"}
    app.extensions["database"].engine.dispose()


def _queue_work(app) -> int:
    """MAILS e-mails in the outbox and a bulk switch of ROWS contracts queued as a durable job."""
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        for n in range(MAILS):
            outbox.enqueue_email(
                s,
                key=f"outage:{n}",
                to=f"kunde{n}@example.org",
                subject=f"Nachricht {n}",
                template="hello",
                context={"name": str(n)},
            )
        rows = "".join(
            f"AU-{n:04d};agenturleiter@demo.example;rs;Frau;K{n};N;Weg 1;10115;Berlin;01.01.2020;9,90;monatlich;;\n"
            for n in range(ROWS)
        )
        import_contracts(s, (DEMO_EXISTING.split("\n")[0] + "\n" + rows).encode(), SHIPPED_TARIFFS)
        manager = s.scalar(sa.select(User).where(User.email == "agenturleiter@demo.example"))
        csv = "".join(f"AU-{n:04d};au{n}@example.org;0151 {n:08d}\n" for n in range(ROWS)).encode()
        limits = bulk.Limits(max_bytes=10**6, max_rows=10**4, sync_rows=0)  # a job for the worker
        job = bulk.upload_job(s, manager, "ausfall.csv", csv, limits)
        assert switch_jobs.start(s, job, app.extensions["onboarding_settings"], limits)
        s.commit()
        return job.id


def _delivered(smtp_server) -> int:
    return len(smtp_server.inbox.messages)


def _everything_done(app, switch_id: int) -> bool:
    with app.extensions["database"].sessionmaker() as s:
        unsent = s.scalar(
            sa.select(sa.func.count()).where(OutboxMessage.state.in_([State.PENDING, State.SENDING, State.FAILED]))
        )
        open_jobs = s.scalar(sa.select(sa.func.count()).where(jobs.Job.state != jobs.JobState.DONE))
        return unsent == 0 and open_jobs == 0 and s.get(SwitchJob, switch_id).state is JobState.DONE


def test_two_workers_survive_a_stopped_postgresql_server_and_lose_nothing(own_postgres, outage_app, smtp_server):
    directory, port, _url = own_postgres
    app, env = outage_app
    switch_id = _queue_work(app)
    app.extensions["database"].engine.dispose()  # the test's own connections would die with the server
    smtp_server.inbox.delay = 0.02  # delivery takes a few seconds: the outage lands in the middle of it
    workers = [
        subprocess.Popen(
            [FLASK, "worker", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while _delivered(smtp_server) < 30 and time.monotonic() < deadline:
            time.sleep(0.02)
        delivered_before = _delivered(smtp_server)
        with app.extensions["database"].sessionmaker() as s:  # the jobs are at work too (PDFs take seconds)
            open_jobs = s.scalar(sa.select(sa.func.count()).where(jobs.Job.state != jobs.JobState.DONE))
        app.extensions["database"].engine.dispose()
        subprocess.run([PG, "halt", directory], check=True)
        time.sleep(OUTAGE_SECONDS)
        assert all(w.poll() is None for w in workers)  # both workers are still there during the outage
        during = _delivered(smtp_server)
        subprocess.run([PG, "resume", directory, str(port)], check=True)
        app.extensions["database"].engine.dispose()

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _everything_done(app, switch_id):
            assert all(w.poll() is None for w in workers), [w.communicate() for w in workers if w.poll() is not None]
            time.sleep(0.5)
        assert all(w.poll() is None for w in workers)  # no worker process ended
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        outputs = [w.communicate(timeout=60) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert 30 <= delivered_before < MAILS + ROWS  # the server stopped in the middle of the work
    assert open_jobs  # ... and of the jobs
    assert during - delivered_before <= 2 * 10  # at most the batches in flight went out during the outage

    subjects = Counter(m["Subject"] for m in smtp_server.inbox.messages)
    recipients = Counter(m["To"] for m in smtp_server.inbox.messages)
    with app.extensions["database"].sessionmaker() as s:
        states = Counter((m.kind, m.state, m.pdf is not None) for m in s.scalars(sa.select(OutboxMessage)))
        # nothing lost: every e-mail sent, every code letter rendered and waiting in the Postausgang
        assert set(states) <= {(Kind.EMAIL, State.SENT, False), (Kind.LETTER, State.READY, True)}, states
        job = s.get(SwitchJob, switch_id)
        assert job.state is JobState.DONE
        assert [r.status for r in bulk.rows_of(s, job)].count("switched") == ROWS
        numbers = [f"AU-{n:04d}" for n in range(ROWS)]
        policies = s.execute(
            sa.select(Contract.number, sa.func.count(Document.id))
            .join(Document, Document.contract_id == Contract.id)
            .where(Contract.number.in_(numbers), Document.kind == DocumentKind.POLICY)
            .group_by(Contract.number)
        ).all()
        assert sorted(policies) == [(n, 1) for n in numbers]  # the job's work done once per contract
        errors = s.scalars(sa.select(WorkerHeartbeat.last_error).where(WorkerHeartbeat.last_error.is_not(None))).all()
    assert {f"Nachricht {n}" for n in range(MAILS)} <= set(subjects)  # every plain message arrived
    assert all(recipients[f"au{n}@example.org"] >= 1 for n in range(ROWS))  # every switched customer's link
    twice = sum(c - 1 for c in recipients.values() if c > 1)
    assert twice <= 2 * 10  # sent twice only for a batch whose record the outage cut off
    assert errors  # the heartbeat says what the workers survived
