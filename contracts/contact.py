"""Kontakt (issue #29 item 8, seeds 000 and 004): a customer writes about one of his contracts to his
broker and the back office — a subject from a list, his text, one attachment checked by its content
as in Schaden melden; the broker answers from the contract's page, the back office from its list.
Every message and answer stays in the customer's Kontakthistorie, in time order; an answer reaches him
like a new document (unread, and the day's "Neue Dokumente" e-mail: onboarding listens to
`contact_answered`). Who may see a message is decided by its contract (core.authz.scoped)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlalchemy.orm as so

from contracts.claims import ClaimError, Upload, UploadLimits, check_uploads
from contracts.models import ContactMessage, Contract
from contracts.signals import contact_answered
from core import audit, clock, paging, storage
from core.authz import scoped
from core.db import rowcount
from core.downloads import safe_filename
from core.users import User

# the subjects a customer chooses from (seed 000: e.g. the Kilometerstand corrected "über das Kontaktformular")
SUBJECTS = {
    "kilometerstand": "Kilometerstand korrigieren",
    "rechnung": "Frage zur Rechnung",
    "vertrag": "Frage zum Vertrag",
    "dokumente": "Dokumente anfordern",
    "zugang": "Zugang zum Kunden-Portal",
    "sonstiges": "Sonstiges",
}
MAX_TEXT = 5000
MIN_TEXT = 5


class ContactError(ValueError):
    """German message for the form field `field`."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def subjects_for(contract: Contract) -> dict[str, str]:
    """The Kilometerstand is a Kfz contract's only."""
    return {k: v for k, v in SUBJECTS.items() if k != "kilometerstand" or contract.product == "kfz"}


def _attachment(message: ContactMessage, session: so.Session, upload: Upload | None, limits: UploadLimits) -> None:
    if upload is None or not (upload.filename or upload.data):
        return
    try:
        ((checked, content_type, extension),) = check_uploads([upload], UploadLimits(1, limits.max_bytes))
    except ClaimError as error:
        raise ContactError(error.message, "datei") from error
    key, _digest = storage.store(session, checked.data)
    message.attachment_name = safe_filename(checked.filename, extension)
    message.attachment_type, message.attachment_key, message.attachment_size = content_type, key, len(checked.data)


def _text(text: str) -> str:
    text = text.strip()
    if len(text) < MIN_TEXT:
        raise ContactError("Bitte schreiben Sie uns Ihr Anliegen in einigen Worten.", "nachricht")
    if len(text) > MAX_TEXT:
        limit = f"{MAX_TEXT:,}".replace(",", ".")
        raise ContactError(f"Bitte fassen Sie sich kürzer (höchstens {limit} Zeichen).", "nachricht")
    return text


def write(
    session: so.Session,
    contract: Contract,
    subject: str,
    text: str,
    upload: Upload | None,
    *,
    author: str,
    limits: UploadLimits,
) -> ContactMessage:
    """The customer's message (the caller checked that the contract is his). Everything is checked
    before anything is stored."""
    if subject not in subjects_for(contract):
        raise ContactError("Bitte wählen Sie ein Thema.", "thema")
    body = _text(text)
    message = ContactMessage(
        contract_id=contract.id,
        agency_id=contract.agency_id,
        owner_id=contract.owner_id,
        from_customer=True,
        author_label=author[:250],
        subject=subject,
        body=body,
    )
    _attachment(message, session, upload, limits)
    session.add(message)
    session.flush()
    audit.record(
        session,
        "contact_message",
        actor_label=author[:250],
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
        details={"subject": subject, "attachment": message.attachment_key is not None},
    )
    return message


def answer(session: so.Session, user: User, message: ContactMessage, text: str) -> ContactMessage:
    """The broker's or the back office's answer (the caller loaded the message in the user's scope).
    The customer's message counts as answered from the first answer on."""
    if not message.from_customer:
        raise ContactError("Beantworten lässt sich nur eine Nachricht des Kunden.", "antwort")
    body = _text(text)
    contract = message.contract
    reply = ContactMessage(
        contract_id=contract.id,
        agency_id=contract.agency_id,
        owner_id=contract.owner_id,
        answers_id=message.id,
        from_customer=False,
        author_id=user.id,
        author_label=user.full_name,
        subject=message.subject,
        body=body,
    )
    session.add(reply)
    session.execute(  # the first answer closes it (a colleague's answer at the same moment does not move it)
        sa.update(ContactMessage)
        .where(ContactMessage.id == message.id, ContactMessage.answered_at.is_(None))
        .values(answered_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    session.flush()
    audit.record(
        session,
        "contact_answered",
        actor=user,
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
        details={"subject": message.subject},
    )
    contact_answered.send(reply, session=session, contract=contract)
    return reply


def history(session: so.Session, contract_ids: Sequence[int]) -> list[ContactMessage]:
    """The Kontakthistorie of these contracts: every message and answer, oldest first."""
    if not contract_ids:
        return []
    return list(
        session.scalars(
            sa.select(ContactMessage)
            .where(ContactMessage.contract_id.in_(list(contract_ids)))
            .order_by(ContactMessage.created_at, ContactMessage.id)
            .options(so.selectinload(ContactMessage.contract))
        )
    )


def mark_read(session: so.Session, contract_ids: Sequence[int]) -> int:
    """The customer saw his Kontakthistorie: its answers are read."""
    if not contract_ids:
        return 0
    return rowcount(
        session.execute(
            sa.update(ContactMessage)
            .where(
                ContactMessage.contract_id.in_(list(contract_ids)),
                ContactMessage.from_customer.is_(False),
                ContactMessage.read_at.is_(None),
            )
            .values(read_at=clock.now())
            .execution_options(synchronize_session=False)
        )
    )


def unread_answers(session: so.Session, customer_account_id: int) -> int:
    """The answers to a portal customer's messages he has not seen yet (the badge beside "Kontakt")."""
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(ContactMessage)
            .join(Contract, Contract.id == ContactMessage.contract_id)
            .where(
                Contract.customer_account_id == customer_account_id,
                ContactMessage.from_customer.is_(False),
                ContactMessage.read_at.is_(None),
            )
        )
        or 0
    )


def of_contracts(session: so.Session, contract_ids: Sequence[int], public_id: str) -> ContactMessage | None:
    """One message, if it belongs to one of these contracts (the portal customer's own)."""
    if not contract_ids:
        return None
    return session.scalar(
        sa.select(ContactMessage).where(
            ContactMessage.public_id == public_id, ContactMessage.contract_id.in_(list(contract_ids))
        )
    )


def visible(session: so.Session, user: User, public_id: str) -> ContactMessage | None:
    """One message, if its contract is in the staff user's scope."""
    return session.scalar(
        scoped(
            sa.select(ContactMessage).join(Contract, Contract.id == ContactMessage.contract_id),
            Contract,
            user,
        ).where(ContactMessage.public_id == public_id)
    )


def open_messages(session: so.Session, user: User, page: int = 1, size: int = 50) -> paging.Page[ContactMessage]:
    """The customers' messages not answered yet, oldest first, in the user's scope (the broker's
    worklist: his contracts; the back office: all)."""
    stmt = (
        scoped(sa.select(ContactMessage).join(Contract, Contract.id == ContactMessage.contract_id), Contract, user)
        .where(ContactMessage.from_customer.is_(True), ContactMessage.answered_at.is_(None))
        .options(so.contains_eager(ContactMessage.contract))
        .order_by(ContactMessage.created_at, ContactMessage.id)
    )
    return paging.paginate(session, stmt, page, size)
