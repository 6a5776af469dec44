"""The Bestand with a status filter on 100,000 contracts (goal ≤ 100 ms), against a trivial
logged-in page of the same app in the same run.

100,000 contracts of the demo agency are written with one executemany, spread over the onboarding
states (post, link sent, code sent, expired, active); then an agency manager's requests go through
the Flask test client (no network): the filtered first page, a deep page, and a trivial logged-in page
(Passwort ändern) as the baseline. Medians of 30 requests each.
Run: .venv/bin/python -m bench.bestand [DATABASE_URL]   (default: a new SQLite file)
"""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from bench.common import demo_user, logged_in_client, median_ms, throwaway_app

TOTAL = 100_000
STATES = ("post", "link_sent", "code_sent", "active")


def main() -> None:
    app = throwaway_app(sys.argv[1] if len(sys.argv) > 1 else None)
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    from contracts.models import Contract, Delivery
    from core import clock, db

    now = clock.now()
    with app.app_context():
        s = db.session()
        broker = demo_user(s, "vermittler@demo.example")
        rows = []
        for n in range(TOTAL):
            state = STATES[n % 4]
            expired = state in ("link_sent", "code_sent") and n % 3 == 0
            rows.append(
                {
                    "public_id": f"bench{n:010d}",
                    "number": f"BS-{n:07d}",
                    "agency_id": broker.agency_id,
                    "owner_id": broker.id,
                    "product": "rs",
                    "tariff_version": "import",
                    "customer_name": f"Kundin {n} Muster",
                    "customer": {"first_name": f"Kundin {n}", "last_name": "Muster"},
                    "customer_email": f"k{n}@example.org",
                    "delivery": Delivery.POST if state == "post" else Delivery.PORTAL,
                    "start_date": date(2020, 1, 1),
                    "frequency": "monatlich",
                    "total": Decimal("9.90"),
                    "annual_total": Decimal("118.80"),
                    "premium": {},
                    "policed_at": now,
                    "onboarding_state": state,
                    "onboarding_expires_at": (now + timedelta(days=-1 if expired else 20))
                    if state in ("link_sent", "code_sent")
                    else None,
                }
            )
        started = time.perf_counter()
        s.execute(sa.insert(Contract), rows)
        s.commit()
        print(f"{TOTAL:,} contracts written in {time.perf_counter() - started:.1f} s".replace(",", "."))
        if s.get_bind().dialect.name == "postgresql":
            s.execute(sa.text("ANALYZE contracts"))
            s.commit()

    client = logged_in_client(app, "agenturleiter@demo.example")

    baseline = median_ms(client, "/passwort-aendern", 30)  # the agency start page now carries the dashboard
    print(f"{'trivial logged-in page /passwort-aendern':48s} {baseline:7.1f} ms")
    for label, url in (
        ("Bestand, status aktiviert, page 1", "/bestand/?status=aktiviert"),
        ("Bestand, status abgelaufen, page 1", "/bestand/?status=abgelaufen"),
        ("Bestand, status Link versendet, page 300", "/bestand/?status=Link+versendet&seite=300"),
        ("Bestand, search + status Post", "/bestand/?q=kundin+99&status=Post"),
        ("Bestand, no filter, page 1", "/bestand/"),
    ):
        ms = median_ms(client, url, 30)
        print(f"{label:48s} {ms:7.1f} ms  ({ms / baseline:.2f}× the trivial page)  goal ≤ 100 ms")


if __name__ == "__main__":
    main()
