"""Enqueue e-mails, SMS and letters in the caller's transaction.

A message exists if and only if the business change commits (it is added to the caller's session);
its idempotency key names the business event, so one event cannot enqueue twice. Content is rendered
and checked now, so a bad address or an over-long SMS fails the business call, not a worker later.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr
from typing import Any

import markupsafe
import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.exc import IntegrityError

from core import clock
from core.contact import ContactError, PostalAddress, normalize_email, normalize_mobile
from core.db import insert_rows, new_public_id, table
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
    adapter = current_app.extensions.get("message_url_adapter")
    if adapter is None:  # bound once per app: a bulk job builds thousands of links
        adapter = current_app.extensions["message_url_adapter"] = current_app.url_map.bind("localhost")
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


def add_many(session: so.Session, drafts: list[Draft]) -> None:
    """Bulk path: insert many drafts (from email/letter/sms) with one COPY (PostgreSQL) or executemany, in the caller's
    transaction. Their keys must be new: a key enqueued before raises IntegrityError, and the caller
    rolls back its savepoint and falls back to enqueue_* one by one."""
    insert_rows(session, table(OutboxMessage), drafts)  # COPY on PostgreSQL


# the column values of one message, built and checked before anything is written
Draft = dict[str, Any]


def _draft(
    kind: Kind,
    key: str,
    template: str,
    related: tuple[str, str] | None,
    agency_id: int | None,
    sensitive: bool,
    *,
    recipient: str,
    subject: str = "",
    body_text: str = "",
    body_html: str = "",
    address: list[str] | None = None,
    attachments: list[str] | None = None,
    attachment_names: list[str] | None = None,
    sender_name: str | None = None,
    reply_to: str | None = None,
    provider_id: str | None = None,
    retain_until: datetime | None = None,
    send_after: datetime | None = None,
) -> Draft:
    """Every message has the same keys (so drafts of one kind can be inserted with executemany)."""
    now = clock.now()
    return {
        "public_id": new_public_id(),
        "idempotency_key": key,
        "kind": kind,
        "state": State.PENDING,
        "template": template,
        "sensitive": sensitive,
        "agency_id": agency_id,
        "related_type": related[0] if related else None,
        "related_id": related[1] if related else None,
        "recipient": recipient,
        "subject": subject,
        "body_text": body_text,
        "body_html": body_html,
        "address": address or [],
        "attachments": attachments or [],
        "attachment_names": attachment_names or [],
        "sender_name": sender_name,
        "reply_to": reply_to,
        "provider_id": provider_id,
        "retain_until": retain_until,
        "next_attempt_at": send_after or now,
        "created_at": now,
    }


def _render(name: str, context: dict[str, Any]) -> str:
    """A message template with the context given (and the environment's globals such as url_for);
    no request context processors: messages are rendered in workers and bulk jobs, too."""
    return current_app.jinja_env.get_template(name).render({"app_url": external_url, **context})


@dataclass(frozen=True)
class Stencil:
    """One template rendered once with markers where the per-recipient values go: the fixed pieces
    with a slot between each two; escape: the template is autoescaped (HTML), so a value is escaped
    exactly as Jinja escapes it."""

    pieces: tuple[str, ...]
    slots: tuple[str, ...]
    escape: bool

    def fill(self, values: Mapping[str, str]) -> str:
        out = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:], strict=True):
            value = values[slot]
            out += (str(markupsafe.escape(value)) if self.escape else value, piece)
        return "".join(out)


class Stencils:
    """Message templates rendered once for many recipients (a bulk switch's thousands of e-mails and
    letters), then filled per recipient: what differs between recipients is a slot — build(mark)
    returns the context with mark("name") wherever such a value goes — and everything else (the
    broker's block, the validity, the brand) is rendered once. A slot must be printed as it is (no
    filter, no test on it): a marker that comes out of the template changed or cut makes the build
    fail (ValueError), never a wrong message; tests compare filled stencils with full renderings."""

    def __init__(self, names: Iterable[str], build: Callable[[Callable[[str], str]], dict[str, Any]]) -> None:
        nonce, slots = secrets.token_hex(8), []

        def mark(slot: str) -> str:
            if slot not in slots:
                slots.append(slot)
            return f"slot{nonce}n{slots.index(slot)}e"  # letters and digits: unchanged by escaping and URLs

        context = build(mark)
        env = current_app.jinja_env
        self._stencils: dict[str, Stencil] = {}
        for name in names:
            split = re.split(f"slot{nonce}n(\\d+)e", _render(name, context))
            pieces = tuple(split[0::2])
            if any(nonce in piece.lower() for piece in pieces):
                raise ValueError(f"{name}: a slot is not printed as it is; render it per recipient")
            autoescape = env.autoescape(name) if callable(env.autoescape) else env.autoescape
            self._stencils[name] = Stencil(pieces, tuple(slots[int(i)] for i in split[1::2]), bool(autoescape))

    def fill(self, name: str, values: Mapping[str, str]) -> str:
        return self._stencils[name].fill(values)


def _body(name: str, context: dict[str, Any], stencils: Stencils | None) -> str:
    """The template rendered with the context, or the stencil filled with it (the slots' values)."""
    return _render(name, context) if stencils is None else stencils.fill(name, context)


@functools.lru_cache(maxsize=4)
def _sender_domain(sender: str) -> str:
    """The domain of our Message-IDs, from MAIL_DEFAULT_SENDER ("Name <a@b.example>")."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def email(
    *,
    key: str,
    to: str,
    subject: str,
    template: str,
    context: dict[str, Any],
    related: tuple[str, str] | None = None,
    agency_id: int | None = None,
    sensitive: bool = False,
    send_after: datetime | None = None,
    attachments: list[tuple[str, str]] | None = None,
    sender_name: str | None = None,
    reply_to: str | None = None,
    stencils: Stencils | None = None,
) -> Draft:
    """E-mail from templates/emails/<template>.txt and .html (multipart: text + HTML); with
    stencils, those rendered once and filled with the context (the slots' values).
    sensitive: it carries an access link or code; its body is blanked once delivered.
    send_after: not before then (several events collected into one e-mail).
    attachments: (storage key, file name) of PDFs kept in core.storage; sender_name and reply_to:
    a person the e-mail comes from (our address stays the sender: SPF/DMARC)."""
    address = normalize_email(to)  # no second check for an EmailAddress
    domain = _sender_domain(current_app.config["MAIL_DEFAULT_SENDER"])
    return _draft(
        Kind.EMAIL,
        key,
        template,
        related,
        agency_id,
        sensitive,
        recipient=address,
        subject=subject,
        body_text=_body(f"emails/{template}.txt", context, stencils),
        body_html=_body(f"emails/{template}.html", context, stencils),
        provider_id=make_msgid(domain=domain),  # set before sending: a resend carries the same id
        send_after=send_after,
        attachments=[key for key, _name in attachments or []],
        attachment_names=[name for _key, name in attachments or []],
        sender_name=sender_name,
        reply_to=normalize_email(reply_to) if reply_to else None,
    )


def sms(
    *,
    key: str,
    to: str,
    template: str,
    context: dict[str, Any],
    related: tuple[str, str] | None = None,
    agency_id: int | None = None,
    sensitive: bool = False,
    subject: str = "SMS",
) -> Draft:
    """SMS from templates/sms/<template>.txt; must fit one GSM-7 SMS (160 characters). ``subject``
    is not sent: it is the German label the back office sees in Nachrichten."""
    number = normalize_mobile(to)
    text = _render(f"sms/{template}.txt", context).strip()
    if not text:
        raise MessageError("Der SMS-Text ist leer.")
    if gsm7_length(text) > SMS_MAX_SEPTETS:
        raise MessageError(f"Der SMS-Text ist zu lang ({gsm7_length(text)} von höchstens {SMS_MAX_SEPTETS} Zeichen).")
    return _draft(
        Kind.SMS, key, template, related, agency_id, sensitive, recipient=number, body_text=text, subject=subject
    )


def letter(
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
    stencils: Stencils | None = None,
) -> Draft:
    """Letter from templates/letters/<template>.html (with stencils: filled); the worker renders its
    PDF (with the attached stored documents behind it) for the Postausgang. A sensitive letter's PDF
    is kept after posting until retain_until (e.g. its code's expiry) or until redact_letter, so
    posting can be undone."""
    address.check()
    return _draft(
        Kind.LETTER,
        key,
        template,
        related,
        agency_id,
        sensitive,
        recipient=address.name.strip(),
        subject=subject,
        body_html=_body(f"letters/{template}.html", context, stencils),
        address=address.lines(),
        attachments=list(attachments or []),
        retain_until=retain_until,
    )


def webhook(
    *,
    key: str,
    url: str,
    event_type: str,
    event_id: str,
    payload: str,
    related: tuple[str, str],
    agency_id: int | None = None,
) -> Draft:
    """An event for a webhook endpoint (`related`: the endpoint, whose secret signs it at delivery):
    the JSON payload as it will be sent, the event id that every attempt carries (`webhook-id`, the
    receiver's de-duplication key)."""
    return _draft(
        Kind.WEBHOOK,
        key,
        "webhook",
        related,
        agency_id,
        False,
        recipient=url,
        subject=event_type,
        body_text=payload,
        provider_id=event_id,
    )


def enqueue(session: so.Session, draft: Draft) -> OutboxMessage:
    """A built message (email/sms/letter) added to the caller's transaction, once per idempotency key."""
    return _add(session, OutboxMessage(**draft))


def enqueue_email(session: so.Session, **fields: Any) -> OutboxMessage:
    """An e-mail (see `email`) added to the caller's transaction, once per idempotency key."""
    return _add(session, OutboxMessage(**email(**fields)))


def enqueue_sms(session: so.Session, **fields: Any) -> OutboxMessage:
    """An SMS (see `sms`) added to the caller's transaction, once per idempotency key."""
    return _add(session, OutboxMessage(**sms(**fields)))


def enqueue_letter(session: so.Session, **fields: Any) -> OutboxMessage:
    """A letter (see `letter`) added to the caller's transaction, once per idempotency key."""
    return _add(session, OutboxMessage(**letter(**fields)))


def state_of(session: so.Session, key: str) -> State | None:
    """The state of the message of this event, or None if none was enqueued."""
    return session.scalar(sa.select(OutboxMessage.state).where(OutboxMessage.idempotency_key == key))


def redact_letter(session: so.Session, *keys: str) -> None:
    """The letters of these events are no longer needed (their code was used or replaced): drop
    their PDF and content, unless they still wait in the Postausgang to be printed."""
    if not keys:
        return
    session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.idempotency_key.in_(keys),
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
