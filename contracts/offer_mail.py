"""An offer by e-mail to the customer: the offer PDF through the outbox, on behalf of the broker
(his name beside our sender address, his address as Reply-To: the customer's answer reaches him),
recorded on the offer's audit trail."""

from __future__ import annotations

from datetime import date

import sqlalchemy.orm as so

from calculator.models import Offer
from calculator.tariffs import PaymentFrequency, Product
from core import audit, clock, storage
from core.contact import ContactError, normalize_email
from core.users import User
from messaging import outbox
from messaging.models import OutboxMessage

MAX_NOTE = 1000


class OfferMailError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def send_offer(
    session: so.Session,
    user: User,
    offer: Offer,
    to: str,
    note: str,
    pdf: bytes,
    contract_information: list[tuple[bytes, str]] | None = None,
    valid_until: date | None = None,
) -> OutboxMessage:
    """Queue the e-mail with the offer PDF (already rendered) and the tariff's Vertragsinformationen
    (§ 7 VVG: AVB, IPID, Verbraucherinformationen, as (PDF, file name)); OfferMailError for a bad
    address or a note too long (nothing queued). valid_until: the last day the offer's price holds."""
    try:
        address = normalize_email(to)
    except ContactError as error:
        raise OfferMailError(str(error), "email") from None
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise OfferMailError(f"Die Nachricht darf höchstens {MAX_NOTE} Zeichen lang sein.", "nachricht")
    key, _digest = storage.store(session, pdf)
    now = clock.now()
    product = Product(offer.product)
    agency = user.agency
    message = outbox.enqueue_email(
        session,
        key=f"offer-mail:{offer.public_id}:{now.timestamp()}",
        to=address,
        subject=f"Ihr Angebot für Ihre {product.insurance_label}",
        template="offer",
        context={
            "offer": offer,
            "product": product,
            "frequency": PaymentFrequency(offer.frequency).label,
            "note": note,
            "valid_until": valid_until,
            "broker": user,
            "agency": agency,
        },
        related=("offer", offer.public_id),
        agency_id=offer.agency_id,
        attachments=[(key, f"Angebot-{product.label}-{now:%Y%m%d}.pdf".replace(" ", "-"))]
        + [(storage.store(session, data)[0], name) for data, name in contract_information or []],
        sender_name=f"{user.full_name}{f' ({agency.name})' if agency else ''}",
        reply_to=user.email,
    )
    audit.record(
        session,
        "offer_emailed",
        actor=user,
        agency_id=offer.agency_id,
        object_type="offer",
        object_id=offer.public_id,
        details={"to": address},
    )
    return message
