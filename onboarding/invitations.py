"""Invitations to the portal: a policed contract's onboarding start (link e-mail, the SMS code
later), an existing customer's (link e-mail, code by letter, one at a time or as a set-based batch),
a document announced to an invited customer (it waits; never a new invitation), the post fallback
when a link ends unused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from contracts.models import Contract, Delivery, Document
from contracts.services import send_by_post_from_now_on
from core import audit, clock, tokens
from core.contact import EmailAddress
from core.db import new_public_id, table
from core.formatting import TIMEZONE, dear
from messaging import outbox
from messaging.models import State
from onboarding import progress
from onboarding.models import (
    AccessCode,
    AccessLink,
    CodeChannel,
    OnboardingStart,
    PortalAccount,
)
from onboarding.settings import OnboardingSettings
from onboarding.settings import current as current_settings
from onboarding.trail import record_event


def customer_for(session: so.Session, email: str, name: str) -> PortalAccount:
    customer = session.scalar(sa.select(PortalAccount).where(PortalAccount.email == email.lower()))
    if customer is None:
        customer = PortalAccount(email=email.lower(), full_name=name)
        session.add(customer)
        session.flush()
    return customer


def process_start(session: so.Session, start: OnboardingStart, settings: OnboardingSettings) -> AccessLink | None:
    """Act on an onboarding start: the customer account, a new access link (older open ones are
    revoked) and its e-mail; by letter channel also the access code letter. An active customer is
    not onboarded again: his new contract simply appears in his portal."""
    contract = session.get(Contract, start.contract_id)
    assert contract is not None
    customer = customer_for(session, start.email, contract.customer_name)
    contract.customer_account_id = customer.id
    start.processed_at = clock.now()
    if customer.activated_at is not None:  # his new contract appears in his portal
        contract.onboarding_state, contract.onboarding_expires_at = "active", None
        record_event(session, "contract_in_portal", contract, "System")
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
    customer = session.get(PortalAccount, contract.customer_account_id)
    if customer is not None and customer.activated_at is not None:
        announce_new_documents(session, customer, contract, current_settings())


def announce_new_documents(
    session: so.Session, customer: PortalAccount, contract: Contract, settings: OnboardingSettings
) -> None:
    """The e-mail "Neue Dokumente in Ihrem Kunden-Portal" (a link to the login, no attachment, no
    contract details): one per customer and day, sent settings.new_documents_delay_minutes after
    the first new document, so the documents of one policing, change or renewal share it. A document
    that comes after the day's e-mail went out is announced the next morning. The customer's row is
    locked while deciding, so parallel documents cannot send two e-mails."""
    session.execute(sa.select(PortalAccount.id).where(PortalAccount.id == customer.id).with_for_update())
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
        customer = session.get(PortalAccount, contract.customer_account_id) if contract.customer_account_id else None
        if customer is not None and customer.activated_at is not None:
            contract.onboarding_state, contract.onboarding_expires_at = "active", None  # activated by another link
            record_event(session, "contract_in_portal", contract, "System")
            continue
        send_by_post_from_now_on(session, contract)
    session.commit()
    return len(contracts)


def invite(
    session: so.Session,
    customer: PortalAccount,
    contract: Contract,
    *,
    channel: CodeChannel,
    mobile: str | None,
    settings: OnboardingSettings,
) -> AccessLink:
    """A new access link for the customer (earlier open links die) and the e-mail carrying it."""
    now = clock.now()
    revoked = session.execute(
        sa.update(AccessLink)
        .where(AccessLink.customer_id == customer.id, AccessLink.used_at.is_(None), AccessLink.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(AccessLink.public_id, AccessLink.contract_id)
        .execution_options(synchronize_session=False)
    ).all()
    for public_id, _ in revoked:  # their code letters are worthless now
        outbox.redact_letter(session, letter_key(public_id))
    progress.changed(session, [contract_id for _, contract_id in revoked])
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
    record_event(session, "access_link_sent", contract, "System", channel=channel.value)
    contract.onboarding_state = "link_sent"
    contract.onboarding_expires_at = link.expires_at
    if channel is CodeChannel.LETTER:
        send_letter_code(session, link, customer, contract, settings)
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
    outbox.redact_letter(session, *(letter_key(p) for p in revoked))
    progress.changed(session, [contract.id])
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
            sa.select(PortalAccount.id, PortalAccount.email, PortalAccount.full_name, PortalAccount.activated_at).where(
                PortalAccount.email.in_(emails)
            )
        )
    }
    outcome: dict[int, str] = {}
    links: list[tuple[str, dict[str, Any]]] = []  # (customer e-mail, row)
    codes: list[tuple[str, dict[str, Any]]] = []  # (link public id, row)
    drafts: list[outbox.Draft] = []
    events: list[dict[str, Any]] = []
    invited: list[Invitation] = []
    code_expires = now + timedelta(days=settings.letter_code_days)
    letter_stencils = code_letter_stencils(code_expires)  # the templates once per chunk (and broker)
    mail_stencils: dict[int | None, outbox.Stencils] = {}
    for item, email in zip(invitations, emails, strict=True):
        contract, found = item.contract, known.get(email)
        if found is not None and found.activated_at is not None:
            outcome[contract.id] = "active"
            events.append(_event("contract_in_portal", contract, now))
            continue
        name = found.full_name if found is not None else contract.customer_name
        token, code = tokens.new_link_token(), tokens.new_letter_code(settings.letter_code_length)
        link_public_id = new_public_id()
        if contract.owner_id not in mail_stencils:
            mail_stencils[contract.owner_id] = link_email_stencils(contract, CodeChannel.LETTER, settings)
        stencils = mail_stencils[contract.owner_id]
        try:
            mail = _link_email(link_public_id, email, name, contract, token, CodeChannel.LETTER, settings, stencils)
            letter = _code_letter(link_public_id, contract, code, email, code_expires, settings, letter_stencils)
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
                for row in session.execute(
                    sa.insert(table(PortalAccount)).returning(PortalAccount.id, PortalAccount.email), new
                )
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
    revoked = session.execute(
        sa.update(AccessLink)
        .where(
            AccessLink.customer_id.in_([ids[i.email.lower()] for i in invited]),
            AccessLink.used_at.is_(None),
            AccessLink.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .returning(AccessLink.public_id, AccessLink.contract_id)
        .execution_options(synchronize_session=False)
    ).all()
    outbox.redact_letter(session, *(letter_key(p) for p, _ in revoked))
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
    # the read model of the contracts invited here and of those whose links were revoked (written
    # set-based above, so no flush hook sees them)
    progress.changed(session, [link["contract_id"] for _, link in links] + [c for _, c in revoked])
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
    """An onboarding audit entry as a row for audit.record_many (see record)."""
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


def send_letter_code(
    session: so.Session,
    link: AccessLink,
    customer: PortalAccount,
    contract: Contract,
    settings: OnboardingSettings,
    *,
    again: bool = False,
) -> AccessCode:
    """The link's code by letter. `again`: a further code of the same link (a self-registered
    customer's "Neuen Code anfordern"): its letter gets a key of its own."""
    now = clock.now()
    code = tokens.new_letter_code(settings.letter_code_length)
    expires_at = now + timedelta(days=settings.letter_code_days)
    access_code = AccessCode(
        link_id=link.id,
        channel=CodeChannel.LETTER,
        created_at=now,
        code_hmac=tokens.code_hmac(settings.secret_key, "access-code", code),
        expires_at=expires_at,
    )
    session.add(access_code)
    session.flush()
    draft = _code_letter(link.public_id, contract, code, customer.email, expires_at, settings)
    if again:
        draft["idempotency_key"] = f"{letter_key(link.public_id)}:{access_code.id}"
    outbox.enqueue(session, draft)
    record_event(session, "access_code_sent", contract, "System", channel="letter")
    contract.onboarding_state = "code_sent"
    return access_code


def _link_email(
    link_public_id: str,
    email: str,
    name: str,
    contract: Contract,
    token: str,
    channel: CodeChannel,
    settings: OnboardingSettings,
    stencils: outbox.Stencils | None = None,
) -> outbox.Draft:
    """The e-mail with the access link (it says how the code will come); with stencils (a bulk
    switch: link_email_stencils) only the recipient's values are filled in."""
    context: dict[str, Any] = (
        {"name": name, "email": email, "number": contract.number or "", "token": token}
        if stencils is not None
        else {
            "customer": {"full_name": name, "email": email},
            "contract": contract,
            "token": token,
            "channel": channel.value,
            "days": settings.link_days,
        }
    )
    return outbox.email(
        key=f"access-link:{link_public_id}",
        to=email,
        subject="Ihr Zugang zum Kunden-Portal",
        template="access_link",
        context=context,
        related=("contract", contract.public_id),
        agency_id=contract.agency_id,
        sensitive=True,
        stencils=stencils,
    )


def link_email_stencils(contract: Contract, channel: CodeChannel, settings: OnboardingSettings) -> outbox.Stencils:
    """The access-link e-mail rendered once for every contract of this broker (the broker's block
    differs between brokers, nothing else but the slots)."""
    return outbox.Stencils(
        ("emails/access_link.txt", "emails/access_link.html"),
        lambda mark: {
            "customer": {"full_name": mark("name"), "email": mark("email")},
            "contract": SimpleNamespace(number=mark("number"), owner=contract.owner),
            "token": mark("token"),
            "channel": channel.value,
            "days": settings.link_days,
        },
    )


def _code_letter(
    link_public_id: str,
    contract: Contract,
    code: str,
    email: str,
    expires_at: datetime,
    settings: OnboardingSettings,
    stencils: outbox.Stencils | None = None,
) -> outbox.Draft:
    """The letter with the access code of an existing customer, kept (and reprintable) until the code
    expires or is used; with stencils (code_letter_stencils of the same expiry) only filled in."""
    values = {
        "greeting": greeting(contract),
        "number": contract.number or "",
        "code": tokens.format_letter_code(code),
        "email": email,
    }
    return outbox.letter(
        key=letter_key(link_public_id),
        address=contract.postal_address(),
        subject="Ihr Zugangs-Code für das Kunden-Portal",
        template="access_code",
        # valid_until: the real end — a letter printed late says so, not "30 Tage"
        context=values if stencils is not None else {**values, "contract": contract, "valid_until": expires_at},
        related=("contract", contract.public_id),
        agency_id=contract.agency_id,
        sensitive=True,
        retain_until=expires_at,
        stencils=stencils,
    )


def code_letter_stencils(expires_at: datetime) -> outbox.Stencils:
    """The code letter rendered once for every code of this expiry."""
    return outbox.Stencils(
        ("letters/access_code.html",),
        lambda mark: {
            "greeting": mark("greeting"),
            "contract": SimpleNamespace(number=mark("number")),
            "code": mark("code"),
            "email": mark("email"),
            "valid_until": expires_at,
        },
    )


def greeting(contract: Contract) -> str:
    """The letter's salutation (DIN 5008: "Sehr geehrte Frau Kern")."""
    customer = contract.customer or {}
    return dear(
        customer.get("salutation"),
        customer.get("first_name") or "",
        customer.get("last_name") or contract.customer_name,
    )


def letter_key(link_public_id: str) -> str:
    """The idempotency key of a link's code letter."""
    return f"access-code-letter:{link_public_id}"


def letter_keys(session: so.Session, link: AccessLink) -> list[str]:
    """The keys of every code letter of the link (a self-registered link may have had further codes)."""
    codes = session.scalars(
        sa.select(AccessCode.id).where(AccessCode.link_id == link.id, AccessCode.channel == CodeChannel.LETTER)
    )
    return [letter_key(link.public_id), *(f"{letter_key(link.public_id)}:{code_id}" for code_id in codes)]
