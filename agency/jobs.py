"""Running a bulk switch: small jobs within the request, large ones as a durable job that the worker
process runs in steps (core.jobs); the page polls its progress.

The job's rows are stored with their outcome after every step, and each chunk of rows commits on its
own; a worker killed mid-step leaves the job to the next worker, which skips the rows already
switched (agency.bulk.run_rows counts a contract already on the portal with that address as switched)."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy.orm as so

from agency.bulk import Limits, run_rows
from agency.models import JobState, SwitchJob
from contracts.jobs import request_current_policies
from core import clock, jobs
from core.users import User
from onboarding.settings import OnboardingSettings

log = logging.getLogger(__name__)

JOB_KIND = "agency.switch"
STEP_ROWS = 2000  # rows per worker step: a few seconds, well inside the job lease; delivery interleaves


def run_step(session: so.Session, job: SwitchJob, settings: OnboardingSettings, limit: int | None = STEP_ROWS) -> bool:
    """Switch the next `limit` open rows (all with None); True while rows are left."""
    user = session.get(User, job.created_by_id)
    assert user is not None
    rows = job.switch_rows
    open_rows = [r for r in rows if r.status == "ok"]
    job.state = JobState.RUNNING
    run_rows(session, user, open_rows if limit is None else open_rows[:limit], settings)  # commits per chunk
    left = sum(1 for r in rows if r.status == "ok")
    job.switch_rows = rows
    job.processed = len(rows) - left
    if not left:
        # then the worker makes the switched contracts' Versicherungsschein for the portal (after
        # every e-mail and code letter of the switch is queued: those come first)
        request_current_policies(session, job.agency_id, [r.number for r in rows if r.status == "switched"])
        job.state = JobState.DONE
        job.finished_at = clock.now()
        log.info("switch job %s done: %s rows", job.public_id, len(rows))
    session.commit()
    return left > 0


def start(session: so.Session, job: SwitchJob, settings: OnboardingSettings, limits: Limits) -> bool:
    """Start a checked job: up to limits.sync_rows valid rows within the request, more queued for
    the worker (the page then polls the progress). False if it was started before."""
    if job.state is not JobState.PREVIEW:
        return False
    if job.counts()["ok"] <= limits.sync_rows:
        run_step(session, job, settings, limit=None)
    else:
        job.state = JobState.RUNNING
        jobs.enqueue(session, JOB_KIND, f"switch:{job.public_id}", {"switch_job": job.id})
        session.commit()
    return True


def step(session: so.Session, payload: dict[str, Any], settings: OnboardingSettings) -> bool:
    """core.jobs handler for JOB_KIND (registered with the app's settings)."""
    job = session.get(SwitchJob, payload["switch_job"])
    if job is None or job.state is JobState.DONE:
        return False
    return run_step(session, job, settings)
