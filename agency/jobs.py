"""Running a bulk switch: small jobs within the request, large ones as durable jobs that worker
processes run in steps (core.jobs); the page polls its progress.

A large job is split into parts, one core.jobs job each, so several workers switch one bulk job at
once: each step of a part claims chunks of the job's open rows (FOR UPDATE SKIP LOCKED) and writes
their outcome in the chunk's transaction. A worker killed mid-chunk leaves its rows open (its
transaction rolled back) for the next claim — by another part at once, or by its own part once the
lease ends; a row is never switched twice. Whichever part commits the last rows finishes the job
(one guarded UPDATE) and queues the switched contracts' Versicherungsschein."""

from __future__ import annotations

import logging
import math
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from agency.bulk import Limits, counts, run_rows
from agency.models import JobState, SwitchJob, SwitchJobRow
from contracts.jobs import request_current_policies
from core import clock, jobs
from core.db import rowcount, table
from core.users import User
from onboarding.settings import OnboardingSettings

log = logging.getLogger(__name__)

JOB_KIND = "agency.switch"
STEP_ROWS = 2000  # rows per worker step: a few seconds, well inside the job lease; delivery interleaves
PART_ROWS = 2000  # open rows per part: a job of 10,000 rows is five parts, for up to five workers


def run_step(session: so.Session, job: SwitchJob, settings: OnboardingSettings, limit: int | None = STEP_ROWS) -> bool:
    """Switch up to `limit` (None: all) open rows of the job; True while this part should run again
    (it found rows to claim). The job is finished by whichever step sees no open row left."""
    job_id, agency_id = job.id, job.agency_id
    user = session.get(User, job.created_by_id)
    assert user is not None
    if job.state is JobState.PREVIEW:
        job.state = JobState.RUNNING
        session.commit()
    claimed = run_rows(session, user, job_id, settings, limit)  # commits per chunk
    if _finish(session, job_id, agency_id):
        return False
    session.commit()
    return bool(claimed) and limit is not None


def _finish(session: so.Session, job_id: int, agency_id: int) -> bool:
    """Done when no row is open: one guarded UPDATE (two parts finishing at once: one wins), then —
    after every e-mail and code letter of the switch is queued — the switched contracts'
    Versicherungsschein for the portal, in the same transaction."""
    rows, jobs_table = table(SwitchJobRow), table(SwitchJob)
    still_open = sa.exists().where(rows.c.job_id == job_id, rows.c.status == "ok")
    finished = rowcount(
        session.execute(
            sa.update(jobs_table)
            .where(jobs_table.c.id == job_id, jobs_table.c.state == JobState.RUNNING, ~still_open)
            .values(state=JobState.DONE, finished_at=clock.now())
        )
    )
    if not finished:
        return False
    switched = session.scalars(
        sa.select(rows.c.number).where(rows.c.job_id == job_id, rows.c.status == "switched").order_by(rows.c.line)
    ).all()
    request_current_policies(session, agency_id, list(switched))
    session.commit()
    log.info("switch job %s done", job_id)
    return True


def start(session: so.Session, job: SwitchJob, settings: OnboardingSettings, limits: Limits) -> bool:
    """Start a checked job: up to limits.sync_rows valid rows within the request, more queued for
    the workers in parts (the page then polls the progress). False if it was started before."""
    started = rowcount(
        session.execute(
            sa.update(table(SwitchJob))
            .where(table(SwitchJob).c.id == job.id, table(SwitchJob).c.state == JobState.PREVIEW)
            .values(state=JobState.RUNNING)
        )
    )
    if not started:  # another click, another tab: started once
        session.rollback()
        return False
    session.expire(job, ["state"])
    waiting = counts(session, job)["ok"]
    if waiting <= limits.sync_rows:
        session.commit()
        run_step(session, job, settings, limit=None)
        return True
    for part in range(max(1, math.ceil(waiting / PART_ROWS))):
        key = f"switch:{job.public_id}" + (f":{part}" if part else "")
        jobs.enqueue(session, JOB_KIND, key, {"switch_job": job.id, "part": part})
    session.commit()
    return True


def step(session: so.Session, payload: dict[str, Any], settings: OnboardingSettings) -> bool:
    """core.jobs handler for JOB_KIND (registered with the app's settings)."""
    job = session.get(SwitchJob, payload["switch_job"])
    if job is None or job.state is JobState.DONE:
        return False
    return run_step(session, job, settings)
