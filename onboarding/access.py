"""The access link's page and the activation: the link's state, the SMS code (limits under the link's
row lock), the attempts counted before the compare, the first password."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from contracts.jobs import request_current_policies
from contracts.models import Contract, Delivery
from core import clock, tokens
from core.passwords import PasswordRule, hash_password
from messaging import outbox
from onboarding import consent
from onboarding.invitations import letter_keys
from onboarding.models import (
    AccessCode,
    AccessLink,
    CodeChannel,
    ContactChange,
    PortalAccount,
)
from onboarding.settings import OnboardingSettings
from onboarding.trail import record_event

GENERIC_ACTIVATION_ERROR = "E-Mail-Adresse oder Zugangs-Code ungültig."
PASSWORDS_DIFFER = "Keine Übereinstimmung."
ALREADY_ACTIVATED = "Dieser Zugang wurde bereits aktiviert. Bitte melden Sie sich mit Ihrem Passwort an."


def find_link(session: so.Session, token: str) -> AccessLink | None:
    return session.scalar(sa.select(AccessLink).where(AccessLink.token_hash == tokens.token_hash(token)))


def link_state(link: AccessLink | None, now: datetime | None = None) -> str:
    """'valid', 'used', 'expired', 'revoked' or 'unknown'."""
    now = now or clock.now()
    if link is None:
        return "unknown"
    if link.used_at is not None:
        return "used"
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at <= now:
        return "expired"
    return "valid"


def open_link(session: so.Session, link: AccessLink) -> None:
    if link.opened_at is None:
        link.opened_at = clock.now()
        record_event(session, "access_link_opened", session.get(Contract, link.contract_id), link.customer.email)


def current_code(session: so.Session, link: AccessLink) -> AccessCode | None:
    return session.scalar(
        sa.select(AccessCode)
        .where(AccessCode.link_id == link.id, AccessCode.superseded_at.is_(None), AccessCode.used_at.is_(None))
        .order_by(AccessCode.created_at.desc(), AccessCode.id.desc())
        .execution_options(populate_existing=True)
    )


def code_is_usable(code: AccessCode | None, now: datetime, settings: OnboardingSettings) -> bool:
    max_attempts = settings.max_attempts(code is not None and code.channel is CodeChannel.LETTER)
    return code is not None and code.expires_at > now and code.failed_attempts < max_attempts


def lock_link(session: so.Session, link: AccessLink) -> None:
    """Lock the link's row (and reload it): every code send and activation of one link runs one
    after the other, always taking the link before its codes (no deadlocks)."""
    session.execute(
        sa.select(AccessLink)
        .where(AccessLink.id == link.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


@dataclass
class SendResult:
    status: str  # "sent", "active" (a usable code was sent before), "wait", "limit", "letter"
    wait_seconds: int = 0


def send_sms_code(session: so.Session, link: AccessLink, *, resend: bool, settings: OnboardingSettings) -> SendResult:
    """Send the 6-digit code to the number on file. Opening the page sends one unless a usable one
    is out already; 'Code erneut senden' at most every 60 s and 5 times a day per link.

    The link's row is locked first (SELECT … FOR UPDATE; SQLite serialises writers anyway), so
    parallel requests for one link are decided one after the other on committed data: the limits
    hold however many requests arrive at once."""
    if link.code_channel is CodeChannel.LETTER:
        return SendResult("letter")
    lock_link(session, link)
    now = clock.now()
    current = current_code(session, link)
    if not resend and code_is_usable(current, now, settings):
        return SendResult("active")
    last = session.scalar(sa.select(sa.func.max(AccessCode.created_at)).where(AccessCode.link_id == link.id))
    if last is not None:
        last = last if last.tzinfo else last.replace(tzinfo=now.tzinfo)
        wait = settings.resend_seconds - (now - last).total_seconds()
        if wait > 0:
            return SendResult("wait", math.ceil(wait))
    sent_today = (
        session.scalar(
            sa.select(sa.func.count()).where(
                AccessCode.link_id == link.id, AccessCode.created_at > now - timedelta(days=1)
            )
        )
        or 0
    )
    if sent_today >= settings.max_sends_per_day:
        return SendResult("limit")
    if current is not None:
        current.superseded_at = now  # a new code ends the old one
    code = tokens.new_sms_code(settings.code_length)
    record = AccessCode(
        link_id=link.id,
        channel=CodeChannel.SMS,
        created_at=now,
        code_hmac=tokens.code_hmac(settings.secret_key, "access-code", code),
        expires_at=now + timedelta(minutes=settings.code_minutes),
    )
    session.add(record)
    session.flush()
    contract = session.get(Contract, link.contract_id)
    assert link.mobile is not None
    outbox.enqueue_sms(
        session,
        key=f"access-code:{record.id}",
        to=link.mobile,
        template="access_code",
        subject="Zugangs-Code für das Kunden-Portal",
        context={"code": code, "minutes": settings.code_minutes},
        related=("contract", contract.public_id if contract else ""),
        agency_id=contract.agency_id if contract else None,
        sensitive=True,
    )
    record_event(session, "access_code_sent", contract, link.customer.email, channel="sms")
    if contract is not None and contract.onboarding_state != "active":
        contract.onboarding_state = "code_sent"
    return SendResult("sent")


# --- activation ------------------------------------------------------------------------------------------


@dataclass
class Activation:
    customer: PortalAccount | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    message: str | None = None  # for the whole form


def check_new_password(email: str, password: str, repeated: str, rule: PasswordRule) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    problems = rule.problems(password, email)
    if problems:
        errors["passwort"] = problems
    if password != repeated:
        errors["passwort2"] = [PASSWORDS_DIFFER]
    return errors


def take_attempt(
    session: so.Session, model: type[AccessCode] | type[ContactChange], row_id: int, max_attempts: int, now: datetime
) -> int | None:
    """Count one entry against a code (an access code, a contact change's code) before it is
    compared, in one atomic statement: of any number of parallel entries at most max_attempts are
    ever evaluated. None: no attempt left (or the code was used, replaced or expired meanwhile)."""
    taken: int | None = session.execute(
        sa.update(model)
        .where(
            model.id == row_id,
            model.failed_attempts < max_attempts,
            model.used_at.is_(None),
            model.superseded_at.is_(None),
            model.expires_at > now,
        )
        .values(failed_attempts=model.failed_attempts + 1)
        .returning(model.failed_attempts)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return taken


def activate(
    session: so.Session,
    link: AccessLink,
    email: str,
    code: str,
    password: str,
    repeated: str,
    settings: OnboardingSettings,
    *,
    consented: bool = False,
) -> Activation:
    """E-mail + code, then the first password (`consented`: he agreed to the portal's current texts on
    this page). Every comparison of a code is counted first (an atomic UPDATE … WHERE failed_attempts
    < limit), a matching code is taken back from the count and marked used, and the link is used up by
    a guarded UPDATE: of parallel activations exactly one sets the password. A self-registered
    customer's contract switches to portal delivery only now. The caller commits, also when
    activation failed (wrong entries count)."""
    lock_link(session, link)
    if link.used_at is not None:
        return Activation(message=ALREADY_ACTIVATED)
    now = clock.now()
    contract = session.get(Contract, link.contract_id)
    customer = link.customer
    current = current_code(session, link)
    letter = link.code_channel is CodeChannel.LETTER
    if current is None:
        return Activation(message="Bitte fordern Sie zuerst einen Zugangs-Code an.")
    max_attempts = settings.max_attempts(letter)
    if current.failed_attempts >= max_attempts:
        return Activation(message=_dead_code_message(link, "Zu viele Fehleingaben."))
    if current.expires_at <= now:
        return Activation(message=_dead_code_message(link, "Der Zugangs-Code ist abgelaufen."))
    # the password rule needs no secret: check it before an attempt is spent on the code
    errors = check_new_password(customer.email, password, repeated, settings.password)
    if errors:
        return Activation(errors=errors)
    attempt = take_attempt(session, AccessCode, current.id, max_attempts, now)
    if attempt is None:
        return Activation(message=_dead_code_message(link, "Zu viele Fehleingaben."))
    typed = tokens.normalize_code(code)
    matches = tokens.same(tokens.code_hmac(settings.secret_key, "access-code", typed), current.code_hmac)
    if email.strip().lower() != customer.email or not matches:
        record_event(session, "access_code_wrong", contract, customer.email, attempt=attempt)
        if attempt >= max_attempts:
            return Activation(message=_dead_code_message(link, "Zu viele Fehleingaben."))
        return Activation(errors={"zugangscode": [GENERIC_ACTIVATION_ERROR]})
    used = session.execute(
        sa.update(AccessLink)
        .where(AccessLink.id == link.id, AccessLink.used_at.is_(None), AccessLink.revoked_at.is_(None))
        .values(used_at=now)
        .returning(AccessLink.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if used is None:  # a parallel activation of this link came first
        return Activation(message=ALREADY_ACTIVATED)
    session.execute(
        sa.update(AccessCode)
        .where(AccessCode.id == current.id)
        .values(used_at=now, failed_attempts=AccessCode.failed_attempts - 1)  # the right code is no failure
        .execution_options(synchronize_session=False)
    )
    session.refresh(link)
    session.refresh(current)
    if letter:  # the code is used: its letters need not stay
        outbox.redact_letter(session, *letter_keys(session, link))
    customer.password_hash = hash_password(password)
    customer.activated_at = now
    customer.last_login_at = now
    if consented:
        consent.record_current(session, customer, "activation", settings)
    if link.self_registered and contract is not None:  # seed 002: portal delivery from the activation on
        contract.customer_account_id = customer.id
        contract.customer_email = customer.email
        contract.delivery = Delivery.PORTAL
        session.flush()
        request_current_policies(session, contract.agency_id, [contract.number or ""])
        record_event(session, "contract_switched_to_portal", contract, customer.email, self_registered=True)
    others = session.scalars(  # every portal contract of the customer is now in his portal
        sa.update(Contract)
        .where(
            Contract.customer_account_id == customer.id,
            Contract.delivery == Delivery.PORTAL,
            Contract.onboarding_state != "active",
        )
        .values(onboarding_state="active", onboarding_expires_at=None)
        .returning(Contract.id)
        .execution_options(synchronize_session="fetch")
    ).all()
    record_event(session, "portal_activated", contract, customer.email)
    # each of his other contracts enters the portal too: its own entry, so the agency's figures
    # (agency.share) can tell from the audit trail since when every contract is digital
    for other in session.scalars(sa.select(Contract).where(Contract.id.in_(others), Contract.id != link.contract_id)):
        record_event(session, "contract_in_portal", other, customer.email)
    return Activation(customer=customer)


def _dead_code_message(link: AccessLink, why: str) -> str:
    if link.self_registered:
        return f"{why} Mit „Neuen Code anfordern“ senden wir Ihnen einen neuen Brief mit Zugangs-Code."
    if link.code_channel is CodeChannel.LETTER:
        return f"{why} Bitte wenden Sie sich an Ihren Vermittler: er veranlasst einen neuen Brief mit Zugangs-Code."
    return f"{why} Bitte fordern Sie mit „Code erneut senden“ einen neuen Zugangs-Code an."
