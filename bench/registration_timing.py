""" "Jetzt registrieren" must not tell by its timing whether the data match a contract (issue #29 item 2).

Times the POST for a matching registration (demo contract BV-4711001 with the policyholder's birth
date), a wrong birth date on an existing contract and an unknown contract number, interleaved in one
run (the Flask test client, no network), and prints the medians and the ratios to the unknown
contract (goal: 1.00 within noise: the request counts the attempt and records it, nothing else — the
worker matches). Every request uses a new e-mail address and contract keys the limits do not hold
back (the limits' counts are per typed value, matched or not).
Run: .venv/bin/python -m bench.registration_timing [DATABASE_URL]
"""

from __future__ import annotations

import random
import statistics
import sys
import time

from bench.common import csrf_token, throwaway_app

ROUNDS = 300


def main() -> None:
    from core import db
    from demo.seed import seed

    app = throwaway_app(sys.argv[1] if len(sys.argv) > 1 else None)
    app.config["REGISTRATION_LIMIT_PER_ADDRESS"] = "1000000 per minute"
    with app.app_context():
        s = db.session()
        seed(s)
        s.commit()
    settings = app.extensions["onboarding_settings"]
    import dataclasses

    app.extensions["onboarding_settings"] = dataclasses.replace(
        settings, registration_free_per_contract=10**6, registration_free_per_email=10**6
    )
    client = app.test_client()
    token = csrf_token(client.get("/portal/registrieren").get_data(as_text=True))
    inputs = {
        "matching contract": {"vertragsnummer": "BV-4711001", "geburtsdatum": "12.03.1961"},
        "wrong birth date": {"vertragsnummer": "BV-4711002", "geburtsdatum": "12.03.1961"},
        "unknown contract": {"vertragsnummer": "BV-0000000", "geburtsdatum": "12.03.1961"},
    }
    times: dict[str, list[float]] = {name: [] for name in inputs}
    order = list(inputs.items())
    rng = random.Random(29)
    for n in range(ROUNDS):
        rng.shuffle(order)  # no input always first (warm caches would favour it)
        for name, typed in order:
            email = f"r{n}-{len(name)}@example.org"
            data = {"csrf_token": token, **typed, "email": email, "email2": email}
            data.update(nutzungsbedingungen="y", datenschutz="y")
            started = time.perf_counter()
            response = client.post("/portal/registrieren", data=data)
            times[name].append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:20s} median {value:6.3f} ms")
    base = medians["unknown contract"]
    print(f"ratio matching/unknown:         {medians['matching contract'] / base:.3f}")
    print(f"ratio wrong birth date/unknown: {medians['wrong birth date'] / base:.3f}")


if __name__ == "__main__":
    main()
