"""Contract documents (issue #5).

1. One Versicherungsschein through core.pdf (pdfkit) vs the raw `wkhtmltopdf` command on the same
   HTML with the same options, alternating, 15 each (goal ≤ 1.15×).
2. Policing 100 contracts as one batch (documents rendered on all cores) vs one contract after
   another (goal ≥ 1.7× faster on 2 cores); both on a fresh SQLite database with the demo data.
Run: .venv/bin/python -m bench.documents
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import tempfile
import time
from datetime import timedelta

import sqlalchemy as sa

from bench.common import demo_user, throwaway_app
from core.pdf import OPTIONS, render_pdf


def raw_wkhtmltopdf(html: str) -> bytes:
    args = ["wkhtmltopdf"]
    for key, value in OPTIONS.items():
        args += [f"--{key}"] + ([value] if value else [])
    return subprocess.run([*args, "-", "-"], input=html.encode(), capture_output=True, check=True).stdout


def make_applications(app, n: int) -> list[int]:
    """n referred applications for distinct offers of the demo broker (RS, risk profession: ja)."""
    from werkzeug.datastructures import MultiDict

    from calculator import quotes
    from calculator.tariffs import Product
    from contracts.models import Delivery
    from contracts.services import ApplicationData, submit_application
    from contracts.settings import current as current_settings
    from core import clock
    from core.db import session

    answers = {
        "anrede": "frau",
        "vorname": "Änne",
        "name": "Schröder",
        "geburtsdatum": "01.04.1985",
        "strasse": "Gartenweg 5",
        "plz": "80331",
        "taetigkeit": "employed",
        "deckung": "single",
        "vorversicherung": "keine",
        "risikoberuf": "ja",
        "bausteine": "privat",
        "selbstbeteiligung": "150",
        "mitgliedschaftsbeginn": "17.04.2019",
        "zahlweise": "monatlich",
    }
    ids = []
    with app.test_request_context():
        s = session()
        user = demo_user(s, "vermittler@demo.example")
        for i in range(n):
            form = MultiDict({**answers, "vorname": f"Kundin{i}"})
            quote = quotes.evaluate(s, app.extensions["tariffs"], Product.RS, form, today=clock.now().date())
            offer = quotes.store_offer(s, user, quote, form)
            application = submit_application(
                s,
                user,
                offer,
                ApplicationData(
                    clock.now().date() + timedelta(days=7),
                    "Änne Schröder",
                    "DE89370400440532013000",
                    None,
                    Delivery.PORTAL,
                    "kunde@example.org",
                    "+4915112345678",
                ),
                current_settings(),
            )
            ids.append(application.id)
        s.commit()
    return ids


def police(app, ids: list[int], batch: bool) -> float:
    from contracts.models import Application
    from contracts.services import accept
    from contracts.settings import current as current_settings
    from core.db import session

    with app.test_request_context():
        s = session()
        user = demo_user(s, "innendienst@demo.example")
        applications = list(s.scalars(sa.select(Application).where(Application.id.in_(ids)).order_by(Application.id)))
        started = time.perf_counter()
        if batch:
            accept(s, applications, user, current_settings())
        else:
            for application in applications:
                accept(s, [application], user, current_settings())
        s.commit()
        return time.perf_counter() - started


def main() -> None:
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
    os.environ["DOCUMENT_STORAGE_DIR"] = tempfile.mkdtemp(prefix="vr-bench-docs-")
    app = throwaway_app()
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    ids = make_applications(app, 201)  # 1 for the document, 100 batch, 50 + 50 one after another

    # 1. one document: our code vs the raw command
    from contracts.documents import render_document
    from contracts.models import Contract, DocumentKind
    from contracts.settings import current as current_settings
    from core.db import session

    police(app, ids[:1], batch=True)
    with app.test_request_context():
        contract = session().scalar(sa.select(Contract))
        assert contract is not None
        html = render_document(contract, DocumentKind.POLICY, current_settings().catalog)
    ours, raw = [], []
    for _ in range(15):
        t0 = time.perf_counter()
        render_pdf(html)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        raw_wkhtmltopdf(html)
        raw.append(time.perf_counter() - t0)
    o, r = statistics.median(ours), statistics.median(raw)
    print(
        f"one Versicherungsschein: core.pdf median {o * 1000:.0f} ms, raw wkhtmltopdf {r * 1000:.0f} ms, "
        f"ratio {o / r:.2f} (goal ≤ 1.15)"
    )

    # 2. policing 100 contracts (300 PDFs: Versicherungsschein, Beitragsrechnung, Antrag; the three
    #    Vertragsinformationen are rendered once per process and stored for each contract)
    batch_s = police(app, ids[1:101], batch=True)
    single_s = police(app, ids[101:151], batch=False) * 2
    app.extensions["contract_settings"] = dataclasses.replace(app.extensions["contract_settings"], pdf_workers=1)
    serial_s = police(app, ids[151:201], batch=False) * 2
    print(
        f"policing 100 contracts: batch {batch_s:.1f} s; one after another {single_s:.1f} s (each contract's "
        f"PDFs in parallel) → batch {single_s / batch_s:.2f}×; one after another on one core {serial_s:.1f} s "
        f"→ batch {serial_s / batch_s:.2f}× (goal ≥ 1.7× on {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
