"""OAuth2 client credentials (RFC 6749 § 4.4) with Authlib's authorization server, and the bearer
token check of every API call (RFC 6750).

A token is 256 random bits, stored as its SHA-256, valid for `API_TOKEN_SECONDS`; it carries the
scopes asked for within the client's. One statement per call finds token, client and the user the
client acts as; a revoked client, a deactivated user or an expired token answers 401."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from flask import Flask, g, request

from api.clients import OAuthClient
from api.models import SCOPES, ApiClient, ApiToken
from api.problems import ApiProblem
from core import clock, db
from core.tokens import token_hash
from core.users import User

TOKEN_PREFIX = "vrt_"  # noqa: S105 — a prefix, not a token


class ClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012


def _query_client(client_id: str) -> OAuthClient | None:
    found = (
        db.session()
        .execute(
            sa.select(ApiClient)
            .join(User, User.id == ApiClient.acting_user_id)
            .where(ApiClient.client_id == client_id, ApiClient.revoked_at.is_(None), User.is_active.is_(True))
        )
        .scalar_one_or_none()
    )
    return OAuthClient(found) if found is not None else None


def _save_token(token: dict[str, Any], oauth_request: Any) -> None:
    client: OAuthClient = oauth_request.client
    now = clock.now()
    db.session().add(
        ApiToken(
            client_id=client.row.id,
            token_hash=token_hash(token["access_token"]),
            scope=token.get("scope", ""),
            issued_at=now,
            expires_at=now + timedelta(seconds=int(token["expires_in"])),
        )
    )


def init_server(app: Flask) -> AuthorizationServer:
    server = AuthorizationServer()
    server.init_app(app, query_client=_query_client, save_token=_save_token)
    seconds = int(app.config["API_TOKEN_SECONDS"])
    server.register_token_generator(
        "default",
        BearerTokenGenerator(
            access_token_generator=lambda *args, **kwargs: TOKEN_PREFIX + secrets.token_urlsafe(32),
            expires_generator=lambda client, grant_type: seconds,
        ),
    )
    server.scopes_supported = list(SCOPES)
    server.register_grant(ClientCredentials)
    return server


@dataclass(frozen=True)
class Caller:
    """Who calls: the client and the user it acts as (whose scope applies), with the token's scopes."""

    client: ApiClient
    user: User
    scopes: frozenset[str]


def _unauthorized(detail: str, error: str = "invalid_token") -> ApiProblem:
    return ApiProblem(
        401,
        "nicht-angemeldet",
        "Nicht angemeldet",
        detail,
        headers={"WWW-Authenticate": f'Bearer realm="api", error="{error}"'},
    )


def authenticate(required: str | None) -> Caller:
    """The call's token (Authorization: Bearer …), checked; the scope `required` must be in it."""
    header = request.headers.get("Authorization", "")
    kind, _, value = header.partition(" ")
    if kind.lower() != "bearer" or not value.strip():
        raise ApiProblem(
            401,
            "nicht-angemeldet",
            "Nicht angemeldet",
            "Bitte senden Sie ein Zugriffstoken (Authorization: Bearer …) – es kommt vom Token-Endpunkt.",
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    now = clock.now()
    row = (
        db.session()
        .execute(
            sa.select(ApiToken, ApiClient, User)
            .join(ApiClient, ApiClient.id == ApiToken.client_id)
            .join(User, User.id == ApiClient.acting_user_id)
            .where(ApiToken.token_hash == token_hash(value.strip()))
        )
        .one_or_none()
    )
    if row is None:
        raise _unauthorized("Das Zugriffstoken ist unbekannt.")
    token, client, user = row
    if token.revoked_at is not None or client.revoked_at is not None:
        raise _unauthorized("Der Zugang wurde widerrufen.")
    if token.expires_at <= now:
        raise _unauthorized("Das Zugriffstoken ist abgelaufen – bitte holen Sie ein neues.")
    if not user.is_active:
        raise _unauthorized("Der Benutzer, für den dieser Zugang handelt, ist deaktiviert.")
    scopes = frozenset(token.scope.split())
    if required is not None and required not in scopes:
        raise ApiProblem(
            403,
            "fehlende-berechtigung",
            "Fehlende Berechtigung",
            f"Dieses Token hat die Berechtigung „{required}“ nicht.",
            headers={"WWW-Authenticate": f'Bearer realm="api", error="insufficient_scope", scope="{required}"'},
        )
    caller = Caller(client, user, scopes)
    g.api_caller = caller
    return caller
