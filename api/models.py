"""The broker API's own tables: OAuth2 clients and their tokens, idempotency keys, acknowledged
deliveries, webhook endpoints (the webhook messages themselves are outbox rows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from core import clock
from core.db import Base, new_public_id

# what a client may be given (OAuth2 scopes); the page offers them with these German labels
SCOPES: dict[str, str] = {
    "quotes": "Beiträge berechnen, Angebote speichern, Fahrzeuge suchen",
    "applications": "Anträge stellen und ihren Stand lesen",
    "contracts:read": "Verträge und Kunden lesen",
    "documents:read": "Dokumente abholen und quittieren",
    "evb": "eVB-Nummern anfordern",
}

# the events a webhook endpoint may subscribe to
EVENTS: dict[str, str] = {
    "application.decided": "Antrag entschieden (angenommen oder abgelehnt)",
    "contract.policed": "Vertrag policiert",
    "document.added": "Neues Dokument zu einem Vertrag",
    "evb.issued": "eVB-Nummer ausgegeben",
    "evb.revoked": "eVB-Nummer widerrufen",
    "claim.reported": "Schaden gemeldet",
}


class ApiClient(Base):
    """An integrator's access (a comparison platform, a broker management system): for the whole
    agency, or for one broker. It acts as `acting_user` — the agency manager who created it, or the
    broker — so every call is scoped exactly as that user's pages are (core.authz)."""

    __tablename__ = "api_clients"
    __scope_owner__ = "acting_user_id"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    client_id: so.Mapped[str] = so.mapped_column(sa.String(48), unique=True)
    secret_hash: so.Mapped[str] = so.mapped_column(sa.String(64))  # SHA-256 of a 256-bit secret
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    agency_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("agencies.id"), index=True)
    acting_user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"))
    scopes: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    created_by_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"))
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    revoked_at: so.Mapped[datetime | None]


class ApiToken(Base):
    """An access token (client credentials grant): stored as its SHA-256, short-lived."""

    __tablename__ = "api_tokens"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    client_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("api_clients.id"), index=True)
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    scope: so.Mapped[str] = so.mapped_column(sa.String(200))
    issued_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    expires_at: so.Mapped[datetime] = so.mapped_column(index=True)
    revoked_at: so.Mapped[datetime | None]


class IdempotencyKey(Base):
    """An `Idempotency-Key` a client sent with a POST: the request's fingerprint and the answer it
    got, so a retry gets the same answer and the same key with another body a 409."""

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("client_id", "key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    client_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("api_clients.id"))
    key: so.Mapped[str] = so.mapped_column(sa.String(200))
    fingerprint: so.Mapped[str] = so.mapped_column(sa.String(64))
    status: so.Mapped[int]
    body: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now, index=True)


class DeliveryAck(Base):
    """A document the client fetched and acknowledged (BiPRO Transfer's "Quittung"): no longer listed."""

    __tablename__ = "api_delivery_acks"

    client_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("api_clients.id"), primary_key=True)
    document_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("documents.id"), primary_key=True)
    acked_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)


class WebhookEndpoint(Base):
    """Where a client wants events: an HTTPS URL, the events, and the signing secret (Standard
    Webhooks, `whsec_…`, encrypted at rest with core.crypto)."""

    __tablename__ = "api_webhook_endpoints"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    public_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_public_id)
    client_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("api_clients.id"), index=True)
    url: so.Mapped[str] = so.mapped_column(sa.String(254))
    events: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    secret: so.Mapped[str] = so.mapped_column(sa.String(300))
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    disabled_at: so.Mapped[datetime | None]

    client: so.Mapped[ApiClient] = so.relationship()
