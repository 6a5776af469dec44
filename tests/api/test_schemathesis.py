"""schemathesis against our own OpenAPI document: every operation, data that fits the schema and
data that does not; no 500, every answer (status, content type, body) as the document says."""

from __future__ import annotations

import os
from tempfile import mkdtemp

import pytest
import schemathesis
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
