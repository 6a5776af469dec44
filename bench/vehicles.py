"""The full KBA list (62,392 rows): import time (goal ≤ 10 s), exact HSN/TSN lookup (goal ≤ 1 ms)
and typeahead (goal ≤ 20 ms p95).

Baselines in the same process: parsing the CSV alone (for the import) and a `SELECT 1` round trip
on the same session (for the lookups).
Run: .venv/bin/python -m bench.vehicles [DATABASE_URL]   (default: a new SQLite file)
"""

from __future__ import annotations

import csv
import random
import sys
import time

import sqlalchemy as sa

from bench.common import describe, shared, throwaway_app
from calculator import reference

QUERIES = [
    "golf",
    "vw golf",
    "audi q7",
    "opel corsa",
    "bmw 430",
    "ford focus",
    "mercedes",
    "passat variant",
    "tesla",
    "fiat 500",
    "porsche 911",
    "transporter",
    "yamaha",
    "zz nichts",
]


def main() -> None:
    path = shared("kba_fz6_hsn_tsn_2025.csv")
    app = throwaway_app(sys.argv[1] if len(sys.argv) > 1 else None)
    backend = app.extensions["database"].engine.dialect.name
    with app.app_context():
        from core.db import session

        s = session()
        started = time.perf_counter()
        with path.open(encoding="utf-8") as fh:
            rows = sum(1 for line in csv.reader(line for line in fh if not line.startswith("#"))) - 1
        parse_s = time.perf_counter() - started
        started = time.perf_counter()
        result = reference.import_vehicles(s, path)
        s.commit()
        import_s = time.perf_counter() - started
        print(
            f"[{backend}] import of {result.rows} rows ({rows} in the file): {import_s:.2f} s (goal ≤ 10 s); "
            f"parsing the CSV alone {parse_s:.2f} s; ratio {import_s / parse_s:.1f}"
        )
        started = time.perf_counter()
        again = reference.import_vehicles(s, path)
        s.commit()
        print(f"[{backend}] re-import (idempotent, {again.inserted} new): {time.perf_counter() - started:.2f} s")

        keys = s.execute(sa.select(reference.Vehicle.hsn, reference.Vehicle.tsn)).all()
        sample = random.Random(7).sample(keys, 2000)
        s.expunge_all()
        lookups, pings = [], []
        for hsn, tsn in sample:
            t0 = time.perf_counter()
            assert reference.find_vehicle(s, hsn, tsn.lower()) is not None
            lookups.append(time.perf_counter() - t0)
            s.expunge_all()  # no identity-map hits: every lookup goes to the database
            t0 = time.perf_counter()
            s.execute(sa.text("SELECT 1"))
            pings.append(time.perf_counter() - t0)
        lk, pg = describe(lookups), describe(pings)
        print(
            f"[{backend}] exact lookup: median {lk['median_ms']:.3f} ms, p95 {lk['p95_ms']:.3f} ms (goal ≤ 1 ms); "
            f"SELECT 1 median {pg['median_ms']:.3f} ms; ratio {lk['median_ms'] / pg['median_ms']:.1f}"
        )

        searches = []
        for _ in range(10):
            for query in QUERIES:
                t0 = time.perf_counter()
                reference.search_vehicles(s, query)
                searches.append(time.perf_counter() - t0)
        sr = describe(searches)
        print(
            f"[{backend}] typeahead ({len(QUERIES)} queries × 10): median {sr['median_ms']:.2f} ms, "
            f"p95 {sr['p95_ms']:.2f} ms (goal ≤ 20 ms p95); ratio p95/SELECT 1 {sr['p95_ms'] / pg['median_ms']:.0f}"
        )
    app.extensions["database"].engine.dispose()


if __name__ == "__main__":
    main()
