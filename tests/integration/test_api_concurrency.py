"""The broker API's "only once" rules under real parallel requests (threads with their own
connections; PostgreSQL in CI's second pass)."""

from __future__ import annotations

import sqlalchemy as sa

from api.clients import create_client
from api.models import SCOPES, IdempotencyKey
from bench.common import demo_user
from contracts.models import Application
from core import db
from tests.api.conftest import token_for
from tests.api.test_api_flows import _antrag
from tests.api.test_api_quotes import _json_answers
from tests.helpers import RS_ANSWERS
from tests.integration.test_concurrency import in_parallel, parallel_app  # noqa: F401 (fixture)


def test_parallel_retries_with_one_idempotency_key_make_one_application_and_one_answer(parallel_app):  # noqa: F811
    app = parallel_app
    with app.app_context():
        s = db.session()
        row, secret = create_client(s, demo_user(s, "agenturleiter@demo.example"), "MVP", list(SCOPES))
        s.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token_for(client, row.client_id, secret)}"}
    offer = client.post("/api/v1/offers", json={"product": "rs", "answers": _json_answers(RS_ANSWERS)}, headers=headers)
    assert offer.status_code == 201, offer.get_data(as_text=True)
    body = {"offer_id": offer.json["id"], "answers": _antrag("rs")}

    def apply(_i: int):
        response = app.test_client().post(
            "/api/v1/applications", json=body, headers={**headers, "Idempotency-Key": "same-key"}
        )
        return response.status_code, response.json

    answers = in_parallel(8, apply)
    assert {status for status, _ in answers} == {201}
    assert len({json["id"] for _, json in answers}) == 1
    with app.app_context():
        s = db.session()
        assert s.scalar(sa.select(sa.func.count()).select_from(Application)) == 1
        assert s.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 1


def test_parallel_webhook_registrations_stop_at_the_clients_limit(parallel_app):  # noqa: F811
    """MAX_ENDPOINTS per client is counted under the client's row lock: eight registrations at once
    leave exactly five endpoints (without the lock several saw four and all added one)."""
    from api.models import WebhookEndpoint
    from api.webhooks import MAX_ENDPOINTS

    app = parallel_app
    with app.app_context():
        s = db.session()
        row, secret = create_client(s, demo_user(s, "agenturleiter@demo.example"), "MVP", ["quotes"])
        s.commit()
    headers = {"Authorization": f"Bearer {token_for(app.test_client(), row.client_id, secret)}"}

    def register(i: int) -> int:
        body = {"url": f"http://127.0.0.1:9/hook{i}", "events": ["document.added"]}
        return app.test_client().post("/api/v1/webhooks", json=body, headers=headers).status_code

    statuses = in_parallel(8, register)
    assert sorted(statuses) == [201] * MAX_ENDPOINTS + [422] * (8 - MAX_ENDPOINTS)
    with app.app_context():
        assert db.session().scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == MAX_ENDPOINTS
