""" "Passwort vergessen" must not tell by its timing whether an account exists (issue #12, item 4).

Times the POST for an activated customer's e-mail and Vertragsnummer and for unknown ones,
interleaved in one run (the Flask test client, no network), and prints the medians and the ratio
known/unknown (goal: 1.00 within noise; before the fix the known address took ≈ 1.4× as long
because the reset link and its e-mail were made in the request).
Run: .venv/bin/python -m bench.forgot_timing [DATABASE_URL]
"""

from __future__ import annotations

import random
import statistics
import sys
import time

from bench.common import csrf_token, throwaway_app

ROUNDS = 300


def main() -> None:
    from core import clock, db
    from core.passwords import hash_password
    from demo.seed import seed
    from onboarding.models import PortalAccount

    app = throwaway_app(sys.argv[1] if len(sys.argv) > 1 else None)
    app.config["PASSWORD_FORGOT_LIMIT_PER_ADDRESS"] = "1000000 per minute"  # noqa: S105 - a rate limit
    with app.app_context():
        s = db.session()
        seed(s)
        from contracts.models import Contract

        contract = s.query(Contract).filter(Contract.number == "BV-4711001").one()
        customer = PortalAccount(
            email="helga@example.org",
            full_name="Helga Brandt",
            password_hash=hash_password("X-y-1234!"),
            activated_at=clock.now(),
        )
        s.add(customer)
        s.flush()
        contract.customer_account_id = customer.id
        s.commit()
    client = app.test_client()
    page = client.get("/portal/passwort-vergessen").get_data(as_text=True)
    token = csrf_token(page)
    inputs = {
        "known e-mail": "helga@example.org",
        "unknown e-mail": "niemand@example.org",
        "known Vertragsnummer": "BV-4711001",
        "unknown Vertragsnummer": "BV-0000000",
    }
    times: dict[str, list[float]] = {name: [] for name in inputs}
    order = list(inputs.items())
    rng = random.Random(12)
    for _ in range(ROUNDS):
        rng.shuffle(order)  # no input always first (warm caches would favour it)
        for name, typed in order:
            started = time.perf_counter()
            response = client.post("/portal/passwort-vergessen", data={"csrf_token": token, "kennung": typed})
            times[name].append(time.perf_counter() - started)
            assert response.status_code == 302, response.status_code
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:24s} median {value:6.3f} ms")
    print(f"ratio known/unknown e-mail:         {medians['known e-mail'] / medians['unknown e-mail']:.3f}")
    print(
        f"ratio known/unknown Vertragsnummer: {medians['known Vertragsnummer'] / medians['unknown Vertragsnummer']:.3f}"
    )


if __name__ == "__main__":
    main()
