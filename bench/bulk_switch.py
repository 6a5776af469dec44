"""Bulk switch of 10,000 existing contracts from one CSV, end to end until every e-mail and letter is
queued (goal ≤ 10 s); then the code letters rendered by the worker against raw wkhtmltopdf.

Steps timed: the upload (read + check the CSV, the job stored in preview), then the job run as the
worker runs it (core.jobs.runner steps: chunks of rows, one transaction each — customer, access
link, link e-mail, letter code, code letter, audit). Baseline in the same process: reading and
checking alone. Letters: a sample rendered by the worker vs the raw wkhtmltopdf command on all cores.
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

from bench.common import demo_user, throwaway_app

TOTAL = 10_000
LETTER_SAMPLE = int(os.environ.get("LETTER_SAMPLE", "400"))


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tempfile.mkdtemp(prefix='vr-bench-')}/switch.sqlite3"
    app = throwaway_app(url)
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    from agency import bulk
    from agency import jobs as switch_jobs
    from contracts.imports import import_contracts
    from contracts.settings import current as contract_settings
    from core import jobs
    from core.db import session
    from demo.seed import DEMO_EXISTING
    from messaging.models import OutboxMessage

    header = DEMO_EXISTING.split("\n")[0]
    stock = "".join(
        f"GR-{n:06d};agenturleiter@demo.example;rs;Frau;Kundin{n};Muster;Weg {n % 90 + 1};10115;Berlin;"
        f"01.01.2020;9,90;monatlich;;\n"
        for n in range(TOTAL)
    )
    with app.test_request_context():
        s = session()
        import_contracts(s, (header + "\n" + stock).encode(), contract_settings().catalog)
        s.commit()
        manager = demo_user(s, "agenturleiter@demo.example")
        csv_bytes = (
            "Vertragsnummer;E-Mail;Mobilnummer\n"
            + "".join(f"GR-{n:06d};kundin{n}@example.org;0151 {n:08d}\n" for n in range(TOTAL))
        ).encode()

        limits = bulk.Limits(max_bytes=len(csv_bytes), max_rows=10**6, sync_rows=200)
        started = time.perf_counter()
        job = bulk.upload_job(s, manager, "bench.csv", csv_bytes, limits)
        check_s = time.perf_counter() - started
        started = time.perf_counter()
        switch_jobs.start(s, job, app.extensions["onboarding_settings"], limits)
        while jobs.runner(app, [switch_jobs.JOB_KIND])(s):  # what `flask worker run` does between deliveries
            pass
        switch_s = time.perf_counter() - started
        s.expire_all()
        switched = sum(r.status == "switched" for r in job.switch_rows)
        mails = s.scalar(sa.select(sa.func.count()).where(OutboxMessage.template == "access_link"))
        letters = s.scalar(sa.select(sa.func.count()).where(OutboxMessage.template == "access_code"))
    backend = app.extensions["database"].engine.dialect.name
    print(
        f"[{backend}] {TOTAL} rows: check (preview) {check_s:.1f} s; switch {switch_s:.1f} s → "
        f"{check_s + switch_s:.1f} s end to end (goal ≤ 10 s); {switched} switched, {mails} e-mails and "
        f"{letters} letters queued; switching costs {switch_s / check_s:.0f}× the check alone"
    )

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
