"""Self-registration (issue #29, seed 002): a customer who holds a contract opens the portal himself.

1. "Jetzt registrieren" (`request_registration`): Versicherungsscheinnummer, the policyholder's birth
   date, the e-mail address, the consent. The web request counts the attempt per contract number and
   per e-mail address (core.throttle, under a row lock) and records the request — the same statements
   whether or not a contract matches, so neither the answer nor its timing tells.
2. The worker (`process_registrations`) matches it under the contract's row lock and says what happened
   by e-mail only: a match gets the confirmation link (valid REGISTRATION_CONFIRM_HOURS); an address
   already used by another customer's access gets seed 002's rule; a contract with an access already
   (active or on its way) gets a hint to log in or reset the password; no match gets nothing.
3. The link's page (`confirm`): the e-mail address is confirmed once (a guarded UPDATE: of any number of
   clicks one sends the letter), the initial access code goes by letter to the contract's postal
   address (LETTER_CODE_DAYS), and the link now serves the letter-code activation (onboarding.access).
   The contract switches to portal delivery at the activation only.
4. A code expired or used up: `new_letter_code` ("Neuen Code anfordern"), REGISTRATION_LETTERS_PER_30_DAYS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator.forms.fields import parse_german_date
from contracts.models import Contract, Delivery
from core import clock, leases, throttle, tokens
from messaging import outbox
from onboarding import consent, progress
from onboarding.access import code_is_usable, current_code, lock_link
from onboarding.invitations import customer_for, letter_keys, send_letter_code
from onboarding.models import AccessCode, AccessLink, CodeChannel, PortalAccount, RegistrationRequest
from onboarding.settings import OnboardingSettings
from onboarding.trail import record_event

REGISTERED_ANSWER = (
    "Vielen Dank. Wenn Ihre Angaben zu einem Vertrag passen, erhalten Sie in wenigen Minuten eine E-Mail an die "
    "angegebene Adresse. Bitte bestätigen Sie darin Ihre E-Mail-Adresse innerhalb von {hours} Stunden."
)
LIMIT_WINDOW = timedelta(hours=24)
LIMIT_BASE_SECONDS = 60
LIMIT_MAX_SECONDS = 3600
SELF_STATES = ("self_sent", "self_code")  # contract.onboarding_state while a self-registration is open
LETTER_WAIT_DAYS = 7  # a code letter not arrived after this long may be asked for again


def wait_message(seconds: int) -> str:
    return (
        "Mit diesen Angaben wurde heute schon mehrmals registriert. Bitte warten Sie "
        f"{throttle.minutes(seconds)} und versuchen Sie es dann erneut."
    )


def normalize_number(text: str) -> str:
    return "".join(text.split()).upper()


def policies(settings: OnboardingSettings, number: str, email: str) -> dict[str, throttle.Policy]:
    """Registrations per contract number and per e-mail address: the first free, then a growing wait
    (a minute, doubling, at most an hour) within a day — keyed by what was typed, matched or not."""
    return {
        "registration-contract:" + normalize_number(number)[:200]: throttle.Policy(
            settings.registration_free_per_contract, LIMIT_BASE_SECONDS, LIMIT_MAX_SECONDS, LIMIT_WINDOW
        ),
        "registration-email:" + email.strip().lower()[:254]: throttle.Policy(
            settings.registration_free_per_email, LIMIT_BASE_SECONDS, LIMIT_MAX_SECONDS, LIMIT_WINDOW
        ),
    }


def request_registration(
    session: so.Session,
    number: str,
    birth_date: date,
    email: str,
    client_address: str | None,
    settings: OnboardingSettings,
) -> int:
    """Count the attempt and record the request; 0, or the seconds to wait (nothing recorded). No
    lookup of contracts or customers: the same statements for every input. The caller commits."""
    wait = throttle.claim(session, policies(settings, number, email))
    if wait:
        return wait
    session.add(
        RegistrationRequest(
            contract_number=normalize_number(number)[:40],
            birth_date=birth_date,
            email=email.strip().lower(),
            terms_version=settings.terms_version,
            privacy_version=settings.privacy_version,
            client_address=(client_address or "")[:45] or None,
        )
    )
    session.flush()
    return 0


def process_registrations(session: so.Session, settings: OnboardingSettings, limit: int = 50) -> int:
    """Worker task: claim open requests (SKIP LOCKED) and answer each in the claim's transaction — a
    worker killed half-way leaves them to the next one, nothing is sent twice."""
    ids = leases.claim(
        session,
        RegistrationRequest,
        due=RegistrationRequest.processed_at.is_(None),
        order_by=(RegistrationRequest.id,),
        limit=limit,
        values={"processed_at": clock.now()},
        commit=False,
    )
    # in the contracts' order: every worker takes the contracts' row locks in one order (no deadlock
    # between two workers whose claims hold registrations of the same two contracts)
    requests = session.scalars(
        sa.select(RegistrationRequest)
        .where(RegistrationRequest.id.in_(ids))
        .order_by(RegistrationRequest.contract_number, RegistrationRequest.id)
    ).all()
    for request in requests:
        request.outcome = _answer(session, request, settings)
    session.commit()
    return len(ids)


def _born_on(contract: Contract, day: date) -> bool:
    return parse_german_date((contract.customer or {}).get("birth_date") or "") == day


def _same_person(session: so.Session, account: PortalAccount, contract: Contract) -> bool:
    """The account is this policyholder's own: it was invited or registered for this contract before,
    or its contracts are his (same name and birth date)."""
    if session.scalar(
        sa.select(AccessLink.id).where(AccessLink.customer_id == account.id, AccessLink.contract_id == contract.id)
    ):
        return True
    born = parse_german_date((contract.customer or {}).get("birth_date") or "")
    name = " ".join(contract.customer_name.lower().split())
    return born is not None and any(
        " ".join(other.customer_name.lower().split()) == name and _born_on(other, born)
        for other in session.scalars(sa.select(Contract).where(Contract.customer_account_id == account.id))
    )


def _answer(session: so.Session, request: RegistrationRequest, settings: OnboardingSettings) -> str:
    contract = session.scalar(
        sa.select(Contract)
        .where(Contract.number == request.contract_number)
        .with_for_update()  # one registration of a contract at a time: the resend rule holds between workers
        .execution_options(populate_existing=True)
    )
    today = clock.today()
    ended = contract is not None and contract.ends_on is not None and contract.ends_on < today
    if contract is None or ended or not _born_on(contract, request.birth_date):
        return "no_match"
    owner = session.get(PortalAccount, contract.customer_account_id) if contract.customer_account_id else None
    if contract.delivery is Delivery.PORTAL or (owner is not None and owner.activated_at is not None):
        _mail(session, request, contract, "registration_existing_access", "Ihr Zugang zum Kunden-Portal")
        record_event(session, "self_registration_refused", contract, request.email, reason="access_exists")
        return "already_active"
    account = session.scalar(sa.select(PortalAccount).where(PortalAccount.email == request.email))
    someone_else = account is not None and account.id != contract.customer_account_id
    if account is not None and someone_else and not _same_person(session, account, contract):
        _mail(session, request, contract, "registration_address_taken", "Ihre Registrierung für das Kunden-Portal")
        record_event(session, "self_registration_refused", contract, request.email, reason="address_taken")
        return "address_taken"
    now = clock.now()
    recent = session.scalar(
        sa.select(AccessLink.id)
        .join(PortalAccount, PortalAccount.id == AccessLink.customer_id)
        .where(
            AccessLink.contract_id == contract.id,
            AccessLink.self_registered.is_(True),
            AccessLink.confirmed_at.is_(None),
            AccessLink.revoked_at.is_(None),
            AccessLink.created_at > now - timedelta(minutes=settings.registration_resend_minutes),
            PortalAccount.email == request.email,
        )
    )
    if recent is not None:  # the same form sent again: one confirmation e-mail
        return "repeated"
    customer = account or customer_for(session, request.email, contract.customer_name)
    consent.record(
        session,
        customer,
        "registration",
        terms_version=request.terms_version,
        privacy_version=request.privacy_version,
    )
    revoked = session.scalars(  # an earlier open self-registration of this contract ends …
        sa.update(AccessLink)
        .where(
            AccessLink.contract_id == contract.id,
            AccessLink.self_registered.is_(True),
            AccessLink.used_at.is_(None),
            AccessLink.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .returning(AccessLink.id)
        .execution_options(synchronize_session=False)
    ).all()
    for old in session.scalars(sa.select(AccessLink).where(AccessLink.id.in_(revoked))):
        outbox.redact_letter(session, *letter_keys(session, old))  # … and its code letters are worthless
    progress.changed(session, [contract.id])  # a set-based change of its links: the read model follows
    token = tokens.new_link_token()
    link = AccessLink(
        token_hash=tokens.token_hash(token),
        customer_id=customer.id,
        contract_id=contract.id,
        code_channel=CodeChannel.LETTER,
        created_at=now,
        expires_at=now + timedelta(hours=settings.registration_hours),
        self_registered=True,
        registration_id=request.id,
    )
    session.add(link)
    session.flush()
    outbox.enqueue_email(
        session,
        key=f"registration-confirm:{link.public_id}",
        to=request.email,
        subject="Bitte bestätigen Sie Ihre E-Mail-Adresse",
        template="registration_confirm",
        context={"token": token, "hours": settings.registration_hours, "number": contract.number},
        related=("contract", contract.public_id),
        agency_id=contract.agency_id,
        sensitive=True,
    )
    contract.onboarding_state, contract.onboarding_expires_at = "self_sent", link.expires_at
    record_event(session, "self_registration_sent", contract, request.email)
    return "confirmation"


def _mail(session: so.Session, request: RegistrationRequest, contract: Contract, template: str, subject: str) -> None:
    outbox.enqueue_email(
        session,
        key=f"registration:{request.id}",
        to=request.email,
        subject=subject,
        template=template,
        context={"number": contract.number},
        related=("contract", contract.public_id),
        agency_id=contract.agency_id,
    )


@dataclass(frozen=True)
class Confirmation:
    status: str  # "confirmed" (the letter goes out now), "already" (confirmed before: nothing new)
    link: AccessLink


def confirm(session: so.Session, link: AccessLink, settings: OnboardingSettings) -> Confirmation:
    """Confirm the e-mail address of a self-registration: one guarded UPDATE, so of any number of
    clicks (parallel or not) exactly one sends the code letter; the link then lives as long as an
    access link does (ACCESS_LINK_DAYS), for the activation with the letter's code. The caller commits."""
    now = clock.now()
    done = session.execute(
        sa.update(AccessLink)
        .where(
            AccessLink.id == link.id,
            AccessLink.self_registered.is_(True),
            AccessLink.confirmed_at.is_(None),
            AccessLink.revoked_at.is_(None),
            AccessLink.used_at.is_(None),
            AccessLink.expires_at > now,
        )
        .values(confirmed_at=now, expires_at=now + timedelta(days=settings.link_days))
        .returning(AccessLink.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    session.refresh(link)
    if done is None:
        return Confirmation("already", link)
    progress.changed(session, [link.contract_id])
    contract = session.get(Contract, link.contract_id)
    assert contract is not None
    record_event(session, "self_registration_confirmed", contract, link.customer.email)
    send_letter_code(session, link, link.customer, contract, settings)
    contract.onboarding_state, contract.onboarding_expires_at = "self_code", link.expires_at
    return Confirmation("confirmed", link)


def letters_left(session: so.Session, link: AccessLink, settings: OnboardingSettings, now: datetime) -> int:
    sent = session.scalar(
        sa.select(sa.func.count(AccessCode.id))
        .join(AccessLink, AccessLink.id == AccessCode.link_id)
        .where(
            AccessLink.contract_id == link.contract_id,
            AccessCode.channel == CodeChannel.LETTER,
            AccessCode.created_at > now - timedelta(days=30),
        )
    )
    return max(settings.registration_letters_per_30_days - (sent or 0), 0)


def code_usable(session: so.Session, link: AccessLink, settings: OnboardingSettings) -> bool:
    return code_is_usable(current_code(session, link), clock.now(), settings)


def new_letter_code(session: so.Session, link: AccessLink, settings: OnboardingSettings) -> str:
    """ "Neuen Code anfordern" of a confirmed self-registration whose code expired, was used up or
    whose letter did not arrive within LETTER_WAIT_DAYS:
    a new code by letter (the old one ends), at most REGISTRATION_LETTERS_PER_30_DAYS letters per
    contract — counted under the link's row lock. Returns "sent", "usable" (the code still works:
    nothing sent) or "limit". The caller commits."""
    lock_link(session, link)
    now = clock.now()
    current = current_code(session, link)
    waiting = current is not None and current.created_at > now - timedelta(days=LETTER_WAIT_DAYS)
    if code_is_usable(current, now, settings) and waiting:  # a letter on its way: a second would cross it
        return "usable"
    if letters_left(session, link, settings, now) == 0:
        return "limit"
    session.execute(
        sa.update(AccessCode)
        .where(AccessCode.link_id == link.id, AccessCode.superseded_at.is_(None), AccessCode.used_at.is_(None))
        .values(superseded_at=now)
        .execution_options(synchronize_session=False)
    )
    outbox.redact_letter(session, *letter_keys(session, link))  # the old code's letters are worthless now
    contract = session.get(Contract, link.contract_id)
    assert contract is not None
    send_letter_code(session, link, link.customer, contract, settings, again=True)
    contract.onboarding_state = "self_code"
    return "sent"


def end_expired(session: so.Session, limit: int = 50) -> int:
    """Worker task: a self-registration whose link ended unused leaves the contract as it was (post
    delivery): its state goes back to "post". Claimed with SKIP LOCKED."""
    contracts = list(
        session.scalars(
            sa.select(Contract)
            .where(Contract.onboarding_state.in_(SELF_STATES), Contract.onboarding_expires_at < clock.now())
            .order_by(Contract.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for contract in contracts:
        contract.onboarding_state, contract.onboarding_expires_at = "post", None
        record_event(session, "self_registration_expired", contract, "System")
    session.commit()
    return len(contracts)
