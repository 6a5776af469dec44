"""eVB-Nummern (elektronische Versicherungsbestätigung): the 7-character code a customer needs at
the registration office. Issued with a Kfz contract on its Antrag (at policing, so the
Versicherungsschein prints it), shown to the broker at once, sent to the customer by e-mail or SMS
through the outbox within minutes (the motor seed), seen and revoked by the back office.

Codes are random over an alphabet without I/O/0/1 (unambiguous when read out or typed) and unique by
the database: a code another contract took meanwhile — also in a parallel transaction — is retried
in a savepoint with a fresh code."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from calculator import reference
from contracts.models import Contract, Evb, Occasion
from contracts.signals import evb_issued, evb_revoked
from core import audit, clock, paging, tokens
from core.formatting import TIMEZONE
from core.users import User
from messaging import outbox

ALPHABET = tokens.LETTER_CODE_ALPHABET  # A–Z and 2–9 without I, O (and no 0, 1)
LENGTH = 7
MAX_TRIES = 20
NO_VEHICLE = "Für eine eVB-Nummer brauchen wir HSN und TSN des Fahrzeugs. Bitte ergänzen Sie das Angebot."


class EvbError(ValueError):
    pass


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def _vehicle(session: so.Session, contract: Contract) -> tuple[str, str, str]:
    answers = contract.answers or {}
    hsn, tsn = (answers.get("hsn") or [""])[0].strip(), (answers.get("tsn") or [""])[0].strip().upper()
    if not hsn or not tsn:
        raise EvbError(NO_VEHICLE)
    found = reference.find_vehicle(session, hsn, tsn)
    label = f"{found.manufacturer} {found.trade_name}" if found else f"HSN {hsn}, TSN {tsn}"
    return hsn, tsn, label


def valid_until(issued: date, start: date, valid_days: int, margin_days: int) -> date:
    """An eVB is valid `valid_days` from its issue, and at least until the contract start plus the
    tariff's margin (the motor seed: an eVB issued in March for an October start must not have
    expired in May)."""
    return max(issued + timedelta(days=valid_days), start + timedelta(days=margin_days))


def needed(contract: Contract) -> bool:
    """An eVB is for the registration office: for a Neuzulassung or a Halterwechsel, not for a mere
    change of insurer (the vehicle stays registered). Contracts without an occasion (older Anträge,
    imports) get one on request as before."""
    occasion = contract.application.occasion if contract.application is not None else None
    return occasion is None or Occasion(occasion).needs_evb


def issue(
    session: so.Session,
    contract: Contract,
    *,
    valid_days: int,
    margin_days: int = 0,
    now: datetime | None = None,
) -> Evb:
    """The contract's eVB (one per contract: issuing again returns it). EvbError without HSN/TSN or
    for a change of insurer."""
    return _issue(session, contract, valid_days=valid_days, margin_days=margin_days, now=now)[0]


def _issue(
    session: so.Session,
    contract: Contract,
    *,
    valid_days: int,
    margin_days: int = 0,
    now: datetime | None = None,
) -> tuple[Evb, bool]:
    """(the contract's eVB, whether this call issued it). A request in parallel that lost the race on
    the unique contract finds the winner's eVB and returns it (the user sees the eVB that exists)."""
    if contract.evb is not None:
        return contract.evb, False
    if not needed(contract):
        raise EvbError("Beim Versichererwechsel bleibt das Fahrzeug zugelassen; eine eVB-Nummer ist nicht nötig.")
    hsn, tsn, label = _vehicle(session, contract)
    now = now or clock.now()
    for _ in range(MAX_TRIES):
        evb = Evb(
            code=new_code(),
            contract_id=contract.id,
            agency_id=contract.agency_id,
            owner_id=contract.owner_id,
            hsn=hsn,
            tsn=tsn,
            vehicle=label,
            issued_at=now,
            valid_until=valid_until(now.astimezone(TIMEZONE).date(), contract.start_date, valid_days, margin_days),
        )
        try:
            with session.begin_nested():  # a taken code: this savepoint only, then a new code
                session.add(evb)
        except IntegrityError:
            existing = session.scalar(
                sa.select(Evb).where(Evb.contract_id == contract.id).execution_options(populate_existing=True)
            )
            if existing is not None:  # issued meanwhile for this contract, by a parallel request
                return existing, False
            continue
        session.refresh(contract, attribute_names=["evb"])
        return evb, True
    raise EvbError("Es konnte keine eVB-Nummer vergeben werden. Bitte versuchen Sie es erneut.")


def send(session: so.Session, evb: Evb, contract: Contract) -> str | None:
    """To the customer: by e-mail where we have his address, else by SMS; None: neither (the
    broker hands it over; the Versicherungsschein states it)."""
    context = {"evb": evb, "contract": contract}
    related = ("contract", contract.public_id)
    if contract.customer_email:
        outbox.enqueue_email(
            session,
            key=f"evb:{evb.public_id}:{evb.code}",
            to=contract.customer_email,
            subject=f"Ihre eVB-Nummer für die Zulassung: {evb.code}",
            template="evb",
            context=context,
            related=related,
            agency_id=contract.agency_id,
        )
        return "email"
    if contract.customer_mobile:
        outbox.enqueue_sms(
            session,
            key=f"evb:{evb.public_id}:{evb.code}",
            to=contract.customer_mobile,
            template="evb",
            subject="eVB-Nummer",
            context=context,
            related=related,
            agency_id=contract.agency_id,
        )
        return "sms"
    return None


def issue_and_send(
    session: so.Session, contract: Contract, user: User | None, *, valid_days: int, margin_days: int = 0
) -> Evb:
    evb, created = _issue(session, contract, valid_days=valid_days, margin_days=margin_days)
    if not created:  # it existed (also: a parallel request issued it a moment ago) — sent then
        return evb
    channel = send(session, evb, contract)
    audit.record(
        session,
        "evb_issued",
        actor=user,
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
        details={"code": evb.code, "sent_by": channel or "—", "valid_until": evb.valid_until.isoformat()},
    )
    evb_issued.send(evb, session=session)
    return evb


def reissue(
    session: so.Session, contract: Contract, user: User | None, *, valid_days: int, margin_days: int = 0
) -> Evb | None:
    """A vehicle change (Vertrag ändern): the contract's eVB is for the new vehicle — a new code,
    the vehicle and validity of now, sent to the customer; the old code no longer exists (the audit
    trail keeps it). None: the contract has no eVB (or none is needed)."""
    current = contract.evb
    if current is None or not needed(contract):
        return None
    hsn, tsn, label = _vehicle(session, contract)
    now = clock.now()
    old_code = current.code
    for _ in range(MAX_TRIES):
        try:
            with session.begin_nested():  # a taken code: this savepoint only, then a new code
                current.code = new_code()
                current.hsn, current.tsn, current.vehicle = hsn, tsn, label
                current.issued_at = now
                current.valid_until = valid_until(
                    now.astimezone(TIMEZONE).date(), contract.start_date, valid_days, margin_days
                )
                current.revoked_at = current.revoked_by_id = current.revoke_reason = None
                session.flush()
        except IntegrityError:
            continue
        channel = send(session, current, contract)
        audit.record(
            session,
            "evb_reissued",
            actor=user,
            agency_id=contract.agency_id,
            object_type="contract",
            object_id=contract.public_id,
            details={"old_code": old_code, "code": current.code, "vehicle": label, "sent_by": channel or "—"},
        )
        evb_issued.send(current, session=session)
        return current
    raise EvbError("Es konnte keine eVB-Nummer vergeben werden. Bitte versuchen Sie es erneut.")


def revoke(session: so.Session, user: User, public_id: str, reason: str, now: datetime | None = None) -> Evb:
    """Revoke an eVB (e.g. issued for the wrong vehicle): once, with a reason, audited."""
    reason = " ".join(reason.split())
    if not reason:
        raise EvbError("Bitte geben Sie den Grund für den Widerruf an.")
    if len(reason) > 500:
        raise EvbError("Der Grund darf höchstens 500 Zeichen lang sein.")
    now = now or clock.now()
    revoked = session.scalar(
        sa.update(Evb)
        .where(Evb.public_id == public_id, Evb.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_id=user.id, revoke_reason=reason)
        .returning(Evb.id)
        .execution_options(synchronize_session=False)
    )
    evb = session.scalar(sa.select(Evb).where(Evb.public_id == public_id).execution_options(populate_existing=True))
    if evb is None:
        raise EvbError("Diese eVB-Nummer gibt es nicht.")
    if revoked is None:
        raise EvbError(f"Die eVB-Nummer {evb.code} ist bereits widerrufen.")
    _announce_revocation(session, evb)
    audit.record(
        session,
        "evb_revoked",
        actor=user,
        agency_id=evb.agency_id,
        object_type="contract",
        object_id=evb.contract.public_id,
        details={"code": evb.code, "reason": reason},
    )
    evb_revoked.send(evb, session=session)
    return evb


def _announce_revocation(session: so.Session, evb: Evb) -> None:
    """A revoked eVB is announced to the customer (e-mail, else SMS) and to his broker: it can no
    longer be used at the registration office."""
    contract = evb.contract
    context = {"evb": evb, "contract": contract}
    related = ("contract", contract.public_id)
    subject = f"eVB-Nummer {evb.code} widerrufen"
    if contract.customer_email:
        outbox.enqueue_email(
            session,
            key=f"evb-revoked:{evb.public_id}",
            to=contract.customer_email,
            subject=subject,
            template="evb_revoked",
            context=context,
            related=related,
            agency_id=contract.agency_id,
        )
    elif contract.customer_mobile:
        outbox.enqueue_sms(
            session,
            key=f"evb-revoked:{evb.public_id}",
            to=contract.customer_mobile,
            template="evb_revoked",
            subject=subject,
            context=context,
            related=related,
            agency_id=contract.agency_id,
        )
    outbox.enqueue_email(
        session,
        key=f"evb-revoked-broker:{evb.public_id}",
        to=contract.owner.email,
        subject=f"{subject} (Vertrag {contract.number}, {contract.customer_name})",
        template="evb_revoked_broker",
        context=context,
        related=related,
        agency_id=contract.agency_id,
    )


def evbs_page(session: so.Session, search: str, page: int, size: int) -> paging.Page[Evb]:
    """The back office's list, newest first; search by eVB-Nummer, Vertragsnummer or name."""
    stmt = sa.select(Evb).join(Contract, Contract.id == Evb.contract_id).options(so.contains_eager(Evb.contract))
    term = "".join(search.split()).upper()
    if term:
        stmt = stmt.where(
            sa.or_(
                Evb.code == term,
                Contract.number == term,
                sa.func.lower(Contract.customer_name).contains(search.strip().lower(), autoescape=True),
            )
        )
    return paging.paginate(session, stmt.order_by(Evb.issued_at.desc(), Evb.id.desc()), page, size)
