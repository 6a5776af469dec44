"""Durable jobs: a bulk switch queued by the web process is run by a worker process in steps; a
worker SIGKILLed in the middle of a step leaves the job to the next claimant, which finishes it
without switching (or e-mailing) any row twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from agency import bulk
from agency import jobs as switch_jobs
from agency.models import JobState, SwitchJob
from contracts.imports import import_contracts
from core import clock, jobs, migrate
from core.app import create_app
from core.users import User
from demo.seed import DEMO_EXISTING
from messaging.models import OutboxMessage
from tests.conftest import database_url_for, messaging_environ, reset_database
from tests.helpers import SHIPPED_TARIFFS

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).parent / "flask")
ROWS = 2600  # more than one chunk of the set-based switch (agency.bulk.CHUNK_ROWS), so a kill lands mid-job


def _queue_switch(app) -> int:
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        rows = "".join(
            f"GR-{n:05d};agenturleiter@demo.example;rs;Frau;K{n};N;Weg 1;10115;Berlin;01.01.2020;9,90;monatlich;;\n"
            for n in range(ROWS)
        )
        import_contracts(s, (DEMO_EXISTING.split("\n")[0] + "\n" + rows).encode(), SHIPPED_TARIFFS)
        manager = s.scalar(sa.select(User).where(User.email == "agenturleiter@demo.example"))
        csv = "".join(f"GR-{n:05d};k{n}@example.org;0151 {n:08d}\n" for n in range(ROWS)).encode()
        limits = bulk.Limits(max_bytes=10**6, max_rows=10**4, sync_rows=0)  # never within the request
        job = bulk.upload_job(s, manager, "x.csv", csv, limits)
        assert switch_jobs.start(s, job, app.extensions["onboarding_settings"], limits)
        return job.id


_switch_job_state = sa.select(jobs.Job.state).where(jobs.Job.kind == switch_jobs.JOB_KIND)


def _links(app) -> int:
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        return s.scalar(sa.select(sa.func.count()).where(OutboxMessage.template == "access_link"))


@pytest.fixture
def jobs_app(tmp_path, smtp_server, twilio_server):
    """An app on a database of its own (a worker process shares it); its connections are closed
    however the test ends."""
    url = database_url_for("jobs", tmp_path)
    reset_database(url)
    environ = {**messaging_environ(url, smtp_server, twilio_server), "JOB_LEASE_SECONDS": "60"}
    app = create_app(environ=environ)
    migrate.upgrade(app.extensions["database"].engine)
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    app.config["TEST_ENVIRON"] = environ
    yield app
    app.extensions["database"].engine.dispose()


def test_a_killed_worker_s_job_is_finished_by_the_next_one_and_no_row_twice(jobs_app, time_machine):
    app, environ = jobs_app, jobs_app.config["TEST_ENVIRON"]
    switch_id = _queue_switch(app)
    assert _links(app) == 0  # queued only

    victim = subprocess.Popen(
        [FLASK, "worker", "run"],
        cwd=ROOT,
        env={**os.environ, **environ, "FLASK_APP": "wsgi"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while _links(app) < bulk.CHUNK_ROWS and time.monotonic() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    switched_before = _links(app)
    assert bulk.CHUNK_ROWS <= switched_before < ROWS  # killed in the middle of the job
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        # almost always killed inside a step: its part stays leased to the dead worker until the lease
        # ends (on a badly loaded machine the kill can land between two steps: pending, free)
        leased = s.scalars(
            sa.select(jobs.Job.id).where(jobs.Job.kind == switch_jobs.JOB_KIND, jobs.Job.state == jobs.JobState.RUNNING)
        ).all()
        run = jobs.runner(app, [switch_jobs.JOB_KIND])
        while run(s):  # the job's other part runs at once and takes the dead worker's open rows, too
            pass
        for job_id in leased:  # but the dead worker's part is not claimed before its lease ends
            assert s.get(jobs.Job, job_id).state is jobs.JobState.RUNNING
        later = clock.now() + timedelta(seconds=61)
        time_machine.move_to(later, tick=False)  # the dead worker's lease has ended
        while run(s):  # the next worker takes it over
            pass
        job = s.get(SwitchJob, switch_id)
        assert job.state is JobState.DONE
        assert [r.status for r in bulk.rows_of(s, job)].count("switched") == ROWS
        assert s.scalar(_switch_job_state) is jobs.JobState.DONE
        # then the switched contracts' Versicherungsschein jobs wait for the worker (issue #14)
        assert s.scalar(sa.select(sa.func.count()).where(jobs.Job.kind == "contracts.current_policy")) >= 1
    assert _links(app) == ROWS  # every row once: no second link e-mail for the rows done before the kill
