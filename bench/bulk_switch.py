"""Bulk switch of 10,000 existing contracts from one CSV, end to end until every e-mail and letter is
queued (goal ≤ 10 s on PostgreSQL); then the code letters rendered by the worker against raw wkhtmltopdf.

Three runs, each on a fresh database with the same 10,000 contracts:
  service, 1 worker  — upload (read + check the CSV, job stored in preview) and start as the page
                       does, then one worker process runs the job's parts;
  service, 2 workers — the same with two worker processes at once (parts of one job, SKIP LOCKED);
  HTTP, 2 workers    — the agency manager's requests (login, upload form, "jetzt umstellen") through
                       the app, the same two worker processes.
The worker processes are started and idle before the upload (as in production) and run only the
switch's jobs (`core.jobs.runner` with its kind, as `flask worker run` does between deliveries).
Baseline in the same run: reading and checking the file alone.
Run: .venv/bin/python -m bench.bulk_switch [DATABASE_URL]   (default: a new SQLite file)
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import pdfkit
import sqlalchemy as sa
from pypdf import PdfReader

from bench.common import csrf_token, demo_user, job_workers, logged_in_client, throwaway_app

TOTAL = int(os.environ.get("SWITCH_ROWS", "10000"))
LETTER_SAMPLE = int(os.environ.get("LETTER_SAMPLE", "400"))


def _prepared(url: str):
    """A fresh database with the demo seed and TOTAL contracts of the demo agency."""
    app = throwaway_app(url)
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    from contracts.imports import import_contracts
    from contracts.settings import current as contract_settings
    from core.db import session
    from demo.seed import DEMO_EXISTING

    header = DEMO_EXISTING.split("\n")[0]
    stock = "".join(
        f"GR-{n:06d};agenturleiter@demo.example;rs;Frau;Kundin{n};Muster;Weg {n % 90 + 1};10115;Berlin;"
        f"01.01.2020;9,90;monatlich;;\n"
        for n in range(TOTAL)
    )
    with app.app_context():
        import_contracts(session(), (header + "\n" + stock).encode(), contract_settings().catalog)
        session().commit()
    return app


CSV = (
    "Vertragsnummer;E-Mail;Mobilnummer\n"
    + "".join(f"GR-{n:06d};kundin{n}@example.org;0151 {n:08d}\n" for n in range(TOTAL))
).encode()


def _done(app) -> tuple[int, int, int] | None:
    """(switched, e-mails, letters) once the job is done, else None."""
    from agency import bulk
    from agency.models import JobState, SwitchJob
    from messaging.models import OutboxMessage

    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        job = s.scalar(sa.select(SwitchJob).order_by(SwitchJob.id.desc()).limit(1))
        if job is None or job.state is not JobState.DONE:
            return None
        count = sa.select(sa.func.count())
        return (
            bulk.counts(s, job)["switched"],
            s.scalar(count.where(OutboxMessage.template == "access_link")),
            s.scalar(count.where(OutboxMessage.template == "access_code")),
        )


def run(url: str, workers: int, http: bool):
    """One run: (seconds of the upload with its check, seconds from the upload until done, the app)."""
    from agency.jobs import JOB_KIND

    app = _prepared(url)
    with job_workers(url, JOB_KIND, workers):
        started = time.perf_counter()
        check_s = _through_http(app) if http else _through_services(app)
        while (outcome := _done(app)) is None:
            time.sleep(0.05)
        total_s = time.perf_counter() - started
    assert outcome == (TOTAL, TOTAL, TOTAL), outcome
    return check_s, total_s, app


def _through_services(app) -> float:
    from agency import bulk
    from agency import jobs as switch_jobs
    from core.db import session

    with app.app_context():
        s = session()
        manager = demo_user(s, "agenturleiter@demo.example")
        limits = bulk.Limits(max_bytes=len(CSV), max_rows=10**6, sync_rows=200)
        started = time.perf_counter()
        job = bulk.upload_job(s, manager, "bench.csv", CSV, limits)
        check_s = time.perf_counter() - started
        switch_jobs.start(s, job, app.extensions["onboarding_settings"], limits)
    return check_s


def _through_http(app) -> float:
    app.config.update(BULK_SWITCH_MAX_BYTES=len(CSV))
    settings = app.extensions["agency_settings"]
    app.extensions["agency_settings"] = type(settings)(
        bulk=type(settings.bulk)(max_bytes=len(CSV), max_rows=10**6, sync_rows=settings.bulk.sync_rows),
        dashboard=settings.dashboard,
        worklist=settings.worklist,
    )
    client = logged_in_client(app, "agenturleiter@demo.example")
    form = client.get("/agentur/umstellung").get_data(as_text=True)
    started = time.perf_counter()
    uploaded = client.post(
        "/agentur/umstellung",
        data={"csrf_token": csrf_token(form), "datei": (io.BytesIO(CSV), "bestand.csv")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302, uploaded.get_data(as_text=True)[:500]
    check_s = time.perf_counter() - started
    job_page = client.get(uploaded.location).get_data(as_text=True)
    started_job = client.post(f"{uploaded.location}/start", data={"csrf_token": csrf_token(job_page)})
    assert started_job.status_code == 302
    return check_s


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tempfile.mkdtemp(prefix='vr-bench-')}/switch.sqlite3"
    backend = sa.make_url(url).get_backend_name()
    figures = {}
    for label, workers, http in (
        ("service, 1 worker", 1, False),
        ("service, 2 workers", 2, False),
        ("HTTP, 2 workers", 2, True),
    ):
        check_s, total_s, app = run(url, workers, http)
        figures[label] = total_s
        print(
            f"[{backend}] {label}: {TOTAL} rows — upload with check {check_s:.1f} s, until every e-mail and "
            f"letter is queued {total_s:.1f} s (goal ≤ 10 s); the switch costs {(total_s - check_s) / check_s:.1f}× "
            f"the check alone"
        )
    one, two = figures["service, 1 worker"], figures["service, 2 workers"]
    print(f"[{backend}] 2 workers vs 1: {one / two:.2f}× as fast ({os.cpu_count()} cores)")
    if LETTER_SAMPLE:
        letters_vs_raw(app, LETTER_SAMPLE)


def letters_vs_raw(app, sample: int) -> None:
    """A sample of the code letters: rendered by the worker (one process; a batch's PDFs on all cores)
    against the raw wkhtmltopdf command on the same HTML with the same options and as many processes
    as cores, in the same run. Each letter is one page."""
    from flask import render_template

    from core import clock
    from core.pdf import LETTER_OPTIONS, _configuration
    from messaging import worker
    from messaging.models import OutboxMessage, State

    cores = os.cpu_count() or 1
    from contracts.jobs import JOB_KIND as CURRENT_POLICY
    from core.jobs import Job, JobState

    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        s.execute(sa.update(OutboxMessage).where(OutboxMessage.template == "access_link").values(state="sent"))
        # only the letters are measured here: the switched contracts' Versicherungsschein jobs wait
        s.execute(sa.update(Job).where(Job.kind == CURRENT_POLICY).values(state=JobState.DONE))
        ids = s.scalars(
            sa.select(OutboxMessage.id).where(OutboxMessage.template == "access_code").order_by(OutboxMessage.id)
        ).all()
        s.execute(sa.update(OutboxMessage).where(OutboxMessage.id.in_(ids[sample:])).values(state="posted"))
        s.commit()
        letters = s.scalars(sa.select(OutboxMessage).where(OutboxMessage.id.in_(ids[:sample]))).all()
        htmls = [render_template("documents/letter.html", message=m, created=clock.now()) for m in letters]
        command = pdfkit.PDFKit("", "string", options=LETTER_OPTIONS, configuration=_configuration()).command()

    def raw(html: str) -> bytes:
        return subprocess.run(command, input=html.encode(), capture_output=True, check=True).stdout

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=cores) as pool:
        pdfs = list(pool.map(raw, htmls))
    raw_rate = len(pdfs) / (time.perf_counter() - started)
    assert all(len(PdfReader(io.BytesIO(p)).pages) == 1 for p in pdfs[:5])

    started = time.perf_counter()
    outcome = worker.run(app, once=True)
    ours_rate = sample / (time.perf_counter() - started)
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        ready = s.scalar(
            sa.select(sa.func.count()).where(OutboxMessage.id.in_(ids[:sample]), OutboxMessage.state == State.READY)
        )
    assert ready == sample, (ready, outcome)
    print(
        f"letters ({sample}, one page each, {cores} cores): raw wkhtmltopdf {raw_rate:.1f} pages/s, "
        f"worker (one process, batch of {app.config['OUTBOX_BATCH_SIZE']}) {ours_rate:.1f} pages/s → "
        f"{ours_rate / raw_rate:.2f} × raw (goal ≥ 0.8); all {TOTAL} letters ≈ {TOTAL / ours_rate / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
