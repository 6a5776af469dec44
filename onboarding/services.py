"""Onboarding use cases: invite (link e-mail), send the access code, activate, log in, reset."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import phonenumbers
import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator.tariffs import TariffCatalog
from contracts.models import Contract, Delivery, Document
from contracts.presentation import policy_scope
from contracts.services import send_by_post_from_now_on
from core import audit, clock, leases, sessions, throttle, tokens
from core.contact import EmailAddress
from core.db import new_public_id, table
from core.formatting import TIMEZONE
from core.passwords import PasswordRule, hash_password, needs_rehash, verify_password
from messaging import outbox
from messaging.models import State
from onboarding.models import (
    AccessCode,
    AccessLink,
    CodeChannel,
    ContactChange,
    Customer,
    OnboardingStart,
    PasswordReset,
    PasswordResetRequest,
)
from onboarding.settings import OnboardingSettings
from onboarding.settings import current as current_settings

GENERIC_ACTIVATION_ERROR = "E-Mail-Adresse oder Zugangs-Code ungültig."
PASSWORDS_DIFFER = "Keine Übereinstimmung."
ALREADY_ACTIVATED = "Dieser Zugang wurde bereits aktiviert. Bitte melden Sie sich mit Ihrem Passwort an."


def _record(session: so.Session, action: str, contract: Contract | None, who: str, **details: Any) -> None:
    """Onboarding events land on the contract's audit trail (seen by its broker and the back office)."""
    audit.record(
        session,
        action,
        actor_label=who,
        agency_id=contract.agency_id if contract else None,
        object_type="contract" if contract else None,
        object_id=contract.public_id if contract else None,
        details=details,
    )


def mask_mobile(e164: str | None) -> str:
    """+4915112345678 → '+49 151 •••• 678'."""
    if not e164:
        return ""
    parsed = phonenumbers.parse(e164, None)
    national = str(parsed.national_number)
    return f"+{parsed.country_code} {national[:3]} •••• {national[-3:]}"


# --- invitation ----------------------------------------------------------------------------------------


def _customer_for(session: so.Session, email: str, name: str) -> Customer:
    customer = session.scalar(sa.select(Customer).where(Customer.email == email.lower()))
    if customer is None:
        customer = Customer(email=email.lower(), full_name=name)
        session.add(customer)
        session.flush()
    return customer


def process_start(session: so.Session, start: OnboardingStart, settings: OnboardingSettings) -> AccessLink | None:
    """Act on an onboarding start: the customer account, a new access link (older open ones are
    revoked) and its e-mail; by letter channel also the access code letter. An active customer is
    not onboarded again: his new contract simply appears in his portal."""
    contract = session.get(Contract, start.contract_id)
    assert contract is not None
    customer = _customer_for(session, start.email, contract.customer_name)
    contract.customer_account_id = customer.id
    start.processed_at = clock.now()
    if customer.activated_at is not None:  # his new contract appears in his portal
        contract.onboarding_state, contract.onboarding_expires_at = "active", None
        _record(session, "contract_in_portal", contract, "System")
        if contract.documents:  # a policed contract's are there now (a switched one's come later)
            announce_new_documents(session, customer, contract, settings)
        return None
    return invite(session, customer, contract, channel=start.code_channel, mobile=start.mobile, settings=settings)


def request_onboarding(
    session: so.Session,
    *,
    contract_id: int,
    email: str,
    mobile: str | None,
    channel: CodeChannel,
    settings: OnboardingSettings,
) -> OnboardingStart:
    """Record that this contract's customer is to be onboarded and act on it at once, in the caller's
    transaction: the customer account, the access link and its e-mail (through the outbox)."""
    start = OnboardingStart(contract_id=contract_id, email=email, mobile=mobile, code_channel=channel)
    session.add(start)
    session.flush()
    process_start(session, start, settings)
    return start


def on_contract_policed(contract: Contract, *, session: so.Session) -> None:
    """contracts.signals.contract_policed: a new contract with portal delivery starts the onboarding
    of its customer by SMS code — by letter for an existing customer (in the policing transaction)."""
    if contract.delivery is not Delivery.PORTAL:
        return
    assert contract.customer_email is not None
    existing = contract.client_id is not None and session.scalar(
        sa.select(Contract.id).where(Contract.client_id == contract.client_id, Contract.id != contract.id).limit(1)
    )
    request_onboarding(
        session,
        contract_id=contract.id,
        email=contract.customer_email,
        mobile=contract.customer_mobile,
        # an existing customer (the Kunde has a contract already) gets his access code by letter;
        # one whose portal is active is not onboarded again at all (process_start)
        channel=CodeChannel.LETTER if existing else CodeChannel.SMS,
        settings=current_settings(),  # the receiver is an edge: the app's settings, passed on
    )


def on_document_added(document: Document, *, session: so.Session, contract: Contract) -> None:
    """contracts.signals.document_added: an activated portal customer is told by e-mail that new
    documents wait in his portal (unread there until he opens them). A customer whose invitation is
    still open is not invited again: the document waits for his activation (or, once his link ends
    unused, for the post fallback, post_expired_invitations) — a new link would end the one he holds
    and a new code letter the one in his letterbox (issue #26 item 26: a renewal did that to a
    customer invited the day before)."""
    if contract.delivery is not Delivery.PORTAL or contract.customer_account_id is None:
        return
    customer = session.get(Customer, contract.customer_account_id)
    if customer is not None and customer.activated_at is not None:
        announce_new_documents(session, customer, contract, current_settings())


def announce_new_documents(
    session: so.Session, customer: Customer, contract: Contract, settings: OnboardingSettings
) -> None:
    """The e-mail "Neue Dokumente in Ihrem Kunden-Portal" (a link to the login, no attachment, no
    contract details): one per customer and day, sent settings.new_documents_delay_minutes after
    the first new document, so the documents of one policing, change or renewal share it. A document
    that comes after the day's e-mail went out is announced the next morning. The customer's row is
    locked while deciding, so parallel documents cannot send two e-mails."""
    session.execute(sa.select(Customer.id).where(Customer.id == customer.id).with_for_update())
    now = clock.now()
    today = now.astimezone(TIMEZONE).date()
    key = f"new-documents:{customer.public_id}:{today.isoformat()}"
    state = outbox.state_of(session, key)
    if state is State.PENDING:
        return  # today's e-mail has not gone out yet: it covers this document too
    send_after = now + timedelta(minutes=settings.new_documents_delay_minutes)
    if state is not None:  # today's went out already: tomorrow morning's
        tomorrow = today + timedelta(days=1)
        key = f"new-documents:{customer.public_id}:{tomorrow.isoformat()}"
        if outbox.state_of(session, key) is not None:
            return
        morning = datetime.combine(tomorrow, time(settings.new_documents_morning_hour), tzinfo=TIMEZONE)
        send_after = morning.astimezone(UTC)
    outbox.enqueue(
        session,
        outbox.email(
            key=key,
            to=customer.email,
            subject="Neue Dokumente in Ihrem Kunden-Portal",
            template="new_documents",
            context={"customer": customer, "contract": contract},
            related=("contract", contract.public_id),
            agency_id=contract.agency_id,
            send_after=send_after,
        ),
    )


def post_expired_invitations(session: so.Session, limit: int = 50) -> int:
    """Worker task: portal contracts whose invitation expired unused go to post delivery, with their
    documents by letter (contracts.services.send_by_post_from_now_on). Claimed with SKIP LOCKED, so
    several workers share the work and none does a contract twice; returns how many it handled."""
    now = clock.now()
    contracts = list(
        session.scalars(
            sa.select(Contract)
            .where(
                Contract.delivery == Delivery.PORTAL,
                Contract.onboarding_state.in_(("link_sent", "code_sent")),
                Contract.onboarding_expires_at < now,
            )
            .order_by(Contract.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for contract in contracts:
        customer = session.get(Customer, contract.customer_account_id) if contract.customer_account_id else None
        if customer is not None and customer.activated_at is not None:
            contract.onboarding_state, contract.onboarding_expires_at = "active", None  # activated by another link
            _record(session, "contract_in_portal", contract, "System")
            continue
        send_by_post_from_now_on(session, contract)
    session.commit()
    return len(contracts)


def invite(
    session: so.Session,
    customer: Customer,
    contract: Contract,
    *,
    channel: CodeChannel,
    mobile: str | None,
    settings: OnboardingSettings,
) -> AccessLink:
    """A new access link for the customer (earlier open links die) and the e-mail carrying it."""
    now = clock.now()
    revoked = session.scalars(
        sa.update(AccessLink)
        .where(AccessLink.customer_id == customer.id, AccessLink.used_at.is_(None), AccessLink.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(AccessLink.public_id)
        .execution_options(synchronize_session=False)
    ).all()
    for public_id in revoked:  # their code letters are worthless now
        outbox.redact_letter(session, _letter_key(public_id))
    token = tokens.new_link_token()
    link = AccessLink(
        token_hash=tokens.token_hash(token),
        customer_id=customer.id,
        contract_id=contract.id,
        code_channel=channel,
        mobile=mobile,
        created_at=now,
        expires_at=now + timedelta(days=settings.link_days),
    )
    session.add(link)
    session.flush()
    outbox.enqueue(
        session, _link_email(link.public_id, customer.email, customer.full_name, contract, token, channel, settings)
    )
    _record(session, "access_link_sent", contract, "System", channel=channel.value)
    contract.onboarding_state = "link_sent"
    contract.onboarding_expires_at = link.expires_at
    if channel is CodeChannel.LETTER:
        _send_letter_code(session, link, customer, contract, settings)
    return link


def end_invitations(session: so.Session, contract: Contract) -> int:
    """The contract goes back to post delivery: its open access links end (a customer must not
    activate the portal for a contract that is no longer delivered there) and their code letters
    are redacted. Returns how many links ended."""
    revoked = session.scalars(
        sa.update(AccessLink)
        .where(AccessLink.contract_id == contract.id, AccessLink.used_at.is_(None), AccessLink.revoked_at.is_(None))
        .values(revoked_at=clock.now())
        .returning(AccessLink.public_id)
        .execution_options(synchronize_session=False)
    ).all()
    outbox.redact_letter(session, *(_letter_key(p) for p in revoked))
    return len(revoked)


def invite_existing_customer(
    session: so.Session, contract: Contract, email: str, settings: OnboardingSettings
) -> AccessLink | None:
    """Existing customers (Bestandskunden): the e-mail with the link, the access code by letter."""
    start = OnboardingStart(contract_id=contract.id, email=email, mobile=None, code_channel=CodeChannel.LETTER)
    session.add(start)
    return process_start(session, start, settings)


@dataclass(frozen=True)
class Invitation:
    """One contract of a bulk invitation and the e-mail address its customer is invited at."""

    contract: Contract
    email: EmailAddress  # checked (core.contact.normalize_email)


def invite_existing_customers(
    session: so.Session, invitations: list[Invitation], settings: OnboardingSettings
) -> dict[int, str]:
    """invite_existing_customer for many contracts at once, set-based (a bulk switch): the same rows
    as one by one — onboarding start, customer account, link (older open links revoked, their code
    letters redacted), code, link e-mail, code letter, audit entries, the contract's state — written
    with one statement per table. Returns per contract id "invited", "active" (customer already in the
    portal) or the German reason a message could not be built (nothing written for that contract).

    The e-mail addresses must be distinct (two contracts of one customer: call invite_existing_customer
    for the second, so the rule "a new link revokes the older ones" holds between them); a customer
    created by another transaction meanwhile raises IntegrityError: the caller rolls back and goes
    one by one."""
    emails = [i.email.lower() for i in invitations]
    if len(set(emails)) != len(emails):
        raise ValueError("invite_existing_customers needs distinct e-mail addresses")
    if not invitations:
        return {}
    now = clock.now()
    known = {
        row.email: row
        for row in session.execute(
            sa.select(Customer.id, Customer.email, Customer.full_name, Customer.activated_at).where(
                Customer.email.in_(emails)
            )
        )
    }
    outcome: dict[int, str] = {}
    links: list[tuple[str, dict[str, Any]]] = []  # (customer e-mail, row)
    codes: list[tuple[str, dict[str, Any]]] = []  # (link public id, row)
    drafts: list[outbox.Draft] = []
    events: list[dict[str, Any]] = []
    invited: list[Invitation] = []
    for item, email in zip(invitations, emails, strict=True):
        contract, found = item.contract, known.get(email)
        if found is not None and found.activated_at is not None:
            outcome[contract.id] = "active"
            events.append(_event("contract_in_portal", contract, now))
            continue
        name = found.full_name if found is not None else contract.customer_name
        token, code = tokens.new_link_token(), tokens.new_letter_code(settings.letter_code_length)
        link_public_id = new_public_id()
        code_expires = now + timedelta(days=settings.letter_code_days)
        try:
            mail = _link_email(link_public_id, email, name, contract, token, CodeChannel.LETTER, settings)
            letter = _code_letter(link_public_id, contract, code, email, code_expires, settings)
        except outbox.MessageError as error:
            outcome[contract.id] = str(error)
            continue
        drafts += [mail, letter]
        links.append(
            (
                email,
                {
                    "public_id": link_public_id,
                    "token_hash": tokens.token_hash(token),
                    "contract_id": contract.id,
                    "code_channel": CodeChannel.LETTER,
                    "mobile": None,
                    "created_at": now,
                    "expires_at": now + timedelta(days=settings.link_days),
                },
            )
        )
        codes.append(
            (
                link_public_id,
                {
                    "channel": CodeChannel.LETTER,
                    "created_at": now,
                    "code_hmac": tokens.code_hmac(settings.secret_key, "access-code", code),
                    "expires_at": code_expires,
                },
            )
        )
        for action in ("access_link_sent", "access_code_sent"):
            events.append(_event(action, contract, now, channel="letter"))
        invited.append(item)
        outcome[contract.id] = "invited"

    # customers: the known ones, and the new ones in one INSERT
    ids = {email: row.id for email, row in known.items()}
    new = [
        {"public_id": new_public_id(), "email": e, "full_name": i.contract.customer_name, "created_at": now}
        for i, e in zip(invitations, emails, strict=True)
        if e not in ids and outcome[i.contract.id] == "invited"
    ]
    if new:
        ids.update(
            {
                row.email: row.id
                for row in session.execute(sa.insert(table(Customer)).returning(Customer.id, Customer.email), new)
            }
        )
    starts = [
        {
            "public_id": new_public_id(),
            "contract_id": i.contract.id,
            "email": e,
            "mobile": None,
            "code_channel": CodeChannel.LETTER,
            "created_at": now,
            "processed_at": now,
        }
        for i, e in zip(invitations, emails, strict=True)
        if outcome[i.contract.id] in ("invited", "active")
    ]
    if starts:
        session.execute(sa.insert(table(OnboardingStart)), starts)
    # a new link revokes the customers' older open links; their code letters are worthless now
    revoked = session.scalars(
        sa.update(AccessLink)
        .where(
            AccessLink.customer_id.in_([ids[i.email.lower()] for i in invited]),
            AccessLink.used_at.is_(None),
            AccessLink.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .returning(AccessLink.public_id)
        .execution_options(synchronize_session=False)
    ).all()
    outbox.redact_letter(session, *(_letter_key(p) for p in revoked))
    if links:
        link_ids = {
            row.public_id: row.id
            for row in session.execute(
                sa.insert(table(AccessLink)).returning(AccessLink.id, AccessLink.public_id),
                [{**link, "customer_id": ids[email]} for email, link in links],
            )
        }
        session.execute(
            sa.insert(table(AccessCode)),
            [{**code, "link_id": link_ids[link_public_id]} for link_public_id, code in codes],
        )
    outbox.add_many(session, drafts)
    audit.record_many(session, events)
    expiry = {link["contract_id"]: link["expires_at"] for _, link in links}
    for item, email in zip(invitations, emails, strict=True):
        contract = item.contract
        if outcome[contract.id] == "invited":
            contract.customer_account_id = ids[email]
            contract.onboarding_state, contract.onboarding_expires_at = "code_sent", expiry[contract.id]
        elif outcome[contract.id] == "active":
            contract.customer_account_id = ids[email]
            contract.onboarding_state, contract.onboarding_expires_at = "active", None
    return outcome


def _event(action: str, contract: Contract, at: datetime, **details: Any) -> dict[str, Any]:
    """An onboarding audit entry as a row for audit.record_many (see _record)."""
    return {
        "action": action,
        "at": at,
        "actor_id": None,
        "actor_label": "System",
        "agency_id": contract.agency_id,
        "object_type": "contract",
        "object_id": contract.public_id,
        "details": details,
        "client_address": None,
    }


def _send_letter_code(
    session: so.Session, link: AccessLink, customer: Customer, contract: Contract, settings: OnboardingSettings
) -> None:
    now = clock.now()
    code = tokens.new_letter_code(settings.letter_code_length)
    expires_at = now + timedelta(days=settings.letter_code_days)
    session.add(
        AccessCode(
            link_id=link.id,
            channel=CodeChannel.LETTER,
            created_at=now,
            code_hmac=tokens.code_hmac(settings.secret_key, "access-code", code),
            expires_at=expires_at,
        )
    )
    outbox.enqueue(session, _code_letter(link.public_id, contract, code, customer.email, expires_at, settings))
    _record(session, "access_code_sent", contract, "System", channel="letter")
    contract.onboarding_state = "code_sent"


def _link_email(
    link_public_id: str,
    email: str,
    name: str,
    contract: Contract,
    token: str,
    channel: CodeChannel,
    settings: OnboardingSettings,
) -> outbox.Draft:
    """The e-mail with the access link (it says how the code will come)."""
    return outbox.email(
        key=f"access-link:{link_public_id}",
        to=email,
        subject="Ihr Zugang zum Kunden-Portal",
        template="access_link",
        context={
            "customer": {"full_name": name, "email": email},
            "contract": contract,
            "token": token,
            "channel": channel.value,
            "days": settings.link_days,
        },
        related=("contract", contract.public_id),
        agency_id=contract.agency_id,
        sensitive=True,
    )


def _code_letter(
    link_public_id: str, contract: Contract, code: str, email: str, expires_at: datetime, settings: OnboardingSettings
) -> outbox.Draft:
    """The letter with the access code of an existing customer, kept (and reprintable) until the code
    expires or is used."""
    return outbox.letter(
        key=_letter_key(link_public_id),
        address=contract.postal_address(),
        subject="Ihr Zugangs-Code für das Kunden-Portal",
        template="access_code",
        context={
            "code": tokens.format_letter_code(code),
            "contract": contract,
            "valid_until": expires_at,  # the real end: a letter printed late says so, not "30 Tage"
            "email": email,
        },
        related=("contract", contract.public_id),
        agency_id=contract.agency_id,
        sensitive=True,
        retain_until=expires_at,
    )


def _letter_key(link_public_id: str) -> str:
    """The idempotency key of a link's code letter."""
    return f"access-code-letter:{link_public_id}"


# --- the link page ---------------------------------------------------------------------------------------


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
        _record(session, "access_link_opened", session.get(Contract, link.contract_id), link.customer.email)


def _current_code(session: so.Session, link: AccessLink) -> AccessCode | None:
    return session.scalar(
        sa.select(AccessCode)
        .where(AccessCode.link_id == link.id, AccessCode.superseded_at.is_(None), AccessCode.used_at.is_(None))
        .order_by(AccessCode.created_at.desc(), AccessCode.id.desc())
        .execution_options(populate_existing=True)
    )


def _usable(code: AccessCode | None, now: datetime, settings: OnboardingSettings) -> bool:
    max_attempts = settings.max_attempts(code is not None and code.channel is CodeChannel.LETTER)
    return code is not None and code.expires_at > now and code.failed_attempts < max_attempts


def _lock(session: so.Session, link: AccessLink) -> None:
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
    _lock(session, link)
    now = clock.now()
    current = _current_code(session, link)
    if not resend and _usable(current, now, settings):
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
    _record(session, "access_code_sent", contract, link.customer.email, channel="sms")
    if contract is not None and contract.onboarding_state != "active":
        contract.onboarding_state = "code_sent"
    return SendResult("sent")


# --- activation ------------------------------------------------------------------------------------------


@dataclass
class Activation:
    customer: Customer | None = None
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
) -> Activation:
    """E-mail + code, then the first password. Every comparison of a code is counted first (an
    atomic UPDATE … WHERE failed_attempts < limit), a matching code is taken back from the count and
    marked used, and the link is used up by a guarded UPDATE: of parallel activations exactly one
    sets the password. The caller commits, also when activation failed (wrong entries count)."""
    _lock(session, link)
    if link.used_at is not None:
        return Activation(message=ALREADY_ACTIVATED)
    now = clock.now()
    contract = session.get(Contract, link.contract_id)
    customer = link.customer
    current = _current_code(session, link)
    letter = link.code_channel is CodeChannel.LETTER
    if current is None:
        return Activation(message="Bitte fordern Sie zuerst einen Zugangs-Code an.")
    max_attempts = settings.max_attempts(letter)
    if current.failed_attempts >= max_attempts:
        return Activation(message=_dead_code_message(letter, "Zu viele Fehleingaben."))
    if current.expires_at <= now:
        return Activation(message=_dead_code_message(letter, "Der Zugangs-Code ist abgelaufen."))
    # the password rule needs no secret: check it before an attempt is spent on the code
    errors = check_new_password(customer.email, password, repeated, settings.password)
    if errors:
        return Activation(errors=errors)
    attempt = take_attempt(session, AccessCode, current.id, max_attempts, now)
    if attempt is None:
        return Activation(message=_dead_code_message(letter, "Zu viele Fehleingaben."))
    typed = tokens.normalize_code(code)
    matches = tokens.same(tokens.code_hmac(settings.secret_key, "access-code", typed), current.code_hmac)
    if email.strip().lower() != customer.email or not matches:
        _record(session, "access_code_wrong", contract, customer.email, attempt=attempt)
        if attempt >= max_attempts:
            return Activation(message=_dead_code_message(letter, "Zu viele Fehleingaben."))
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
    if letter:
        outbox.redact_letter(session, _letter_key(link.public_id))  # the code is used: its letter need not stay
    customer.password_hash = hash_password(password)
    customer.activated_at = now
    customer.last_login_at = now
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
    _record(session, "portal_activated", contract, customer.email)
    # each of his other contracts enters the portal too: its own entry, so the agency's figures
    # (agency.share) can tell from the audit trail since when every contract is digital
    for other in session.scalars(sa.select(Contract).where(Contract.id.in_(others), Contract.id != link.contract_id)):
        _record(session, "contract_in_portal", other, customer.email)
    return Activation(customer=customer)


def _dead_code_message(letter: bool, why: str) -> str:
    if letter:
        return f"{why} Bitte wenden Sie sich an Ihren Vermittler: er veranlasst einen neuen Brief mit Zugangs-Code."
    return f"{why} Bitte fordern Sie mit „Code erneut senden“ einen neuen Zugangs-Code an."


# --- login, password --------------------------------------------------------------------------------------


def find_customer(session: so.Session, identifier: str) -> Customer | None:
    """By e-mail address or Vertragsnummer (case and whitespace do not matter)."""
    identifier = "".join(identifier.split())
    if "@" not in identifier:  # a Vertragsnummer (ours, or an imported existing contract's)
        contract = session.scalar(sa.select(Contract).where(Contract.number == identifier.upper()))
        return (
            session.get(Customer, contract.customer_account_id) if contract and contract.customer_account_id else None
        )
    return session.scalar(sa.select(Customer).where(Customer.email == identifier.lower()))


def customer_by_public_id(session: so.Session, public_id: str) -> Customer | None:
    customer = session.scalar(sa.select(Customer).where(Customer.public_id == public_id)) if public_id else None
    return customer if customer is not None and customer.is_active else None


def throttle_key(session: so.Session, identifier: str) -> str:
    """The account a login attempt is counted against: the customer account where one matches (so
    e-mail and Vertragsnummer, in any case or spacing, share one count), else the typed identifier
    normalised (case and all whitespace removed)."""
    customer = find_customer(session, identifier)
    if customer is not None:
        return f"customer:{customer.id}"
    return "customer?:" + "".join(identifier.split()).lower()[:254]


def authenticate(session: so.Session, identifier: str, password: str) -> Customer | None:
    customer = find_customer(session, identifier)
    usable = customer is not None and customer.is_active and customer.password_hash is not None
    ok = verify_password(customer.password_hash if usable and customer else None, password)
    if not ok or customer is None:
        return None
    if customer.password_hash and needs_rehash(customer.password_hash):  # PASSWORD_HASH_* changed since
        customer.password_hash = hash_password(password)
    customer.last_login_at = clock.now()
    return customer


def log_in(
    session: so.Session, identifier: str, password: str, client_address: str | None, limits: Mapping[str, Any]
) -> throttle.LoginAttempt[Customer]:
    """Portal login with e-mail or Vertragsnummer: the attempt counts (per account and address)
    before the password is checked; success and failure land on the contract's audit trail."""
    policies = throttle.login_policies(limits, throttle_key(session, identifier), client_address)
    wait = throttle.claim(session, policies)
    session.commit()
    if wait:
        return throttle.LoginAttempt(wait_seconds=wait)
    customer = authenticate(session, identifier, password)
    found = customer or find_customer(session, identifier)
    contracts = contracts_of(session, found) if found else []
    action = "customer_login" if customer else "customer_login_failed"
    if customer is not None and customer.two_factor:
        action = "customer_password_ok"  # the login ends with the second factor (two_factor.check_login)
    audit.record(
        session,
        action,
        actor_label=identifier.strip()[:254],
        client_address=client_address,
        agency_id=contracts[0].agency_id if contracts else None,
        object_type="contract" if contracts else None,
        object_id=contracts[0].public_id if contracts else None,
    )
    if customer is not None:
        throttle.succeeded(session, policies, reset=[k for k in policies if k.startswith("account:")])
    session.commit()
    return throttle.LoginAttempt(account=customer)


def contracts_of(session: so.Session, customer: Customer) -> list[Contract]:
    return list(
        session.scalars(
            sa.select(Contract).where(Contract.customer_account_id == customer.id).order_by(Contract.policed_at.desc())
        )
    )


def contract_details(
    session: so.Session, customer: Customer, public_id: str, catalog: TariffCatalog
) -> dict[str, Any] | None:
    """What "Meine Verträge" shows of one of his contracts (None: not his): the contract, the
    insured risk as its Versicherungsschein states it, its documents newest first, his broker."""
    contract = session.scalar(
        sa.select(Contract).where(Contract.public_id == public_id, Contract.customer_account_id == customer.id)
    )
    if contract is None:
        return None
    today = clock.today()
    return {
        "contract": contract,
        **policy_scope(session, catalog, contract, today),
        "documents": sorted(contract.documents, key=lambda d: (d.created_at, d.id), reverse=True),
        "broker": contract.owner,
        "evb_status": contract.evb.status(today) if contract.evb else None,
    }


def request_password_reset(session: so.Session, identifier: str) -> None:
    """Record the request; the worker acts on it (process_reset_requests). The same work whether or
    not the account exists: one INSERT, no lookup."""
    session.add(PasswordResetRequest(identifier=identifier.strip()[:254]))
    session.flush()


def process_reset_requests(session: so.Session, settings: OnboardingSettings, limit: int = 50) -> int:
    """Worker task: claim open reset requests (FOR UPDATE SKIP LOCKED) and, where an activated
    account belongs to them, create the reset link and its e-mail — all in one transaction, so a
    worker killed half-way leaves the requests to the next one and nothing is sent twice."""
    now = clock.now()
    ids = leases.claim(
        session,
        PasswordResetRequest,
        due=PasswordResetRequest.processed_at.is_(None),
        order_by=(PasswordResetRequest.id,),
        limit=limit,
        values={"processed_at": now},
        commit=False,  # processed in this transaction: a worker killed half-way leaves them open
    )
    for request_id in sorted(ids):
        request = session.get(PasswordResetRequest, request_id)
        assert request is not None
        _send_reset_link(session, request, settings)
    session.commit()
    return len(ids)


def _send_reset_link(session: so.Session, request: PasswordResetRequest, settings: OnboardingSettings) -> None:
    customer = find_customer(session, request.identifier)
    if customer is None or customer.activated_at is None or not customer.is_active:
        return
    now = clock.now()
    token = tokens.new_link_token()
    reset = PasswordReset(
        token_hash=tokens.token_hash(token),
        customer_id=customer.id,
        created_at=now,
        expires_at=now + timedelta(hours=settings.reset_hours),
    )
    session.add(reset)
    session.flush()
    outbox.enqueue_email(
        session,
        key=f"password-reset-request:{request.id}",
        to=customer.email,
        subject="Passwort vergessen",
        template="password_reset",
        context={"token": token, "hours": settings.reset_hours},
        sensitive=True,
    )
    for contract in contracts_of(session, customer)[:1]:
        _record(session, "password_reset_requested", contract, customer.email)


def find_reset(session: so.Session, token: str) -> PasswordReset | None:
    reset = session.scalar(sa.select(PasswordReset).where(PasswordReset.token_hash == tokens.token_hash(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= clock.now():
        return None
    return reset


def reset_password(
    session: so.Session, reset: PasswordReset, password: str, repeated: str, settings: OnboardingSettings
) -> Activation:
    """Set the new password with a reset link. The link is used up by one guarded UPDATE: of
    parallel submits exactly one sets a password."""
    customer = session.get(Customer, reset.customer_id)
    assert customer is not None
    errors = check_new_password(customer.email, password, repeated, settings.password)
    if errors:
        return Activation(errors=errors)
    now = clock.now()
    used = session.execute(
        sa.update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None), PasswordReset.expires_at > now)
        .values(used_at=now)
        .returning(PasswordReset.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if used is None:
        return Activation(message="Dieser Link wurde bereits verwendet oder ist abgelaufen.")
    customer.password_hash = hash_password(password)
    sessions.end_all(session, "customer", customer.id)  # a reset ends every session of the account
    for contract in contracts_of(session, customer)[:1]:
        _record(session, "password_reset", contract, customer.email)
    return Activation(customer=customer)


def change_password(
    session: so.Session, customer: Customer, current: str, password: str, repeated: str, settings: OnboardingSettings
) -> Activation:
    if not verify_password(customer.password_hash, current):
        return Activation(errors={"aktuelles_passwort": ["Das aktuelle Passwort ist nicht richtig."]})
    errors = check_new_password(customer.email, password, repeated, settings.password)
    if errors:
        return Activation(errors=errors)
    customer.password_hash = hash_password(password)
    sessions.end_all(session, "customer", customer.id)  # the caller starts a fresh one for this browser
    return Activation(customer=customer)
