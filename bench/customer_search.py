"""The Kunden typeahead on 100,000 customers (issue #16: p95 ≤ 20 ms), against the trivial /healthz
of the same app in the same run.

100,000 customers of the demo broker (so his scope covers all of them) with German names, birth
dates and e-mail addresses, and 20,000 contracts pointing at them, are written with executemany;
then the typeahead's htmx requests go through the Flask test client (no network), 300 of each kind
with queries drawn at random: a name prefix of 2–6 letters, the beginning of any part of the name
(a first name, the second part of a double name; issue #26 item 8), "Nachname Vorname" prefixes, a
birth date, an e-mail prefix and a Vertragsnummer. Median and p95 per kind.
Run: .venv/bin/python -m bench.customer_search [DATABASE_URL]   (default: a new SQLite file)
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from bench.common import csrf_token, demo_user, describe, throwaway_app

TOTAL = 100_000
CONTRACTS = 20_000
RUNS = 300
LAST = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Schmitz",
    "Krause",
    "Meier",
    "Lehmann",
    "Schmid",
    "Schulze",
    "Maier",
    "Köhler",
    "Herrmann",
    "König",
    "Walter",
    "Mayer",
    "Huber",
]
FIRST = [
    "Jürgen",
    "Anna",
    "Lena",
    "Lukas",
    "Marie",
    "Paul",
    "Sophie",
    "Felix",
    "Mia",
    "Jonas",
    "Emma",
    "Leon",
    "Hannah",
    "Finn",
    "Lea",
    "Elias",
    "Laura",
    "Noah",
    "Sarah",
    "Ben",
    "Julia",
    "Tim",
    "Katharina",
    "Özlem",
]


def main() -> None:
    app = throwaway_app(sys.argv[1] if len(sys.argv) > 1 else None)
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    from calculator.customers import key_of
    from calculator.models import CustomerNameWord, CustomerRecord
    from contracts.models import Contract, Delivery
    from core import clock, db

    rng = random.Random(7)
    now = clock.now()
    with app.app_context():
        s = db.session()
        broker = demo_user(s, "vermittler@demo.example")
        people = []
        for n in range(TOTAL):
            last, first = rng.choice(LAST) + ("-" + rng.choice(LAST) if n % 9 == 0 else ""), rng.choice(FIRST)
            people.append(
                {
                    "public_id": f"kunde{n:010d}",
                    "agency_id": broker.agency_id,
                    "owner_id": broker.id,
                    "salutation": "herr",
                    "first_name": first,
                    "last_name": last,
                    "birth_date": date(1940, 1, 1) + timedelta(days=rng.randrange(60 * 365)),
                    "street": f"Hauptstraße {n % 200 + 1}",
                    "plz": "10115",
                    "city": "Berlin",
                    "email": f"{first.lower()}.{n}@example.org",
                    "search_key": key_of(last, first),
                    "created_at": now,
                }
            )
        started = time.perf_counter()
        s.execute(sa.insert(CustomerRecord), people)
        s.commit()
        # the name parts the search finds any part of a name by (calculator.customers.create writes them)
        keys = s.execute(sa.select(CustomerRecord.id, CustomerRecord.search_key).order_by(CustomerRecord.id)).all()
        words = [
            {"client_id": client_id, "agency_id": broker.agency_id, "word": " ".join(key.split()[i:])}
            for client_id, key in keys
            for i in range(len(key.split()))
        ]
        for start in range(0, len(words), 20_000):
            s.execute(sa.insert(CustomerNameWord), words[start : start + 20_000])
        s.commit()
        ids = [client_id for client_id, _key in keys]
        s.execute(
            sa.insert(Contract),
            [
                {
                    "public_id": f"bench{n:010d}",
                    "number": f"BS-{n:07d}",
                    "agency_id": broker.agency_id,
                    "owner_id": broker.id,
                    "client_id": ids[n * (TOTAL // CONTRACTS)],
                    "product": "rs",
                    "tariff_version": "import",
                    "customer_name": "Bench Kunde",
                    "customer": {},
                    "delivery": Delivery.POST,
                    "start_date": date(2020, 1, 1),
                    "frequency": "monatlich",
                    "total": Decimal("9.90"),
                    "annual_total": Decimal("118.80"),
                    "premium": {},
                    "policed_at": now,
                    "onboarding_state": "post",
                }
                for n in range(CONTRACTS)
            ],
        )
        s.commit()
        print(f"{TOTAL:,} customers and {CONTRACTS:,} contracts written in {time.perf_counter() - started:.1f} s")
        if s.get_bind().dialect.name == "postgresql":
            s.execute(sa.text("ANALYZE clients"))
            s.execute(sa.text("ANALYZE client_name_words"))
            s.execute(sa.text("ANALYZE contracts"))
            s.commit()
        dates = [p["birth_date"].strftime("%d.%m.%Y") for p in rng.sample(people, RUNS)]
        emails = [p["email"][: rng.randrange(4, 12)] for p in rng.sample(people, RUNS)]

    client = app.test_client()
    page = client.get("/anmelden").get_data(as_text=True)
    token = csrf_token(page)
    answer = client.post(
        "/anmelden", data={"csrf_token": token, "email": "vermittler@demo.example", "password": "Demo-Passwort-1!"}
    )
    assert answer.status_code == 302
    hx = {"HX-Request": "true"}

    def timed(urls: list[str], headers: dict[str, str] | None = None) -> dict[str, float]:
        times = []
        for url in urls:
            t = time.perf_counter()
            response = client.get(url, headers=headers)
            times.append(time.perf_counter() - t)
            assert response.status_code == 200, (url, response.status_code)
        return describe(times)

    def search(queries: list[str]) -> list[str]:
        return [f"/kunden/?q={q}" for q in queries]

    names = [rng.choice(LAST)[: rng.randrange(2, 7)] for _ in range(RUNS)]
    # any part of a name (issue #26 item 8): the second part of a double name, or the first name
    parts = [rng.choice(LAST + FIRST)[: rng.randrange(3, 7)] for _ in range(RUNS)]
    full = [f"{rng.choice(LAST)} {rng.choice(FIRST)[: rng.randrange(1, 4)]}" for _ in range(RUNS)]
    numbers = [f"BS-{rng.randrange(CONTRACTS):07d}" for _ in range(RUNS)]
    baseline = timed(["/healthz"] * RUNS)
    print(f"{'trivial endpoint /healthz':36s} median {baseline['median_ms']:6.2f} ms  p95 {baseline['p95_ms']:6.2f} ms")
    for label, urls in (
        ("name prefix (2–6 letters)", search(names)),
        ("any part of the name (3–6 letters)", search(parts)),
        ("Nachname + Vorname prefix", search(full)),
        ("birth date", search(dates)),
        ("e-mail prefix", search(emails)),
        ("Vertragsnummer", search(numbers)),
    ):
        figures = timed(urls, hx)
        ok = "✔" if figures["p95_ms"] <= 20 else "✘"
        print(
            f"{label:36s} median {figures['median_ms']:6.2f} ms  p95 {figures['p95_ms']:6.2f} ms  "
            f"({figures['p95_ms'] / baseline['p95_ms']:.1f}× the trivial p95)  goal p95 ≤ 20 ms {ok}"
        )


if __name__ == "__main__":
    main()
