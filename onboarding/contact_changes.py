"""A new e-mail address or mobile number in the portal: it applies only after the link sent *to it*
is opened (the code sent *to it* is typed); the old address or number is told, so nobody takes an
account over unnoticed; the confirmation is kept in his folder as a "Mitteilung". Requests are
rate-limited under the customer's row lock; codes and links are claimed by guarded UPDATEs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.exc
import sqlalchemy.orm as so

from calculator.tariffs import TariffCatalog
from contracts.documents import Planned, issue_documents
from contracts.models import Contract, DocumentKind
from core import clock, tokens
from core.contact import ContactError, german_mobile, mask_mobile, normalize_email, normalize_phone
from core.formatting import count
from messaging import outbox
from onboarding.access import take_attempt
from onboarding.models import ContactChange, ContactKind, PortalAccount
from onboarding.self_service import (
    SelfServiceError,
    current_mobile,
    newest_contract,
    pending,
    record,
)
from onboarding.settings import OnboardingSettings


def _lock_customer(session: so.Session, customer: PortalAccount) -> None:
    """One request at a time per customer: the rate limits below count under this lock."""
    session.refresh(customer, with_for_update=True)


def _check_rate(
    session: so.Session, customer: PortalAccount, kind: ContactKind, now: datetime, settings: OnboardingSettings
) -> None:
    last, today_count = session.execute(
        sa.select(sa.func.max(ContactChange.created_at), sa.func.count()).where(
            ContactChange.customer_id == customer.id,
            ContactChange.kind == kind,
            ContactChange.created_at > now - timedelta(days=1),
        )
    ).one()
    if last is not None:
        last = last if last.tzinfo else last.replace(tzinfo=now.tzinfo)
        wait = settings.resend_seconds - (now - last).total_seconds()
        if wait > 0:
            raise SelfServiceError(
                f"Bitte warten Sie noch {math.ceil(wait)} Sekunden, bevor Sie erneut eine Bestätigung anfordern."
            )
    if today_count >= settings.max_sends_per_day:
        raise SelfServiceError(
            f"Sie haben heute schon {settings.max_sends_per_day} Bestätigungen angefordert. "
            "Bitte versuchen Sie es morgen wieder."
        )


def _supersede(session: so.Session, customer: PortalAccount, kind: ContactKind, now: datetime) -> None:
    session.execute(
        sa.update(ContactChange)
        .where(
            ContactChange.customer_id == customer.id,
            ContactChange.kind == kind,
            ContactChange.used_at.is_(None),
            ContactChange.superseded_at.is_(None),
        )
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    )


def _open_request(
    session: so.Session,
    customer: PortalAccount,
    kind: ContactKind,
    values: tuple[str | None, str],
    secret_hash: str,
    valid: timedelta,
    settings: OnboardingSettings,
    now: datetime,
) -> ContactChange:
    """A new request of this kind (the customer's row is locked by the caller): rate-limited, the
    open one of the same kind ended, the secret kept only as its hash."""
    _check_rate(session, customer, kind, now, settings)
    _supersede(session, customer, kind, now)
    change = ContactChange(
        customer_id=customer.id,
        kind=kind,
        old_value=values[0],
        new_value=values[1],
        secret_hash=secret_hash,
        created_at=now,
        expires_at=now + valid,
    )
    session.add(change)
    session.flush()
    return change


def request_email_change(
    session: so.Session,
    customer: PortalAccount,
    address: str,
    settings: OnboardingSettings,
    now: datetime | None = None,
) -> ContactChange:
    """Send a confirmation link to the new address; nothing changes until it is opened."""
    now = now or clock.now()
    try:
        new = normalize_email(address)
    except ContactError as error:  # core.contact's German message (umlauts explained)
        raise SelfServiceError(str(error), "email") from None
    if new == customer.email:
        raise SelfServiceError("Das ist bereits Ihre E-Mail-Adresse im Kunden-Portal.", "email")
    _lock_customer(session, customer)
    if session.scalar(sa.select(PortalAccount.id).where(PortalAccount.email == new, PortalAccount.id != customer.id)):
        raise SelfServiceError(
            "Diese E-Mail-Adresse gehört bereits zu einem anderen Zugang zum Kunden-Portal.", "email"
        )
    token = tokens.new_link_token()
    change = _open_request(
        session,
        customer,
        ContactKind.EMAIL,
        (customer.email, new),
        tokens.token_hash(token),
        timedelta(hours=settings.contact_link_hours),
        settings,
        now,
    )
    contract = newest_contract(session, customer)
    outbox.enqueue_email(
        session,
        key=f"email-change:{change.public_id}",
        to=new,
        subject="Bitte bestätigen Sie Ihre neue E-Mail-Adresse",
        template="email_change_confirm",
        context={"customer": customer, "token": token, "hours": settings.contact_link_hours},
        related=("contract", contract.public_id if contract else ""),
        agency_id=contract.agency_id if contract else None,
        sensitive=True,
    )
    record(session, "email_change_requested", customer)
    return change


@dataclass(frozen=True)
class Confirmation:
    """status: done, unknown, used, superseded, expired, taken (the address went to another
    account meanwhile)."""

    status: str
    customer: PortalAccount | None = None


def find_email_change(session: so.Session, token: str) -> ContactChange | None:
    return session.scalar(
        sa.select(ContactChange).where(
            ContactChange.secret_hash == tokens.token_hash(token), ContactChange.kind == ContactKind.EMAIL
        )
    )


def link_state(change: ContactChange | None, now: datetime) -> str:
    """unknown, used, superseded, expired or valid."""
    if change is None:
        return "unknown"
    if change.used_at is not None:
        return "used"
    if change.superseded_at is not None:
        return "superseded"
    return "expired" if change.expires_at <= now else "valid"


def confirm_email_change(
    session: so.Session,
    token: str,
    *,
    catalog: TariffCatalog,
    pdf_workers: int | None = None,
    now: datetime | None = None,
) -> Confirmation:
    """The link from the new address: used once (one atomic UPDATE claims it), within its time."""
    now = now or clock.now()
    change = find_email_change(session, token)
    if change is None:
        return Confirmation("unknown")
    claimed = session.execute(
        sa.update(ContactChange)
        .where(
            ContactChange.id == change.id,
            ContactChange.used_at.is_(None),
            ContactChange.superseded_at.is_(None),
            ContactChange.expires_at > now,
        )
        .values(used_at=now)
        .returning(ContactChange.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if claimed is None:
        session.refresh(change)
        return Confirmation(link_state(change, now))
    customer = session.get(PortalAccount, change.customer_id, with_for_update=True)
    assert customer is not None
    old = customer.email
    try:
        with session.begin_nested():
            customer.email = change.new_value
            session.flush()
    except sqlalchemy.exc.IntegrityError:
        session.refresh(customer)
        return Confirmation("taken")
    session.execute(
        sa.update(Contract)
        .where(Contract.customer_account_id == customer.id)
        .values(customer_email=change.new_value)
        .execution_options(synchronize_session=False)
    )
    _notice(session, customer, "E-Mail-Adresse", old, change.new_value, now, catalog, pdf_workers)
    contract = newest_contract(session, customer)
    outbox.enqueue_email(  # the old address is told: no takeover without the customer noticing
        session,
        key=f"email-changed:{change.public_id}",
        to=old,
        subject="Ihre E-Mail-Adresse im Kunden-Portal wurde geändert",
        template="email_changed_notice",
        context={"customer": customer, "new": mask_email(change.new_value), "at": now, "broker": _broker(contract)},
        related=("contract", contract.public_id if contract else ""),
        agency_id=contract.agency_id if contract else None,
    )
    record(session, "email_changed", customer)
    return Confirmation("done", customer)


def request_mobile_change(
    session: so.Session, customer: PortalAccount, number: str, settings: OnboardingSettings, now: datetime | None = None
) -> ContactChange:
    """Send an SMS code to the new number; nothing changes until it is typed in."""
    now = now or clock.now()
    try:
        new = german_mobile(number)
    except ContactError as error:
        raise SelfServiceError(str(error), "mobil") from None
    if new == current_mobile(session, customer):
        raise SelfServiceError("Das ist bereits Ihre Mobilnummer.", "mobil")
    _lock_customer(session, customer)
    code = tokens.new_sms_code(settings.code_length)
    change = _open_request(
        session,
        customer,
        ContactKind.MOBILE,
        (current_mobile(session, customer), new),
        _code_hmac(settings, customer, code),
        timedelta(minutes=settings.code_minutes),
        settings,
        now,
    )
    contract = newest_contract(session, customer)
    outbox.enqueue_sms(
        session,
        key=f"mobile-change:{change.public_id}",
        to=new,
        template="contact_code",
        subject="Bestätigungs-Code für Ihre neue Mobilnummer",
        context={"code": code, "minutes": settings.code_minutes},
        related=("contract", contract.public_id if contract else ""),
        agency_id=contract.agency_id if contract else None,
        sensitive=True,
    )
    record(session, "mobile_change_requested", customer)
    return change


def _code_hmac(settings: OnboardingSettings, customer: PortalAccount, code: str) -> str:
    return tokens.code_hmac(settings.secret_key, f"contact-code:{customer.id}", code)


def confirm_mobile_change(
    session: so.Session,
    customer: PortalAccount,
    code: str,
    settings: OnboardingSettings,
    *,
    catalog: TariffCatalog,
    pdf_workers: int | None = None,
    now: datetime | None = None,
) -> str:
    """The SMS code from the new phone. Each entry is counted before it is compared (one atomic
    UPDATE: of parallel entries at most code_max_attempts are ever evaluated). Returns the new
    number; SelfServiceError (field "code") for a wrong, used-up or expired code."""
    now = now or clock.now()
    change = pending(session, customer, ContactKind.MOBILE, now)
    if change is None:
        raise SelfServiceError(
            "Es gibt keinen gültigen Bestätigungs-Code. Bitte fordern Sie einen neuen Code an.", "code"
        )
    taken = take_attempt(session, ContactChange, change.id, settings.code_max_attempts, now)
    if taken is None:
        raise SelfServiceError(
            "Der Code wurde zu oft falsch eingegeben. Bitte fordern Sie einen neuen Code an.", "code"
        )
    typed = "".join(ch for ch in code if ch.isdigit())
    if not tokens.same(_code_hmac(settings, customer, typed), change.secret_hash):
        record(session, "contact_code_wrong", customer)
        left = settings.code_max_attempts - taken
        if left <= 0:
            raise SelfServiceError(
                "Der Code wurde zu oft falsch eingegeben. Bitte fordern Sie einen neuen Code an.", "code"
            )
        raise SelfServiceError(f"Der Code ist falsch. Noch {count(left, 'Versuch', 'Versuche')}.", "code")
    used = session.execute(
        sa.update(ContactChange)
        .where(ContactChange.id == change.id, ContactChange.used_at.is_(None))
        .values(used_at=now)
        .returning(ContactChange.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if used is None:  # a parallel entry of the same code was first
        raise SelfServiceError("Dieser Code wurde bereits verwendet.", "code")
    old = current_mobile(session, customer)
    session.execute(
        sa.update(Contract)
        .where(Contract.customer_account_id == customer.id)
        .values(customer_mobile=change.new_value)
        .execution_options(synchronize_session=False)
    )
    _notice(
        session,
        customer,
        "Mobilnummer",
        normalize_phone(old) if old else None,
        normalize_phone(change.new_value),
        now,
        catalog,
        pdf_workers,
    )
    contract = newest_contract(session, customer)
    related = ("contract", contract.public_id if contract else "")
    if old:  # the old number is told too
        outbox.enqueue_sms(
            session,
            key=f"mobile-changed:{change.public_id}",
            to=old,
            template="mobile_changed_notice",
            subject="Mobilnummer im Kunden-Portal geändert",
            context={},
            related=related,
            agency_id=contract.agency_id if contract else None,
        )
    outbox.enqueue_email(
        session,
        key=f"mobile-changed-mail:{change.public_id}",
        to=customer.email,
        subject="Ihre Mobilnummer im Kunden-Portal wurde geändert",
        template="mobile_changed_notice",
        context={"customer": customer, "new": mask_mobile(change.new_value), "at": now, "broker": _broker(contract)},
        related=related,
        agency_id=contract.agency_id if contract else None,
    )
    record(session, "mobile_changed", customer)
    return change.new_value


def _notice(
    session: so.Session,
    customer: PortalAccount,
    label: str,
    old: str | None,
    new: str,
    now: datetime,
    catalog: TariffCatalog,
    pdf_workers: int | None,
) -> None:
    """The confirmation of the change as a "Mitteilung" in his folder (on his newest contract)."""
    contract = newest_contract(session, customer)
    if contract is None:
        return
    issue_documents(
        session,
        [
            (
                contract,
                [
                    Planned(
                        DocumentKind.NOTICE,
                        f"Mitteilung {label} geändert",
                        {"label": label, "old": old or "–", "new": new, "at": now, "customer_email": customer.email},
                    )
                ],
            )
        ],
        catalog=catalog,
        workers=pdf_workers,
        announce=False,
    )


def _broker(contract: Contract | None) -> dict[str, str]:
    if contract is None or contract.owner is None:
        return {}
    owner = contract.owner
    return {"name": owner.full_name, "email": owner.email, "phone": getattr(owner, "phone", None) or ""}


def mask_email(address: str) -> str:
    """max.mustermann@example.org → m•••@example.org (said to the old address)."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"
