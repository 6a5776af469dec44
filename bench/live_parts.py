"""Where a live premium's time goes, part by part, against the full path in the same run: the full
check of the page (`quotes.evaluate` over the whole form, as "Berechnen" runs it) vs the live update
(`calculator.live.update`, issue #28 item 4), the form construction of each, and the rendering of the
premium box and the message slots.

Run: .venv/bin/python -m bench.live_parts [DATABASE_URL]   (default a new SQLite file; demo data)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from werkzeug.datastructures import MultiDict

from bench.common import throwaway_app
from tests.helpers import KFZ_ANSWERS

ROUNDS = 2000


def per_call_ms(fn: Callable[[], object]) -> float:
    for _ in range(100):
        fn()
    started = time.perf_counter()
    for _ in range(ROUNDS):
        fn()
    return (time.perf_counter() - started) / ROUNDS * 1000


def main() -> None:
    from jinja2_fragments.flask import render_blocks

    from calculator import live, quotes
    from calculator.tariffs import Product
    from calculator.views import _context
    from core import clock, db
    from demo.seed import seed

    app = throwaway_app(sys.argv[1] if len(sys.argv) > 1 else None)
    with app.app_context():
        session = db.session()
        seed(session)
        session.commit()
    catalog, answers = app.extensions["tariffs"], MultiDict(KFZ_ANSWERS)
    with app.test_request_context("/rechner/kfz/live", method="POST"):
        s, today = db.session(), clock.today()
        only = live.needed(Product.KFZ, "sf_kh")
        update = live.update(s, catalog, Product.KFZ, answers, "sf_kh", today=today)
        context = _context(update.quote)
        parts = {
            "full check (Berechnen)": lambda: quotes.evaluate(s, catalog, Product.KFZ, answers, today=today),
            "live update (sf_kh changed)": lambda: live.update(s, catalog, Product.KFZ, answers, "sf_kh", today=today),
            "  form, whole page": lambda: quotes.new_form(Product.KFZ, answers, today=today),
            "  form, live answers only": lambda: quotes.new_form(Product.KFZ, answers, today=today, only=only),
            "render premium box": lambda: render_blocks("calculator/quote.html", ["premium"], oob=True, **context),
            f"render {len(update.error_fields)} message slots": lambda: render_blocks(
                "calculator/quote.html", ["oob_error_slots"], oob=True, error_fields=update.error_fields, **context
            ),
        }
        timings = {name: per_call_ms(fn) for name, fn in parts.items()}
    full = timings["full check (Berechnen)"]
    for name, ms in timings.items():
        print(f"{name:34s} {ms:7.3f} ms   {ms / full:5.2f} × the full check")


if __name__ == "__main__":
    main()
