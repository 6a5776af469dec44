"""Fixtures of the broker API's tests: clients created through the service the manager's page
uses, tokens from the real token endpoint (Authlib)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from api.clients import create_client
from api.models import SCOPES

ALL_SCOPES = list(SCOPES)


def token_for(client: Any, client_id: str, secret: str, scope: str | None = None) -> str:
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post("/api/v1/oauth/token", data=data, headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return str(response.json["access_token"])


class Api:
    """A test client speaking for one API client with one token."""

    def __init__(self, client: Any, token: str) -> None:
        self.client = client
        self.token = token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get("/api/v1" + path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.post(
            "/api/v1" + path, json=json, headers=self._headers(kwargs.pop("headers", None)), **kwargs
        )

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.client.delete("/api/v1" + path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)


@pytest.fixture
def make_api(app, session):
    def make(manager, broker=None, scopes=None, scope: str | None = None) -> Api:
        row, secret = create_client(session, manager, "Vergleichsrechner", scopes or ALL_SCOPES, broker)
        session.commit()
        client = app.test_client()
        return Api(client, token_for(client, row.client_id, secret, scope))

    return make


@pytest.fixture
def agency_api(make_api, manager) -> Api:
    return make_api(manager)


@pytest.fixture
def broker_api(make_api, manager, broker) -> Api:
    return make_api(manager, broker)
