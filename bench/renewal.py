"""The yearly renewal (issue #14): N running Kfz contracts renewed by the worker's job, in the same run
against the raw `wkhtmltopdf` command on a sample of the same documents with as many processes.

- documents/s of the whole renewal (SF move, repricing, version, two PDFs per contract, storage,
  letters queued, commits) vs raw wkhtmltopdf documents/s (goal ≥ 0.8×);
- the worker's resident memory after each step (goal: flat — no growth with the number of contracts).

The contracts are copies of one policed Kfz contract (its own answers and risk), delivered by post.
Run: .venv/bin/python -m bench.renewal [N=1000] [DATABASE_URL]
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from bench.common import demo_user, throwaway_app
from bench.documents import raw_wkhtmltopdf

SAMPLE = 40  # documents of the raw baseline


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def make_contracts(app, n: int):
    """One Kfz contract policed the real way, then n-1 copies of it (numbers RB-…), all due together."""
    from werkzeug.datastructures import MultiDict

    from calculator import quotes
    from calculator.tariffs import Product
    from contracts.models import Contract, Delivery
    from contracts.services import ApplicationData, submit_application
    from contracts.settings import current as current_settings
    from core import clock
    from core.db import new_public_id, session, table
    from tests.helpers import KFZ_ANSWERS

    with app.test_request_context():
        s = session()
        broker = demo_user(s, "vermittler@demo.example")
        today = clock.today()
        form = MultiDict(KFZ_ANSWERS)
        quote = quotes.evaluate(s, app.extensions["tariffs"], Product.KFZ, form, today=today)
        offer = quotes.store_offer(s, broker, quote, form)
        data = ApplicationData(
            today + timedelta(days=1), "Jürgen Müller", "DE89370400440532013000", None, Delivery.POST, None, None
        )
        application = submit_application(s, broker, offer, data, current_settings())
        s.commit()
        model = s.scalar(sa.select(Contract).where(Contract.application_id == application.id))
        assert model is not None
        columns = [
            c.name for c in table(Contract).columns if c.name not in ("id", "public_id", "number", "application_id")
        ]
        row = {c: getattr(model, c) for c in columns}
        for start in range(1, n, 1000):
            s.execute(
                sa.insert(table(Contract)),
                [
                    {**row, "public_id": new_public_id(), "number": f"RB-{i:07d}", "application_id": None}
                    for i in range(start, min(start + 1000, n))
                ],
            )
        s.commit()
        return model.main_due


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    url = sys.argv[2] if len(sys.argv) > 2 else None
    app = throwaway_app(url)
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    import time_machine

    from contracts import renewal
    from contracts.documents import render_document
    from contracts.models import Contract, DocumentKind
    from contracts.settings import current as current_settings
    from core import jobs
    from core.db import session

    due = make_contracts(app, n)
    # the renewal runs a month before the Hauptfälligkeit
    with time_machine.travel(due - timedelta(days=30), tick=True), app.app_context():
        s = session()
        run = renewal.start(s, due, actor=None, today=due - timedelta(days=30), label="Benchmark")
        s.commit()
        total = run.total
        cores = os.cpu_count() or 1
        step = app.config["RENEWAL_STEP_CONTRACTS"]
        print(
            f"{app.extensions['database'].engine.dialect.name}: {total} contracts due {due}, "
            f"{cores} cores, {step} a step"
        )

        # baseline: raw wkhtmltopdf on a sample of the same documents, as many processes as cores
        sample = list(s.scalars(sa.select(Contract).order_by(Contract.id.desc()).limit(SAMPLE // 2)))
        with app.test_request_context():
            htmls = [
                render_document(c, k, current_settings().catalog, period_start=due)
                for c in sample
                for k in (DocumentKind.POLICY, DocumentKind.INVOICE)
            ]
        s.rollback()
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=cores) as pool:
            list(pool.map(raw_wkhtmltopdf, htmls))
        raw_rate = len(htmls) / (time.perf_counter() - started)

        runner = jobs.runner(app, [renewal.JOB_KIND])
        memory = [rss_mb()]
        started = time.perf_counter()
        steps = 0
        while runner(session()):
            steps += 1
            if steps % 10 == 0:
                memory.append(rss_mb())
        elapsed = time.perf_counter() - started
        memory.append(rss_mb())
        current = session().get(type(run), run.id)
        assert current is not None
        progress = renewal.progress(session(), current)
    documents = 2 * progress.renewed
    ours_rate = documents / elapsed
    print(f"renewed {progress.renewed} of {total} ({progress.failed} failed) in {elapsed:.1f} s, {steps} steps")
    print(
        f"documents: renewal {ours_rate:.1f}/s incl. everything, raw wkhtmltopdf {raw_rate:.1f}/s → "
        f"{ours_rate / raw_rate:.2f} × raw (goal ≥ 0.8)"
    )
    quarter = max(1, len(memory) // 4)
    print(
        f"worker RSS: {memory[0]:.0f} MB before, {min(memory[quarter:]):.0f}–{max(memory[quarter:]):.0f} MB "
        f"over the run, {memory[-1]:.0f} MB after (goal: flat)"
    )
    if n >= 10_000:
        print(f"10,000 contracts at this rate: {10_000 * 2 / ours_rate / 60:.0f} min")


if __name__ == "__main__":
    main()
