"""Bulk switch of 10,000 existing contracts from one CSV, end to end until every e-mail and letter is
queued (goal ≤ 10 s); then letters rendered by worker processes on all cores.

Steps timed: the upload (read + check the CSV, the job stored in preview), then the job run as the
worker runs it (core.jobs.run_due steps: chunks of rows, one transaction each — customer, access
link, link e-mail, letter code, code letter, audit). Baseline in the same process: reading and
checking alone. Letters: `flask outbox run --once` with 1 and 2 processes on a sample.
Run: .venv/bin/python -m bench.bulk_switch [DATABASE_URL]   (default: a new SQLite file)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import sqlalchemy as sa

from bench.common import ROOT, throwaway_app

TOTAL = 10_000
LETTER_SAMPLE = int(os.environ.get("LETTER_SAMPLE", "400"))


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tempfile.mkdtemp(prefix='vr-bench-')}/switch.sqlite3"
    app = throwaway_app(url)
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    from agency import bulk
    from agency import jobs as switch_jobs
    from contracts.imports import import_contracts
    from core import jobs
    from core.db import session
    from core.users import User
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
        import_contracts(s, (header + "\n" + stock).encode())
        s.commit()
        manager = s.scalar(sa.select(User).where(User.email == "agenturleiter@demo.example"))
        csv_bytes = (
            "Vertragsnummer;E-Mail;Mobilnummer\n"
            + "".join(f"GR-{n:06d};kundin{n}@example.org;0151 {n:08d}\n" for n in range(TOTAL))
        ).encode()

        limits = bulk.Limits(max_bytes=len(csv_bytes), max_rows=10**6)
        started = time.perf_counter()
        job = bulk.upload_job(s, manager, "bench.csv", csv_bytes, limits)
        check_s = time.perf_counter() - started
        started = time.perf_counter()
        switch_jobs.start(s, job, app.extensions["onboarding_settings"], limits)
        while jobs.run_due(s):  # what `flask worker run` does between deliveries
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

    # letters: render a sample with 1 and with 2 worker processes (dev backend for e-mail)
    env = {
        **os.environ,
        "APP_ENV": "testing",
        "DATABASE_URL": url,
        "SECRET_KEY": "b" * 40,
        "FLASK_APP": "wsgi",
        "OUTBOX_BATCH_SIZE": "20",
        "XDG_RUNTIME_DIR": tempfile.gettempdir(),
    }
    with app.app_context(), app.extensions["database"].sessionmaker() as s:
        s.execute(
            sa.update(OutboxMessage).where(OutboxMessage.template == "access_link").values(state="sent")
        )  # only letters are due
        ids = s.scalars(
            sa.select(OutboxMessage.id).where(OutboxMessage.template == "access_code").order_by(OutboxMessage.id)
        ).all()
        s.execute(sa.update(OutboxMessage).where(OutboxMessage.id.in_(ids[2 * LETTER_SAMPLE :])).values(state="posted"))
        s.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids[LETTER_SAMPLE : 2 * LETTER_SAMPLE]))
            .values(state="failed")
        )  # held back for the second run
        s.commit()
    rates = {}
    for workers in (1, 2):
        if workers == 2:
            with app.app_context(), app.extensions["database"].sessionmaker() as s:
                s.execute(
                    sa.update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids[LETTER_SAMPLE : 2 * LETTER_SAMPLE]))
                    .values(state="pending")
                )
                s.commit()
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [str(ROOT / ".venv/bin/flask"), "outbox", "run", "--once"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        for p in procs:
            p.wait()
        rates[workers] = LETTER_SAMPLE / (time.perf_counter() - started)
        print(
            f"letters with {workers} worker process(es): {rates[workers]:.1f}/s ({LETTER_SAMPLE} letters incl. "
            f"process start); all {TOTAL} would take {TOTAL / rates[workers] / 60:.1f} min"
        )
    print(f"speed-up with 2 processes: {rates[2] / rates[1]:.2f}×")


if __name__ == "__main__":
    main()
