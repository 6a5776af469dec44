"""A year of onboarding in the demo agency (`flask demo history`), so that Kennzahlen, the Bestand's
filters and the worklist have something to show in a fresh `make run`.

Written with the real services under a moved clock (``core.clock.as_of``), event by event in the
order they happened, each committed and followed by what the worker would have done then (the
Versicherungsschein for the portal, expired invitations to post): 37 existing contracts imported
thirteen months ago, then invitations spread over the last twelve months — most customers activate
after a few days (more of them lately, so the digital share grows), some links expire, some e-mails
bounce, some customers only open the link, some contracts go back to post, some invitations are
still open. The history's messages are marked
as delivered when they were made (the bounced e-mail as failed; code letters of links that are over
as posted, their content deleted as the worker would); the letters of links still open wait for the
worker like any other. Demo customers activate with the demo password (README)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import sqlalchemy as sa
import sqlalchemy.orm as so

from agency import services as agency
from contracts import lifecycle
from contracts.imports import HEADER, import_contracts
from contracts.jobs import request_current_policies
from contracts.models import Contract, Delivery
from contracts.settings import current as contract_settings
from contracts.settings import current as current_settings
from core import clock
from core.contact import normalize_mobile
from core.formatting import TIMEZONE
from core.users import User
from demo.seed import DEMO_PASSWORD
from messaging.models import Kind, OutboxMessage, State
from messaging.outbox import REDACTED_LETTER
from messaging.worker import REDACTED
from onboarding.access import activate, open_link, send_sms_code
from onboarding.invitations import post_expired_invitations, request_onboarding
from onboarding.models import AccessLink, CodeChannel
from onboarding.settings import OnboardingSettings

PREFIX = "BV-4712"
BROKERS = {"v": "vermittler@demo.example", "a": "agenturleiter@demo.example"}
BOUNCE = "550 5.1.1 Recipient address rejected: User unknown in virtual mailbox table"


@dataclass(frozen=True)
class Story:
    """One contract's onboarding: invited `days_ago` (SMS code as for new business, or the existing
    customer's letter code), then what the customer (or the agency) did `after` days later."""

    name: str
    broker: str  # key of BROKERS
    days_ago: int
    outcome: str  # active | active_then_post | expired | opened | code_only | bounced | back_to_post | open
    after: int = 0
    reminded_after: int | None = None  # a fresh link ("Erinnerung senden") this many days after the first


STORIES = (
    Story("Jana Albers", "v", 350, "active", 3),
    Story("Ralf Böhm", "a", 320, "active", 5),
    Story("Ute Claßen", "v", 300, "active_then_post", 3),
    Story("Tim Dietz", "v", 290, "active", 2),
    Story("Lea Ebert", "v", 250, "active", 8),
    Story("Kai Fuchs", "a", 220, "active", 1),
    Story("Eva Graf", "a", 200, "expired"),
    Story("Nils Haas", "v", 190, "active", 4),
    Story("Mia Ilgner", "v", 160, "active", 2),
    Story("Ole Jung", "v", 140, "expired"),
    Story("Pia Keller", "a", 130, "active", 6),
    Story("Jan Lorenz", "v", 110, "active", 3),
    Story("Ida Maier", "v", 100, "opened", 2),
    Story("Tom Naumann", "v", 95, "active", 1),
    Story("Zoe Otto", "v", 85, "bounced"),
    Story("Ben Pohl", "a", 80, "active", 2),
    Story("Ina Quast", "v", 75, "expired"),
    Story("Leo Roth", "v", 70, "active", 9),
    Story("Amy Sauer", "v", 65, "code_only", 1),
    Story("Max Thiel", "v", 60, "active", 3),
    Story("Ella Ulrich", "v", 55, "back_to_post", 6),
    Story("Finn Vogt", "a", 50, "expired"),
    Story("Lina Wagner", "a", 45, "active", 2),
    Story("Paul Xander", "a", 40, "opened", 5),
    Story("Nora Yildiz", "v", 38, "active", 18, reminded_after=16),
    Story("Erik Zander", "v", 35, "active", 4),
    Story("Lara Arnold", "v", 27, "open"),
    Story("Moritz Beck", "v", 25, "active", 1),
    Story("Sara Conrad", "a", 22, "open"),
    Story("Luis Dorn", "a", 20, "bounced"),
    Story("Emma Eck", "a", 18, "active", 3),
    Story("Jonas Frey", "a", 12, "open"),
    Story("Hannah Gerber", "v", 10, "active", 2),
    Story("Felix Hahn", "v", 8, "open"),
    Story("Clara Imhof", "v", 5, "open"),
    Story("David Jakob", "a", 2, "open"),
    Story("Marie Kühn", "v", 1, "open"),
)
SMS_OUTCOMES = {"active", "active_then_post", "opened", "code_only"}
WOMEN = {"Jana", "Ute", "Lea", "Eva", "Mia", "Pia", "Ida", "Zoe", "Ina", "Amy", "Ella", "Lina", "Nora", "Lara", "Sara"}
WOMEN |= {"Emma", "Hannah", "Clara", "Marie"}


def _number(i: int) -> str:
    return f"{PREFIX}{i + 1:03d}"


def _email(story: Story) -> str:
    first, last = story.name.lower().replace("ß", "ss").replace("ü", "ue").replace("ö", "oe").split()
    return f"{first}.{last}@example.org"


def _mobile(i: int) -> str:
    return f"0151 2000 {1000 + i}"


def _import(session: so.Session) -> dict[str, Contract]:
    """The 37 contracts, imported (post delivery) as the agency's existing stock."""
    rows = []
    for i, story in enumerate(STORIES):
        first, last = story.name.split()
        product, premium, frequency = ("kfz", "412,80", "jaehrlich") if i % 3 == 0 else ("rs", "21,90", "monatlich")
        start = f"01.{i % 12 + 1:02d}.{2018 + i % 5}"
        rows.append(
            f"{_number(i)};{BROKERS[story.broker]};{product};{'Frau' if first in WOMEN else 'Herr'};{first};{last};"
            f"Hauptstraße {i + 1};50667;Köln;{start};{premium};{frequency};;\n"
        )
    import_contracts(session, (";".join(HEADER) + "\n" + "".join(rows)).encode(), contract_settings().catalog)
    contracts = {
        c.number or "": c for c in session.scalars(sa.select(Contract).where(Contract.number.like(f"{PREFIX}%")))
    }
    return contracts


def _last_link(session: so.Session, contract: Contract) -> AccessLink:
    link = session.scalar(
        sa.select(AccessLink).where(AccessLink.contract_id == contract.id).order_by(AccessLink.id.desc())
    )
    if link is None:
        raise RuntimeError(f"demo history: no access link for {contract.number}")
    return link


def _sms_code(session: so.Session, mobile: str) -> str:
    """The code of the newest SMS to this number (the demo plays the customer reading his phone)."""
    body = session.scalars(
        sa.select(OutboxMessage.body_text)
        .where(OutboxMessage.kind == Kind.SMS, OutboxMessage.recipient == mobile)
        .order_by(OutboxMessage.id.desc())
    ).first()
    match = re.search(r"\b(\d{4,8})\b", body or "")
    if match is None:
        raise RuntimeError("demo history: no code in the customer's SMS")
    return match.group(1)


def seed_history(session: so.Session, settings: OnboardingSettings, run_jobs: Callable[[so.Session], int]) -> int:
    """Write the history once (idempotent: nothing if its contracts exist); returns the contracts.
    run_jobs: one step of due background jobs (core.jobs.runner), run after each event. Commits."""
    if session.scalar(sa.select(Contract.id).where(Contract.number.like(f"{PREFIX}%")).limit(1)):
        return 0
    users = {key: session.scalars(sa.select(User).where(User.email == email)).one() for key, email in BROKERS.items()}
    manager = users["a"]
    now = clock.now()
    with clock.as_of(now - timedelta(days=400)):
        contracts = _import(session)
    today = now.astimezone(TIMEZONE).date()
    catalog = current_settings().catalog
    for contract in contracts.values():  # imported a year ago: their next Hauptfälligkeit from today
        terms = lifecycle.terms_for(catalog, contract.product, contract.tariff_version, today)
        contract.main_due = lifecycle.next_main_due(contract.start_date, today, terms)
    session.commit()

    events: list[tuple[datetime, int, Callable[[], None]]] = []

    def at(days_ago: float, hour: int, action: Callable[[], None]) -> None:
        moment = (now - timedelta(days=days_ago)).astimezone(TIMEZONE).replace(hour=hour, minute=7 * len(events) % 60)
        events.append((min(moment, now - timedelta(minutes=5)), len(events), action))

    for i, story in enumerate(STORIES):
        contract = contracts[_number(i)]
        email, mobile = _email(story), _mobile(i)
        sms = story.outcome in SMS_OUTCOMES

        def invite(contract: Contract = contract, email: str = email, mobile: str = mobile, sms: bool = sms) -> None:
            if sms:  # as for new business: link by e-mail, the code by SMS
                contract.delivery, contract.customer_email = Delivery.PORTAL, email
                contract.customer_mobile = normalize_mobile(mobile)
                request_onboarding(
                    session,
                    contract_id=contract.id,
                    email=email,
                    mobile=contract.customer_mobile,
                    channel=CodeChannel.SMS,
                    settings=settings,
                )
                request_current_policies(session, contract.agency_id, [contract.number or ""])
            else:  # the agency manager switches an existing contract: the code comes by letter
                agency.switch_to_portal(session, manager, contract, email, mobile, settings)

        at(story.days_ago, 9, invite)
        if story.reminded_after is not None:
            remind = partial(agency.resend_invitation, session, users[story.broker], contract, settings)
            at(story.days_ago - story.reminded_after, 10, remind)
        if story.outcome in ("active", "active_then_post", "opened", "code_only"):

            def customer(contract: Contract = contract, email: str = email, outcome: str = story.outcome) -> None:
                link = _last_link(session, contract)
                open_link(session, link)
                if outcome == "opened":
                    return
                sent = send_sms_code(session, link, resend=False, settings=settings)
                if sent.status != "sent":
                    raise RuntimeError(f"demo history: no SMS code for {contract.number}: {sent}")
                if outcome == "code_only":
                    return
                code = _sms_code(session, link.mobile or "")
                done = activate(session, link, email, code, DEMO_PASSWORD, DEMO_PASSWORD, settings, consented=True)
                if done.customer is None:
                    raise RuntimeError(f"demo history: {contract.number} not activated: {done.errors}")

            at(story.days_ago - story.after, 19, customer)
        if story.outcome == "active_then_post":
            at(story.days_ago - story.after - 120, 11, partial(agency.switch_to_post, session, manager, contract))
        if story.outcome == "back_to_post":
            at(story.days_ago - story.after, 11, partial(agency.switch_to_post, session, manager, contract))

    for moment, _, action in sorted(events, key=lambda e: (e[0], e[1])):
        with clock.as_of(moment):
            action()
            session.commit()
            while run_jobs(session):  # the worker's pass after it: documents for the portal …
                pass
            post_expired_invitations(session)  # … and invitations that expired meanwhile
    _delivered(session, [contracts[_number(i)] for i, s in enumerate(STORIES) if s.outcome == "bounced"], now)
    session.commit()
    return len(contracts)


def _delivered(session: so.Session, bounced: list[Contract], now: datetime) -> None:
    """The history's messages went out when they were made: e-mails and SMS sent (their access data
    deleted, as the worker does), the bounced access-link e-mails failed, the code letters of links
    that are over posted and deleted; letters of links still open stay for the worker (Postausgang)."""
    history = sa.select(Contract.public_id).where(Contract.number.like(f"{PREFIX}%"))
    messages = session.scalars(
        sa.select(OutboxMessage).where(
            OutboxMessage.related_type == "contract",
            OutboxMessage.related_id.in_(history),
            OutboxMessage.state == State.PENDING,
        )
    ).all()
    bounced_ids = {c.public_id for c in bounced}
    open_letters = set(
        session.scalars(
            sa.select(AccessLink.public_id).where(
                AccessLink.used_at.is_(None), AccessLink.revoked_at.is_(None), AccessLink.expires_at > now
            )
        )
    )
    for message in messages:
        if message.kind is Kind.LETTER:
            if message.idempotency_key.split(":", 1)[-1] in open_letters:
                continue
            message.state, message.pdf, message.body_html = State.POSTED, None, REDACTED_LETTER
            message.printed_at = message.sent_at = message.created_at + timedelta(hours=20)
            message.posted_by = "innendienst@demo.example"
        elif message.template == "access_link" and message.related_id in bounced_ids:
            message.state, message.attempts, message.last_error = State.FAILED, 1, BOUNCE
        else:
            message.state, message.sent_at = State.SENT, message.created_at + timedelta(seconds=30)
            if message.sensitive:
                message.body_text = message.body_html = REDACTED
    session.flush()
