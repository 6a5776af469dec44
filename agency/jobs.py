"""Running a bulk switch: small files within the request, large ones as a durable job that the
worker process runs in steps (core.jobs); the page polls its progress.

The job's rows are stored with their outcome after every step, and each row commits on its own; a
worker killed mid-step leaves the job to the next worker, which skips the rows already switched."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy.orm as so

from agency.models import JobState, SwitchJob
from agency.services import run_rows
from core import clock, jobs
from core.users import User
from onboarding.settings import OnboardingSettings

log = logging.getLogger(__name__)

JOB_KIND = "agency.switch"
STEP_ROWS = 200  # rows per worker step: well inside the job lease, and delivery interleaves


def run_step(session: so.Session, job: SwitchJob, settings: OnboardingSettings, limit: int | None = STEP_ROWS) -> bool:
    """Switch the next `limit` open rows (all with None); True while rows are left."""
    user = session.get(User, job.created_by_id)
    assert user is not None
    rows = [dict(r) for r in job.rows]
    open_rows = [r for r in rows if r["status"] == "ok"]
    batch = open_rows if limit is None else open_rows[:limit]
    job.state = JobState.RUNNING
    run_rows(session, user, batch, settings)  # updates the row dicts in place; each row commits
    left = sum(1 for r in rows if r["status"] == "ok")
    job.rows = rows
    job.processed = len(rows) - left
    if not left:
        job.state = JobState.DONE
        job.finished_at = clock.now()
        log.info("switch job %s done: %s rows", job.public_id, len(rows))
    session.commit()
    return left > 0


def run_now(session: so.Session, job: SwitchJob, settings: OnboardingSettings) -> None:
    """Small jobs: every row within the request."""
    run_step(session, job, settings, limit=None)


def start_later(session: so.Session, job: SwitchJob) -> None:
    """Large jobs: queued for the worker (committed by the caller)."""
    job.state = JobState.RUNNING
    jobs.enqueue(session, JOB_KIND, f"switch:{job.public_id}", {"switch_job": job.id})


def step(session: so.Session, payload: dict[str, Any], settings: OnboardingSettings) -> bool:
    """core.jobs handler for JOB_KIND (registered with the app's settings)."""
    job = session.get(SwitchJob, payload["switch_job"])
    if job is None or job.state is JobState.DONE:
        return False
    return run_step(session, job, settings)
