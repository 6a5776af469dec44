"""A bounced e-mail (issue #26 item 22): when the recipient's server refused the address for good
(SMTP 5xx), sending again cannot help. The back office corrects the address instead: on the
contract, the broker's customer record and a portal access not yet activated; the message goes
out again to the corrected address, and the broker is told."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator.models import CustomerRecord
from contracts.models import Contract
from core import audit, clock
from core.contact import ContactError, normalize_email
from core.users import User
from messaging import outbox
from messaging.failures import address_refused
from messaging.models import Kind, OutboxMessage, State
from onboarding.models import PortalAccount


class CorrectionError(ValueError):
    """German message for the field (or the page when field is None)."""

    def __init__(self, message: str, field: str | None = "email") -> None:
        super().__init__(message)
        self.message, self.field = message, field


def correctable(session: so.Session, public_id: str) -> OutboxMessage | None:
    """The failed e-mail whose address was refused for good (None: no such message)."""
    message = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.public_id == public_id))
    if message is None or message.kind is not Kind.EMAIL:
        return None
    return message


def correct_address(session: so.Session, user: User, public_id: str, new_address: str) -> OutboxMessage:
    """Correct the refused address everywhere it came from and send the message again (its row locked:
    two clerks correcting at once send it once)."""
    message = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.public_id == public_id).with_for_update())
    if message is None or message.kind is not Kind.EMAIL:
        raise CorrectionError("Diese Nachricht gibt es nicht.", None)
    if message.state is not State.FAILED or not address_refused(message.last_error):
        raise CorrectionError("Diese Nachricht wartet nicht auf eine korrigierte Adresse.", None)
    try:
        address = normalize_email(new_address)
    except ContactError as error:
        raise CorrectionError(str(error)) from None
    old = message.recipient
    if address == old.lower():
        raise CorrectionError("Das ist die abgelehnte Adresse. Bitte geben Sie die richtige Adresse ein.")
    contract = None
    if message.related_type == "contract" and message.related_id:
        contract = session.scalar(sa.select(Contract).where(Contract.public_id == message.related_id).with_for_update())
    if contract is not None:
        if (contract.customer_email or "").lower() == old.lower():
            contract.customer_email = address
        client = session.get(CustomerRecord, contract.client_id) if contract.client_id else None
        if client is not None and (client.email or "").lower() == old.lower():
            client.email = address
        account = session.get(PortalAccount, contract.customer_account_id) if contract.customer_account_id else None
        if account is not None and account.email.lower() == old.lower():
            if account.activated_at is not None:
                raise CorrectionError(
                    "Der Kunde hat sein Kunden-Portal bereits aktiviert; seine E-Mail-Adresse ändert er dort selbst.",
                    None,
                )
            if (
                session.scalar(sa.select(PortalAccount.id).where(sa.func.lower(PortalAccount.email) == address))
                is not None
            ):
                raise CorrectionError("Diese Adresse gehört bereits zu einem anderen Kundenzugang.")
            account.email = address
    message.recipient = address
    message.state, message.attempts, message.next_attempt_at = State.PENDING, 0, clock.now()
    message.last_error = None
    if contract is not None and contract.owner is not None:
        outbox.enqueue_email(
            session,
            key=f"address-corrected:{message.public_id}:{address}",
            to=contract.owner.email,
            subject=f"E-Mail-Adresse korrigiert: Vertrag {contract.number}",
            template="address_corrected",
            context={"contract": contract, "old": old, "new": address, "subject": message.subject},
            related=("contract", contract.public_id),
            agency_id=contract.agency_id,
        )
    audit.record(
        session,
        "message_address_corrected",
        actor=user,
        agency_id=message.agency_id,
        object_type="message",
        object_id=message.public_id,
        details={"old": old, "new": address},
    )
    return message
