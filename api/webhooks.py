"""Webhooks: a client registers an endpoint for events; every event of an object in the client's
scope becomes one outbox message per endpoint, in the transaction of the change that caused it — so
none is lost, and none is sent for a change that rolled back. The worker signs and POSTs it
(messaging.transports.WebhookTransport), tries again with backoff, and keeps it in the client's
delivery log ("erneut senden"). At least once: every attempt carries the same event id."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app

from api.models import EVENTS, ApiClient, WebhookEndpoint
from core import audit, clock, crypto
from core.db import rowcount
from core.users import Role, User
from messaging import outbox
from messaging.models import Kind, OutboxMessage
from messaging.transports import unsafe_address

# which scope a client needs to be told of an event (the same it needs to read the object)
EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "application.decided": ("applications",),
    "contract.policed": ("contracts:read", "applications"),
    "document.added": ("documents:read",),
    "evb.issued": ("evb", "contracts:read"),
    "evb.revoked": ("evb", "contracts:read"),
    "claim.reported": ("contracts:read",),
}
MAX_ENDPOINTS = 5
KEY_RING = "api_key_ring"  # app.extensions: the key ring of the endpoints' secrets


class WebhookError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _box() -> crypto.SecretBox:
    """The app's key ring for the endpoints' secrets (built once, in api.init_app)."""
    box: crypto.SecretBox = current_app.extensions[KEY_RING]
    return box


def check_url(url: str, *, insecure_allowed: bool) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookError(
            "url", "Bitte geben Sie eine vollständige HTTPS-Adresse an, z. B. https://mvp.example/hooks."
        )
    if len(url) > 254:
        raise WebhookError("url", "Die Adresse darf höchstens 254 Zeichen lang sein.")
    if parts.username or parts.password:
        raise WebhookError("url", "Die Adresse darf keine Zugangsdaten enthalten.")
    if not insecure_allowed:
        if parts.scheme != "https":
            raise WebhookError("url", "Webhooks gehen nur an HTTPS-Adressen.")
        if unsafe_address(parts.hostname):
            raise WebhookError("url", "Die Adresse muss öffentlich erreichbar sein (keine interne Adresse).")
    return url


def register(
    session: so.Session, client: ApiClient, user: User, url: str, events: list[str], *, insecure_allowed: bool
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint; returns it with its signing secret (shown once; kept encrypted)."""
    url = check_url(url, insecure_allowed=insecure_allowed)
    unknown = sorted(set(events) - set(EVENTS))
    if unknown or not events:
        raise WebhookError("events", "Bitte wählen Sie Ereignisse aus: " + ", ".join(EVENTS) + ".")
    # the client's row locked: two registrations at once cannot both see four endpoints
    session.execute(sa.select(ApiClient.id).where(ApiClient.id == client.id).with_for_update())
    active = session.scalar(
        sa.select(sa.func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.client_id == client.id, WebhookEndpoint.disabled_at.is_(None))
    )
    if (active or 0) >= MAX_ENDPOINTS:
        raise WebhookError("url", f"Ein Zugang kann höchstens {MAX_ENDPOINTS} Webhook-Endpunkte haben.")
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    endpoint = WebhookEndpoint(
        client_id=client.id, url=url, events=[e for e in EVENTS if e in events], secret=_box().encrypt(secret)
    )
    session.add(endpoint)
    session.flush()
    forget_endpoints(session)
    audit.record(
        session,
        "api_webhook_registered",
        actor=user,
        agency_id=client.agency_id,
        object_type="api_client",
        object_id=client.public_id,
        details={"url": url, "events": endpoint.events},
    )
    return endpoint, secret


def disable(session: so.Session, client: ApiClient, user: User, public_id: str) -> bool:
    done = rowcount(
        session.execute(
            sa.update(WebhookEndpoint)
            .where(
                WebhookEndpoint.public_id == public_id,
                WebhookEndpoint.client_id == client.id,
                WebhookEndpoint.disabled_at.is_(None),
            )
            .values(disabled_at=clock.now())
        )
    )
    if done:
        forget_endpoints(session)
        audit.record(
            session,
            "api_webhook_disabled",
            actor=user,
            agency_id=client.agency_id,
            object_type="api_client",
            object_id=client.public_id,
            details={"endpoint": public_id},
        )
    return bool(done)


def endpoints_of(session: so.Session, client: ApiClient) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            sa.select(WebhookEndpoint)
            .where(WebhookEndpoint.client_id == client.id, WebhookEndpoint.disabled_at.is_(None))
            .order_by(WebhookEndpoint.id)
        )
    )


def secret_of(session_factory: Any, endpoint_public_id: str) -> str | None:
    """The worker's look-up (messaging.transports.WEBHOOK_SECRETS): the active endpoint's secret."""
    session = session_factory()
    found = session.scalar(
        sa.select(WebhookEndpoint.secret)
        .join(ApiClient, ApiClient.id == WebhookEndpoint.client_id)
        .where(
            WebhookEndpoint.public_id == endpoint_public_id,
            WebhookEndpoint.disabled_at.is_(None),
            ApiClient.revoked_at.is_(None),
        )
    )
    session.commit()
    return _box().decrypt(found) if found is not None else None


def _endpoints(session: so.Session, agency_id: int) -> list[tuple[WebhookEndpoint, ApiClient, bool]]:
    """The agency's active endpoints with their clients (and whether a client has the agency's scope),
    read once per transaction: a renewal or a bulk job emits an event per contract or document."""
    transaction = session.get_transaction()
    cache = session.info.get("webhook_endpoints")
    if cache is None or cache[0] is not transaction:
        cache = session.info["webhook_endpoints"] = (transaction, {})
    by_agency: dict[int, list[tuple[WebhookEndpoint, ApiClient, bool]]] = cache[1]
    found = by_agency.get(agency_id)
    if found is None:
        found = by_agency[agency_id] = [
            (endpoint, client, role is Role.MANAGER)
            for endpoint, client, role in session.execute(
                sa.select(WebhookEndpoint, ApiClient, User.role)
                .join(ApiClient, ApiClient.id == WebhookEndpoint.client_id)
                .join(User, User.id == ApiClient.acting_user_id)
                .where(
                    WebhookEndpoint.disabled_at.is_(None),
                    ApiClient.revoked_at.is_(None),
                    ApiClient.agency_id == agency_id,
                    User.is_active.is_(True),
                )
            )
        ]
    return found


def forget_endpoints(session: so.Session) -> None:
    """After an endpoint changed in this transaction (registered, removed, its client revoked)."""
    session.info.pop("webhook_endpoints", None)


def event_id(event_type: str, key: str) -> str:
    """The same event always has the same id (a retry, a repeated signal): the receiver's
    de-duplication key and part of our outbox key."""
    return "evt_" + hashlib.sha256(f"{event_type}:{key}".encode()).hexdigest()[:32]


def emit(session: so.Session, event_type: str, key: str, *, agency_id: int, owner_id: int, data: dict[str, Any]) -> int:
    """Enqueue the event for every active endpoint that subscribed to it and whose client may see
    the object (its agency; a broker's client only his own objects) with a scope for it. Returns
    how many messages were enqueued."""
    needed = EVENT_SCOPES[event_type]
    rows = [
        (endpoint, client)
        for endpoint, client, manager_scope in _endpoints(session, agency_id)
        if manager_scope or client.acting_user_id == owner_id
    ]
    ident = event_id(event_type, key)
    payload = json.dumps(
        {"id": ident, "type": event_type, "timestamp": clock.now().isoformat(), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    sent = 0
    for endpoint, client in rows:
        if event_type not in endpoint.events or not any(s in client.scopes for s in needed):
            continue
        outbox.enqueue(
            session,
            outbox.webhook(
                key=f"webhook:{endpoint.public_id}:{ident}",
                url=endpoint.url,
                event_type=event_type,
                event_id=ident,
                payload=payload,
                related=("webhook_endpoint", endpoint.public_id),
                agency_id=agency_id,
            ),
        )
        sent += 1
    return sent


def delivery_log(session: so.Session, client: ApiClient, limit: int = 200) -> list[OutboxMessage]:
    """The client's webhook messages, newest first (every endpoint it ever had)."""
    endpoint_ids = sa.select(WebhookEndpoint.public_id).where(WebhookEndpoint.client_id == client.id)
    return list(
        session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.kind == Kind.WEBHOOK, OutboxMessage.related_id.in_(endpoint_ids))
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def in_log(session: so.Session, client: ApiClient, message_public_id: str) -> bool:
    endpoint_ids = sa.select(WebhookEndpoint.public_id).where(WebhookEndpoint.client_id == client.id)
    return (
        session.scalar(
            sa.select(OutboxMessage.id).where(
                OutboxMessage.public_id == message_public_id,
                OutboxMessage.kind == Kind.WEBHOOK,
                OutboxMessage.related_id.in_(endpoint_ids),
            )
        )
        is not None
    )
