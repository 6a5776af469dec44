"""The broker API's two figures (issue #30), in-process (the WSGI app called with a prepared
request: the app's own time, no network, no client work), ratios against a baseline of the same run:

1. an API quote (POST /api/v1/quotes/kfz, a complete Kfz answer set) ÷ a trivial authenticated
   call (GET /api/v1/ping: token check, rate limit, JSON) — requests/s, goal ≥ 0.8;
2. GET /api/v1/deliveries (100 per page, from random cursors) on 100,000 documents of one agency,
   a tenth acknowledged — p95, goal ≤ 20 ms.

Run: .venv/bin/python -m bench.api [DATABASE_URL]   (default a new SQLite file; production runs
PostgreSQL — pass its URL)
"""

from __future__ import annotations

import io
import random
import statistics
import sys
import time
from typing import Any, cast

DOCUMENTS = 100_000


def _timed(call: Any, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        response = call()
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return samples


def _served(app: Any, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
    """A request's time in the app only: the WSGI environ built once (the test client would build
    and encode it on every call, which is the client's work), each call on a copy."""
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=path, method=method, headers=list(headers.items()), json=body)
    base = builder.get_environ()
    payload = base["wsgi.input"].read()
    status: list[str] = []

    def start_response(code: str, _headers: Any, _exc: Any = None) -> None:
        status.append(code)

    class Answer:
        status_code = 200

        def get_data(self, as_text: bool = False) -> str:
            return status[-1]

    def call() -> Any:
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(payload)
        chunks = app.wsgi_app(environ, start_response)
        for _ in chunks:
            pass
        getattr(chunks, "close", lambda: None)()
        answer = Answer()
        answer.status_code = int(status[-1].split()[0])
        return answer

    return call


def main() -> None:
    import sqlalchemy as sa

    from api.clients import create_client
    from api.models import SCOPES, DeliveryAck
    from bench.common import demo_user, throwaway_app
    from contracts.models import Document
    from core import db
    from demo.seed import seed
    from tests.api.conftest import token_for
    from tests.api.test_api_flows import _antrag
    from tests.api.test_api_quotes import _json_answers
    from tests.helpers import KFZ_ANSWERS

    app = throwaway_app(sys.argv[1] if len(sys.argv) > 1 else None)
    app.config["API_RATE_LIMIT"] = "1000000 per minute"
    client = app.test_client()
    with app.app_context():
        s = db.session()
        seed(s)
        s.commit()
        manager = demo_user(s, "agenturleiter@demo.example")
        row, secret = create_client(s, manager, "Bench", list(SCOPES))
        s.commit()
    token = token_for(client, row.client_id, secret)
    headers = {"Authorization": f"Bearer {token}"}
    answers = {"answers": _json_answers(KFZ_ANSWERS)}
    quote = client.post("/api/v1/quotes/kfz", json=answers, headers=headers)
    assert quote.status_code == 200, quote.get_data(as_text=True)

    # 1. quote ÷ trivial, alternating rounds, medians of the per-round rates
    ratios = []
    ping_call = _served(app, "GET", "/api/v1/ping", headers)
    quote_call = _served(app, "POST", "/api/v1/quotes/kfz", headers, answers)
    for _ in range(5):
        ping = _timed(ping_call, 300)
        priced = _timed(quote_call, 300)
        ratios.append(statistics.median(ping) / statistics.median(priced))
    print(
        f"API quote: median {statistics.median(priced) * 1000:.2f} ms, "
        f"trivial call {statistics.median(ping) * 1000:.2f} ms"
    )
    print(f"API quote ÷ trivial authenticated call (requests/s): {statistics.median(ratios):.2f}  (goal ≥ 0.8)")

    # 2. deliveries on 100,000 documents: a real policed contract's documents, copied
    offer = client.post("/api/v1/offers", json={"product": "kfz", **answers}, headers=headers).json["id"]
    applied = client.post(
        "/api/v1/applications",
        json={"offer_id": offer, "answers": _antrag("kfz")},
        headers={**headers, "Idempotency-Key": "bench"},
    )
    assert applied.status_code == 201, applied.get_data(as_text=True)
    with app.app_context():
        s = db.session()
        model = s.scalars(sa.select(Document).order_by(Document.id)).first()
        assert model is not None
        columns = {
            c.key: getattr(model, c.key) for c in sa.inspect(Document).column_attrs if c.key not in ("id", "public_id")
        }
        from core.db import new_public_id

        table = cast(sa.Table, Document.__table__)
        for _chunk in range(0, DOCUMENTS, 10_000):
            s.execute(sa.insert(table), [{**columns, "public_id": new_public_id()} for _ in range(10_000)])
        ids = list(s.scalars(sa.select(Document.id)))
        acked = random.Random(1).sample(ids, len(ids) // 10)
        s.execute(
            sa.insert(DeliveryAck),
            [{"client_id": row.id, "document_id": i, "acked_at": model.created_at} for i in acked],
        )
        s.commit()
        if s.get_bind().dialect.name == "postgresql":
            s.execute(sa.text("ANALYZE"))
            s.commit()
    cursors = [None]
    page = client.get("/api/v1/deliveries?limit=100", headers=headers).json
    while page["cursor"] and len(cursors) < 300:
        cursors.append(page["cursor"])
        page = client.get(f"/api/v1/deliveries?limit=100&since={page['cursor']}", headers=headers).json
    rng = random.Random(2)
    samples = _timed(
        lambda: client.get(
            "/api/v1/deliveries?limit=100" + (f"&since={c}" if (c := rng.choice(cursors)) else ""), headers=headers
        ),
        400,
    )
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1] * 1000
    print(
        f"GET /deliveries on {len(ids):,} documents: median {statistics.median(samples) * 1000:.2f} ms, "
        f"p95 {p95:.2f} ms  (goal ≤ 20 ms)"
    )


if __name__ == "__main__":
    main()
