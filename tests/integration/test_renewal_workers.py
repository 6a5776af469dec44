"""The renewal under real workers: a worker SIGKILLed in the middle of a run leaves it to the next
one, which finishes it; workers running the same run at once (threads with their own connections,
on PostgreSQL in CI) share the contracts out. Either way every contract is renewed exactly once,
with exactly one Versicherungsschein, one Beitragsrechnung and one letter."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from contracts import renewal
from contracts.imports import import_contracts
from contracts.models import Contract, ContractVersion, Document, VersionKind
from contracts.settings import current as contract_settings
from core import db, jobs
from demo.seed import DEMO_EXISTING
from messaging.models import Kind, OutboxMessage
from tests.helpers import SHIPPED_TARIFFS, run_jobs_until_idle, with_settings
from tests.integration.test_concurrency import in_parallel, parallel_app  # noqa: F401 (fixture)
from tests.integration.test_jobs import FLASK, ROOT, jobs_app  # noqa: F401 (fixture)

CONTRACTS = 40


def _start(app) -> int:
    """CONTRACTS imported Rechtsschutz contracts begun on 1 January (due the next 1 January), and the
    run, started a month before (on the real clock: the worker process claims on it)."""
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        rows = "".join(
            f"RN-{n:05d};agenturleiter@demo.example;rs;Frau;K{n};N;Weg 1;10115;Berlin;01.01.2020;9,90;monatlich;;\n"
            for n in range(CONTRACTS)
        )
        import_contracts(s, (DEMO_EXISTING.split("\n")[0] + "\n" + rows).encode(), SHIPPED_TARIFFS)
        due = s.scalar(sa.select(Contract.main_due).where(Contract.number == "RN-00000"))
        assert (due.month, due.day) == (1, 1)
        run = renewal.start(s, due, actor=None, today=due - timedelta(days=31), label="Test")
        s.commit()
        assert run.total >= CONTRACTS  # and those of the demo's own contracts that are due
        return run.id


def _renewed(app) -> int:
    """Renewed contracts of this test's import."""
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        return s.scalar(
            sa.select(sa.func.count())
            .select_from(ContractVersion)
            .join(Contract, Contract.id == ContractVersion.contract_id)
            .where(ContractVersion.kind == VersionKind.RENEWAL, Contract.number.like("RN-%"))
        )


def _exactly_once(app) -> None:
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        ids = list(s.scalars(sa.select(Contract.id).where(Contract.number.like("RN-%"))))
        per_contract = dict(
            s.execute(
                sa.select(ContractVersion.contract_id, sa.func.count())
                .where(ContractVersion.kind == VersionKind.RENEWAL)
                .group_by(ContractVersion.contract_id)
            ).all()
        )
        assert [per_contract.get(i) for i in ids] == [1] * CONTRACTS
        documents = dict(
            s.execute(
                sa.select(Document.contract_id, sa.func.count())
                .where(Document.contract_id.in_(ids))
                .group_by(Document.contract_id)
            ).all()
        )
        assert [documents.get(i) for i in ids] == [2] * CONTRACTS  # Versicherungsschein + Beitragsrechnung
        public_ids = list(s.scalars(sa.select(Contract.public_id).where(Contract.id.in_(ids))))
        letters = s.scalars(
            sa.select(OutboxMessage.related_id).where(
                OutboxMessage.kind == Kind.LETTER, OutboxMessage.related_id.in_(public_ids)
            )
        ).all()
        assert sorted(letters) == sorted(public_ids)  # one letter per contract (both documents in it)
        (next_due,) = set(s.scalars(sa.select(Contract.main_due).where(Contract.id.in_(ids))))
        assert (next_due.month, next_due.day) == (1, 1)
        assert next_due > s.scalar(sa.select(sa.func.max(ContractVersion.renewal_due)))


def test_a_killed_worker_s_renewal_is_finished_by_the_next_one_and_no_contract_twice(jobs_app, time_machine):  # noqa: F811
    app, environ = jobs_app, jobs_app.config["TEST_ENVIRON"]
    _start(app)
    victim = subprocess.Popen(
        [FLASK, "worker", "run"],
        cwd=ROOT,
        env={**os.environ, **environ, "FLASK_APP": "wsgi", "RENEWAL_STEP_CONTRACTS": "5"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while _renewed(app) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    before = _renewed(app)
    assert 5 <= before < CONTRACTS  # killed in the middle of the run
    # the dead worker's lease ends (it claimed on the real clock); the next worker takes over
    time_machine.move_to(datetime.now(UTC) + timedelta(seconds=61), tick=False)
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        steps = 0
        while jobs.runner(app, [renewal.JOB_KIND])(s):
            steps += 1
        assert steps >= 1
        assert s.scalar(sa.select(jobs.Job.state).where(jobs.Job.kind == renewal.JOB_KIND)) is jobs.JobState.DONE
    assert _renewed(app) == CONTRACTS
    _exactly_once(app)


def test_workers_running_one_renewal_at_once_renew_every_contract_once(parallel_app):  # noqa: F811
    run_id = _start(parallel_app)
    with_settings(parallel_app, "contract_settings", renewal_step_contracts=5)

    def work(i: int) -> int:
        """A worker's loop over the run's steps; a step that loses a race is rolled back and
        retried, as the worker retries a job whose step failed."""
        steps = 0
        for _attempt in range(200):
            with parallel_app.app_context():
                s = db.session()
                try:
                    if not renewal.step(s, {"run": run_id}, contract_settings()):
                        return steps
                    steps += 1
                except (IntegrityError, DBAPIError):
                    s.rollback()
        raise AssertionError("the run did not finish")

    steps = in_parallel(3, work)
    assert sum(steps) >= CONTRACTS // 5
    _exactly_once(parallel_app)


def test_a_run_in_parts_is_shared_by_two_workers_and_finished_once(parallel_app, monkeypatch):  # noqa: F811
    """Issue #28 item 8: a run is queued in parts (here of 10 contracts), so two workers claim parts
    at once (core.jobs, SKIP LOCKED) and each part's steps lock due contracts no other holds; the run
    is finished once, by the part that commits last, and its state says done only then."""
    from contracts.models import RenewalRun

    monkeypatch.setattr(renewal, "PART_CONTRACTS", 10)
    with_settings(parallel_app, "contract_settings", renewal_step_contracts=5)
    run_id = _start(parallel_app)
    with parallel_app.app_context():
        s = db.session()
        parts = s.scalar(sa.select(sa.func.count()).where(jobs.Job.kind == renewal.JOB_KIND))
        assert parts >= CONTRACTS // 10
        assert renewal.progress(s, s.get(RenewalRun, run_id)).running
    steps = in_parallel(2, lambda _: run_jobs_until_idle(parallel_app, renewal.JOB_KIND))
    assert sum(steps) >= parts
    _exactly_once(parallel_app)
    with parallel_app.app_context():
        s = db.session()
        finished = s.get(RenewalRun, run_id)
        assert finished.finished_at is not None
        assert finished.failures == []
        progress = renewal.progress(s, finished)
        assert (progress.running, progress.job_state) == (False, "done")


def test_clerks_starting_one_due_date_at_once_start_it_once(parallel_app):  # noqa: F811
    """Before the savepoint, the second of two first starts hit the unique due date (a 500)."""
    from contracts.models import RenewalRun

    def begin(i: int) -> str:
        with parallel_app.app_context():
            s = db.session()
            try:
                renewal.start(s, date(2027, 1, 1), actor=None, today=date(2026, 12, 1), label=f"Clerk {i}")
            except renewal.RenewalError as error:
                s.rollback()
                return str(error)
            s.commit()
            return "started"

    outcomes = in_parallel(6, begin)
    assert outcomes.count("started") == 1
    assert set(outcomes) == {"started", "Die Verlängerung zum 01.01.2027 läuft bereits."}
    with parallel_app.app_context():
        s = db.session()
        assert s.scalar(sa.select(sa.func.count()).select_from(RenewalRun)) == 1
        assert s.scalar(sa.select(sa.func.count()).where(jobs.Job.kind == renewal.JOB_KIND)) == 1
