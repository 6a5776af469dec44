"""API clients: created by an agency manager for his agency or for one of its brokers, the secret
shown once, revoked with every token it holds."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa
import sqlalchemy.orm as so
from authlib.oauth2.rfc6749 import ClientMixin

from api.models import SCOPES, ApiClient, ApiToken, WebhookEndpoint
from core import audit, clock, tokens
from core.db import rowcount
from core.users import Role, User

CLIENT_ID_PREFIX = "vr_"
SECRET_PREFIX = "vrs_"  # noqa: S105 — a prefix, not a secret: lets secret scanners recognise ours


class ClientError(ValueError):
    """German message for the agency manager, naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def secret_hash(secret: str) -> str:
    """The secret is 256 random bits: SHA-256 is enough (as for our link tokens), no slow hash."""
    return tokens.token_hash(secret)


@dataclass(frozen=True)
class OAuthClient(ClientMixin):
    """What Authlib's authorization server asks of a client (client credentials only)."""

    row: ApiClient

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.row.scopes
        if not scope:
            return " ".join(allowed)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return tokens.same(secret_hash(client_secret), self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


def create_client(
    session: so.Session, manager: User, name: str, scopes: list[str], broker: User | None = None
) -> tuple[ApiClient, str]:
    """A new client of the manager's agency (or of one of its brokers); returns it with its secret,
    which is never shown again (only its hash is kept)."""
    name = " ".join(name.split())
    if not name:
        raise ClientError("name", "Bitte geben Sie einen Namen für den Zugang ein (z. B. den Vergleichsrechner).")
    if len(name) > 120:
        raise ClientError("name", "Der Name darf höchstens 120 Zeichen lang sein.")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ClientError("scopes", "Bitte wählen Sie mindestens eine Berechtigung aus.")
    assert manager.role is Role.MANAGER
    assert manager.agency_id is not None
    if broker is not None and (broker.agency_id != manager.agency_id or broker.role is not Role.BROKER):
        raise ClientError("vermittler", "Bitte wählen Sie einen Vermittler Ihrer Agentur.")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(
        client_id=CLIENT_ID_PREFIX + secrets.token_hex(12),
        secret_hash=secret_hash(secret),
        name=name,
        agency_id=manager.agency_id,
        acting_user_id=broker.id if broker is not None else manager.id,
        scopes=[s for s in SCOPES if s in scopes],
        created_by_id=manager.id,
    )
    session.add(client)
    session.flush()
    audit.record(
        session,
        "api_client_created",
        actor=manager,
        object_type="api_client",
        object_id=client.public_id,
        details={"name": name, "scopes": client.scopes, "broker": broker.email if broker else None},
    )
    return client, secret


def revoke_client(session: so.Session, manager: User, client: ApiClient) -> bool:
    """Revoke the client, its tokens and its webhook endpoints at once (guarded: once)."""
    now = clock.now()
    done = rowcount(
        session.execute(
            sa.update(ApiClient)
            .where(ApiClient.id == client.id, ApiClient.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    if not done:
        return False
    session.execute(
        sa.update(ApiToken).where(ApiToken.client_id == client.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )
    session.execute(
        sa.update(WebhookEndpoint)
        .where(WebhookEndpoint.client_id == client.id, WebhookEndpoint.disabled_at.is_(None))
        .values(disabled_at=now)
    )
    session.info.pop("webhook_endpoints", None)  # api.webhooks' endpoints read in this transaction
    audit.record(session, "api_client_revoked", actor=manager, object_type="api_client", object_id=client.public_id)
    return True


def clients_of(session: so.Session, manager: User) -> list[ApiClient]:
    return list(
        session.scalars(
            sa.select(ApiClient).where(ApiClient.agency_id == manager.agency_id).order_by(ApiClient.created_at.desc())
        )
    )


def acting_users(session: so.Session, clients: list[ApiClient]) -> dict[int, User]:
    ids = {c.acting_user_id for c in clients}
    return {u.id: u for u in session.scalars(sa.select(User).where(User.id.in_(ids)))} if ids else {}
