"""Durable background jobs, run by the worker process (never a thread of a web process).

A job is a row: kind, payload, state. The worker claims due jobs with `core.leases` (FOR UPDATE
SKIP LOCKED, a lease, attempts + 1), runs the handler its package registered for the kind, and
records the outcome. A handler does a bounded step of work, commits what it did, and returns True
while work is left (the job is due again at once, so outbox delivery and other jobs interleave with a
long one). A worker killed mid-step leaves its job leased; when the lease ends the next worker claims
it and the handler continues from what was committed — handlers must make every unit of work
idempotent (a bulk switch skips rows that were switched already).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask

from core import clock, leases
from core.db import Base

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # claims that ended in an exception before the job is given up

Handler = Callable[[so.Session, dict[str, Any]], bool]


class JobState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (sa.Index("ix_jobs_due", "state", "run_after"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(50))
    # one job per business event (e.g. "switch:<public id>"): enqueuing it twice finds the first
    key: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)
    payload: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    state: so.Mapped[JobState] = so.mapped_column(default=JobState.PENDING)
    attempts: so.Mapped[int] = so.mapped_column(default=0)  # claims that failed
    steps: so.Mapped[int] = so.mapped_column(default=0)
    run_after: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    lease_until: so.Mapped[datetime | None]
    claimed_by: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    finished_at: so.Mapped[datetime | None]


def register(app: Flask, kind: str, handler: Handler) -> None:
    """A package's handler for its kind of job (in its init_app)."""
    app.extensions.setdefault("job_handlers", {})[kind] = handler


def enqueue(session: so.Session, kind: str, key: str, payload: dict[str, Any]) -> Job:
    """A new job in the caller's transaction (or the existing one with this key)."""
    found = session.scalar(sa.select(Job).where(Job.key == key))
    if found is not None:
        return found
    job = Job(kind=kind, key=key, payload=payload)
    session.add(job)
    session.flush()
    return job


def runner(app: Flask, kinds: Collection[str] | None = None) -> Callable[[so.Session], int]:
    """The worker task for this app: its handlers (packages register theirs in init_app, also after
    this call) and JOB_LEASE_SECONDS, bound once. kinds: only jobs of these kinds (default: all)."""
    handlers = app.extensions.setdefault("job_handlers", {})
    lease_seconds = int(app.config["JOB_LEASE_SECONDS"])
    return lambda session: run_due(session, handlers, lease_seconds, kinds=kinds)


def run_due(
    session: so.Session,
    handlers: Mapping[str, Handler],
    lease_seconds: int,
    worker_id: str = "worker",
    limit: int = 1,
    kinds: Collection[str] | None = None,
) -> int:
    """Worker task: claim due jobs and run one step of each (a step must commit well within
    lease_seconds, after which another worker may take the job over); returns how many steps ran."""
    now = clock.now()
    due = sa.or_(
        sa.and_(Job.state == JobState.PENDING, Job.run_after <= now),
        sa.and_(Job.state == JobState.RUNNING, Job.lease_until < now),  # its worker died
    )
    if kinds is not None:
        due = sa.and_(due, Job.kind.in_(list(kinds)))
    ids = leases.claim(
        session,
        Job,
        due=due,
        order_by=(Job.run_after, Job.id),
        limit=limit,
        values={
            "state": JobState.RUNNING,
            "claimed_by": worker_id,
            "lease_until": now + timedelta(seconds=lease_seconds),
        },
    )
    for job_id in ids:
        job = session.get(Job, job_id)
        assert job is not None
        handler = handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for jobs of kind {job.kind!r}")
            more = handler(session, dict(job.payload))
        except Exception as error:  # a bug or outage must not stop the worker: retry later, keep the trace
            session.rollback()
            log.exception("job %s (%s) failed", job_id, job.kind)
            job = session.get(Job, job_id)
            assert job is not None
            job.attempts += 1
            job.last_error = f"{type(error).__name__}: {error}"[:2000]
            job.state = JobState.FAILED if job.attempts >= MAX_ATTEMPTS else JobState.PENDING
            job.run_after = clock.now() + timedelta(seconds=30 * 2 ** (job.attempts - 1))
            job.lease_until = None
            session.commit()
            continue
        job.steps += 1
        job.lease_until = None
        if more:
            job.state, job.run_after = JobState.PENDING, clock.now()
        else:
            job.state, job.finished_at = JobState.DONE, clock.now()
        session.commit()
    return len(ids)
