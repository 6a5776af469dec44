"""Running a bulk switch: small files at once, large ones in a background thread with progress.

The job's rows are stored with their outcome, and each row commits on its own, so a job that
stopped (process restart) can be resumed with `flask agency resume-jobs` without doing a row twice."""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask

from agency.models import JobState, SwitchJob
from agency.services import run_rows
from core import clock
from core.users import User

log = logging.getLogger(__name__)


def run_job(session: so.Session, job: SwitchJob) -> None:
    user = session.get(User, job.created_by_id)
    assert user is not None
    rows = [dict(r) for r in job.rows]
    job.state = JobState.RUNNING
    session.commit()

    def progress(done: int) -> None:
        if done % 50 == 0 or done == len(rows):
            job.processed = done
            job.rows = [dict(r) for r in rows]
            session.commit()

    todo = [r for r in rows if r["status"] == "ok"]
    done_before = len(rows) - len(todo)
    run_rows(session, user, rows, progress=lambda n: progress(n))
    job.rows = rows
    job.processed = len(rows)
    job.state = JobState.DONE
    job.finished_at = clock.now()
    session.commit()
    log.info("switch job %s: %s rows (%s skipped before)", job.public_id, len(rows), done_before)


def start_in_background(app: Flask, job_id: int) -> threading.Thread:
    def work() -> None:
        with app.app_context(), app.extensions["database"].sessionmaker() as session:
            job = session.get(SwitchJob, job_id)
            if job is not None:
                run_job(session, job)

    thread = threading.Thread(target=work, name=f"switch-job-{job_id}", daemon=True)
    thread.start()
    return thread


def resume(app: Flask) -> int:
    """Jobs left running by a stopped process: finish their remaining rows."""
    with app.app_context(), app.extensions["database"].sessionmaker() as session:
        jobs = session.scalars(sa.select(SwitchJob).where(SwitchJob.state == JobState.RUNNING)).all()
        for job in jobs:
            run_job(session, job)
        return len(jobs)
