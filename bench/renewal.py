"""The yearly renewal (issues #14, #28): N running Kfz contracts renewed by worker processes — once
with 1 worker, once with 2 on a fresh database each — against the raw `wkhtmltopdf` command on a sample
of the same documents with as many processes as workers, in the same run.

- documents/s of the whole renewal (SF move, repricing, version, two PDFs per contract, storage,
  letters queued, commits) vs raw wkhtmltopdf documents/s (goal ≥ 0.8×), and 2 workers vs 1 (goal
  ≥ 1.6× on 2 cores). Each worker renders one PDF at a time (PDF_WORKERS=1): the scale-out is by
  worker processes, as across machines;
- each worker's resident memory sampled every 2 s (goal: flat — no growth with the contracts done).

The contracts are copies of one policed Kfz contract (its own answers and risk), delivered by post.
The workers are started and idle before the run is started, and run the renewal's jobs only.
Run: .venv/bin/python -m bench.renewal [N=2000] [DATABASE_URL] [WORKERS=1,2]
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from bench.common import demo_user, job_workers, throwaway_app
from bench.documents import raw_wkhtmltopdf

SAMPLE = 40  # documents of the raw baseline


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


def rss_of(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def one_run(n: int, url: str | None, workers: int) -> tuple[float, float, dict[int, list[float]], int]:
    """(our documents/s, raw documents/s with as many processes, RSS samples per worker, renewed)."""
    import time_machine

    app = throwaway_app(url)
    url = str(app.extensions["database"].engine.url.render_as_string(hide_password=False))
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    from contracts import renewal
    from contracts.documents import render_document
    from contracts.models import Contract, DocumentKind, RenewalRun
    from contracts.settings import current as current_settings
    from core.db import session

    due = make_contracts(app, n)
    travel_to = (due - timedelta(days=30)).isoformat() + "T10:00:00+00:00"
    with app.test_request_context():
        s = session()
        sample = list(s.scalars(sa.select(Contract).order_by(Contract.id.desc()).limit(SAMPLE // 2)))
        htmls = [
            render_document(c, k, current_settings().catalog, period_start=due)
            for c in sample
            for k in (DocumentKind.POLICY, DocumentKind.INVOICE)
        ]
        s.rollback()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(raw_wkhtmltopdf, htmls))
    raw_rate = len(htmls) / (time.perf_counter() - started)

    with job_workers(url, renewal.JOB_KIND, workers, {"PDF_WORKERS": "1"}, travel_to) as processes:
        memory: dict[int, list[float]] = {p.pid or 0: [rss_of(p.pid or 0)] for p in processes}
        with app.app_context(), time_machine.travel(travel_to, tick=True):  # the workers' clock
            s = session()
            run = renewal.start(s, due, actor=None, today=due - timedelta(days=30), label="Benchmark")
            s.commit()
            run_id, total = run.id, run.total
            started = time.perf_counter()
            sampled = started
            while s.scalar(sa.select(RenewalRun.finished_at).where(RenewalRun.id == run_id)) is None:
                s.rollback()
                time.sleep(0.2)
                if time.perf_counter() - sampled >= 2:
                    sampled = time.perf_counter()
                    for pid, samples in memory.items():
                        samples.append(rss_of(pid))
            elapsed = time.perf_counter() - started
            for pid, samples in memory.items():  # and once at the end (a short run has no other)
                samples.append(rss_of(pid))
            finished = s.get(RenewalRun, run_id)
            assert finished is not None
            progress = renewal.progress(s, finished)
    print(f"  {workers} worker(s): renewed {progress.renewed} of {total} ({progress.failed} failed) in {elapsed:.1f} s")
    return 2 * progress.renewed / elapsed, raw_rate, memory, progress.renewed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    url = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "-" else None
    counts = [int(w) for w in (sys.argv[3] if len(sys.argv) > 3 else "1,2").split(",")]
    print(f"{n} Kfz contracts due together, {os.cpu_count()} cores, one PDF at a time per worker")
    rates: dict[int, float] = {}
    for workers in counts:
        ours, raw, memory, _ = one_run(n, url, workers)
        rates[workers] = ours
        print(
            f"  {workers} worker(s): {ours:.1f} documents/s incl. everything, raw wkhtmltopdf with {workers} "
            f"process(es) {raw:.1f}/s → {ours / raw:.2f} × raw (goal ≥ 0.8)"
        )
        for k, samples in enumerate(memory.values(), start=1):
            quarter = max(1, len(samples) // 4)
            print(
                f"    worker {k} RSS: {samples[0]:.0f} MB idle, {min(samples[quarter:]):.0f}–"
                f"{max(samples[quarter:]):.0f} MB over the run's last three quarters (goal: flat)"
            )
    if 1 in rates and 2 in rates:
        print(f"2 workers ÷ 1 worker: {rates[2] / rates[1]:.2f}× (goal ≥ 1.6 on 2 cores)")
    if n < 10_000:
        best = max(rates.values())
        print(f"10,000 contracts at the best rate: {10_000 * 2 / best / 60:.0f} min")


if __name__ == "__main__":
    main()
