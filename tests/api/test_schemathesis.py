"""schemathesis against our own OpenAPI document: every operation, data that fits the schema and
data that does not; no 500, every answer (status, content type, body) as the document says."""

from __future__ import annotations

import os
from tempfile import mkdtemp

import pytest
import schemathesis
from flask import request, request_finished
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from api.clients import create_client
from core.app import create_app
from tests.api.conftest import ALL_SCOPES, token_for

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))


@pytest.fixture
def api_token(app, session, manager, demo_reference) -> str:
    row, secret = create_client(session, manager, "Schemathesis", ALL_SCOPES)
    session.commit()
    return token_for(app.test_client(), row.client_id, secret)


def _schema() -> schemathesis.BaseSchema:
    """The document as the app serves it (an app of its own: the document does not depend on the
    database); each test case is then sent to the test's app, on the test's database."""
    spec_app = create_app(
        environ={"APP_ENV": "testing", "SECRET_KEY": "s" * 40, "DATABASE_URL": f"sqlite:///{mkdtemp()}/spec.db"}
    )
    found = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", spec_app)
    found.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES, deterministic=True
    )
    # schema-valid answers may still be refused by the business rules (a quote without a PLZ, a
    # cursor we did not sign): 400/422 with a problem document is an expected answer to them
    found.config.checks.positive_data_acceptance.expected_statuses = [
        *found.config.checks.positive_data_acceptance.expected_statuses,
        "400",
        "422",
    ]
    return found


schema = _schema()


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_every_operation_keeps_its_document(case, app, api_token):
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {api_token}"})


@pytest.fixture
def api_with_a_contract(app, api_token) -> str:
    """The token's agency has a policed contract (documents, a customer) for the links to follow."""
    from tests.api.test_api_flows import _antrag
    from tests.api.test_api_quotes import _json_answers
    from tests.helpers import RS_ANSWERS

    client = app.test_client()
    headers = {"Authorization": f"Bearer {api_token}"}
    offer = client.post("/api/v1/offers", json={"product": "rs", "answers": _json_answers(RS_ANSWERS)}, headers=headers)
    applied = client.post(
        "/api/v1/applications",
        json={"offer_id": offer.json["id"], "answers": _antrag("rs")},
        headers={**headers, "Idempotency-Key": "stateful"},
    )
    assert applied.status_code == 201, applied.get_data(as_text=True)
    return api_token


def test_workflows_along_the_documents_links(app, api_with_a_contract):
    """Stateful: sequences of calls that follow the document's links (an offer to its PDF, an
    application to its contract, a contract to its customer and eVB, a delivery to its document and
    acknowledgement, a webhook to its removal), each answer checked as above."""
    headers = {"Authorization": f"Bearer {api_with_a_contract}"}

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case):
            return {"app": app, "headers": headers}

    seen: dict[str, int] = {}

    def count(sender, response, **extra):  # which operations the run reached, with which answers
        key = f"{request.endpoint} {response.status_code}"
        seen[key] = seen.get(key, 0) + 1

    request_finished.connect(count, app)

    Workflow.run(
        settings=settings(
            max_examples=int(os.environ.get("API_STATEFUL_EXAMPLES", "20")),
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )
    # the links were followed: a call that only a link leads to (its path parameter is an id from an
    # earlier answer) answered 2xx — which ones depends on the generated sequences
    linked = ("get_contract", "get_customer", "get_document", "ack_delivery", "get_offer", "get_application")
    reached = sum(n for key, n in seen.items() if key.split()[0].removeprefix("api.") in linked and key[-3] == "2")
    assert reached >= 1, sorted(seen.items())
