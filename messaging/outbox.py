"""Enqueue e-mails, SMS and letters in the caller's transaction.

A message exists if and only if the business change commits (it is added to the caller's session);
its idempotency key names the business event, so one event cannot enqueue twice. Content is rendered
and checked now, so a bad address or an over-long SMS fails the business call, not a worker later.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app, render_template
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.exc import IntegrityError

from core import clock
from core.contact import ContactError, PostalAddress, normalize_email, normalize_mobile
from messaging.models import Kind, OutboxMessage, State

# GSM 03.38: the default alphabet (1 septet each) and its extension table (2 septets each)
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€"
SMS_MAX_SEPTETS = 160
REDACTED_LETTER = "(Brief nach Ablauf oder Verwendung des Zugangs-Codes gelöscht)"
LETTER_RETENTION_DEFAULT = timedelta(days=30)  # sensitive letters without their own retention

# the message cannot be sent as asked (bad address, number or text); raised at enqueue time
MessageError = ContactError


def gsm7_length(text: str) -> int:
    """Septets the text needs in GSM-7; MessageError for a character GSM-7 does not have."""
    length = 0
    for char in text:
        if char in GSM7_BASIC:
            length += 1
        elif char in GSM7_EXTENSION:
            length += 2
        else:
            raise MessageError(f"Das Zeichen {char!r} ist in einer SMS (GSM-7) nicht darstellbar.")
    return length


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute link for messages: APP_BASE_URL + the route's path (never the request's Host)."""
    adapter = current_app.url_map.bind("localhost")
    return str(current_app.config["APP_BASE_URL"]) + adapter.build(endpoint, values)


def _add(session: so.Session, message: OutboxMessage) -> OutboxMessage:
    """Add the message unless its event was enqueued already (then return that one)."""
    key = message.idempotency_key
    try:  # the unique key decides; no look-up first (one round trip less per message)
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        # another transaction enqueued the same event first
        found = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
        assert found is not None
        return found
    return message


def _message(
    kind: Kind,
    key: str,
    template: str,
    related: tuple[str, str] | None,
    agency_id: int | None,
    sensitive: bool,
    **fields: Any,
) -> OutboxMessage:
    """The fields every message has; `fields` are the kind's own (recipient, bodies, address …)."""
    return OutboxMessage(
        idempotency_key=key,
        kind=kind,
        template=template,
        sensitive=sensitive,
        agency_id=agency_id,
        related_type=related[0] if related else None,
        related_id=related[1] if related else None,
        **fields,
    )


def _context(context: dict[str, Any]) -> dict[str, Any]:
    return {"app_url": external_url, **context}


def enqueue_email(
    session: so.Session,
    *,
    key: str,
    to: str,
    subject: str,
    template: str,
    context: dict[str, Any],
    related: tuple[str, str] | None = None,
    agency_id: int | None = None,
    sensitive: bool = False,
) -> OutboxMessage:
    """E-mail from templates/emails/<template>.txt and .html (multipart: text + HTML).
    sensitive: it carries an access link or code; its body is blanked once delivered."""
    address = normalize_email(to)
    ctx = _context(context)
    text = render_template(f"emails/{template}.txt", **ctx)
    html = render_template(f"emails/{template}.html", **ctx)
    domain = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2] or "localhost"
    message = _message(
        Kind.EMAIL,
        key,
        template,
        related,
        agency_id,
        sensitive,
        recipient=address,
        subject=subject,
        body_text=text,
        body_html=html,
        provider_id=make_msgid(domain=domain),  # set before sending: a resend carries the same id
    )
    return _add(session, message)


def enqueue_sms(
    session: so.Session,
    *,
    key: str,
    to: str,
    template: str,
    context: dict[str, Any],
    related: tuple[str, str] | None = None,
    agency_id: int | None = None,
    sensitive: bool = False,
    subject: str = "SMS",
) -> OutboxMessage:
    """SMS from templates/sms/<template>.txt; must fit one GSM-7 SMS (160 characters). ``subject``
    is not sent: it is the German label the back office sees in Nachrichten."""
    number = normalize_mobile(to)
    text = render_template(f"sms/{template}.txt", **_context(context)).strip()
    if not text:
        raise MessageError("Der SMS-Text ist leer.")
    if gsm7_length(text) > SMS_MAX_SEPTETS:
        raise MessageError(f"Der SMS-Text ist zu lang ({gsm7_length(text)} von höchstens {SMS_MAX_SEPTETS} Zeichen).")
    message = _message(
        Kind.SMS, key, template, related, agency_id, sensitive, recipient=number, body_text=text, subject=subject
    )
    return _add(session, message)


def enqueue_letter(
    session: so.Session,
    *,
    key: str,
    address: PostalAddress,
    subject: str,
    template: str,
    context: dict[str, Any],
    related: tuple[str, str] | None = None,
    agency_id: int | None = None,
    attachments: list[str] | None = None,
    sensitive: bool = False,
    retain_until: datetime | None = None,
) -> OutboxMessage:
    """Letter from templates/letters/<template>.html; the worker renders its PDF (with the attached
    stored documents behind it) for the Postausgang. A sensitive letter's PDF is kept after posting
    until retain_until (e.g. its code's expiry) or until redact_letter, so posting can be undone."""
    address.check()
    html = render_template(f"letters/{template}.html", **_context(context))
    message = _message(
        Kind.LETTER,
        key,
        template,
        related,
        agency_id,
        sensitive,
        recipient=address.name.strip(),
        subject=subject,
        body_html=html,
        address=address.lines(),
        attachments=list(attachments or []),
    )
    message.retain_until = retain_until
    return _add(session, message)


def redact_letter(session: so.Session, key: str) -> None:
    """The letter of this event is no longer needed (its code was used or replaced): drop its PDF
    and content, unless it still waits in the Postausgang to be printed."""
    session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.idempotency_key == key,
            OutboxMessage.kind == Kind.LETTER,
            OutboxMessage.state == State.POSTED,
        )
        .values(pdf=None, body_html=REDACTED_LETTER)
        .execution_options(synchronize_session=False)
    )


def purge_letters(session: so.Session, now: datetime | None = None) -> int:
    """Worker task: posted sensitive letters whose retention ended lose their PDF and content."""
    now = now or clock.now()
    result = session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.kind == Kind.LETTER,
            OutboxMessage.sensitive.is_(True),
            OutboxMessage.state == State.POSTED,
            OutboxMessage.pdf.is_not(None),
            sa.or_(
                OutboxMessage.retain_until < now,
                sa.and_(OutboxMessage.retain_until.is_(None), OutboxMessage.sent_at < now - LETTER_RETENTION_DEFAULT),
            ),
        )
        .values(pdf=None, body_html=REDACTED_LETTER)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def queue_metrics(session: so.Session) -> Iterator[GaugeMetricFamily]:
    """Prometheus figures at scrape time: messages per kind and state, age of the oldest due one."""
    depth = GaugeMetricFamily("vr_outbox_messages", "Outbox messages per kind and state", labels=["kind", "state"])
    for kind, state, n in session.execute(
        sa.select(OutboxMessage.kind, OutboxMessage.state, sa.func.count()).group_by(
            OutboxMessage.kind, OutboxMessage.state
        )
    ):
        depth.add_metric([kind.value, state.value], n)
    yield depth
    now = clock.now()
    oldest = session.scalar(
        sa.select(sa.func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.state == State.PENDING, OutboxMessage.next_attempt_at <= now
        )
    )
    age = GaugeMetricFamily("vr_outbox_oldest_due_seconds", "Seconds the oldest due message has been waiting")
    age.add_metric([], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
    yield age
