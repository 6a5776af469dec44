"""The agency's contract stock: onboarding state, switching contracts to the portal (one, a
selection or a CSV file) and back to post, re-sending an invitation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

import sqlalchemy as sa
import sqlalchemy.orm as so

from agency.funnel import FILTERS, in_funnel
from agency.period import Period, Scope, Settings, parse_period
from contracts.jobs import request_current_policies
from contracts.models import Contract, Delivery
from contracts.presentation import CODE_LETTER_UNPOSTED, code_letter_unposted, code_letters
from contracts.presentation import OPEN as OPEN
from contracts.presentation import SELF_OPEN as SELF_OPEN
from contracts.presentation import STATE_LABELS as STATE_LABELS
from contracts.presentation import state_label as state_label
from core import audit, clock, paging
from core.audit import AuditEntry
from core.authz import scoped
from core.contact import german_mobile, normalize_email
from core.formatting import TIMEZONE
from core.users import Role, User
from onboarding.invitations import customer_for, end_invitations, invite, invite_existing_customer
from onboarding.models import AccessLink, CodeChannel, PortalAccount
from onboarding.settings import OnboardingSettings


class SwitchError(ValueError):
    """German message for the user."""


# --- onboarding state ----------------------------------------------------------------------------------

# the labels live beside the contract (contracts.presentation: the customer page shows them too)
STATES = (
    "Post",
    "Link versendet",
    "Code versendet",
    CODE_LETTER_UNPOSTED,
    STATE_LABELS["self_sent"],
    STATE_LABELS["self_code"],
    "aktiviert",
    "abgelaufen",
)


def state_filter(label: str, now: datetime | None = None) -> sa.ColumnElement[bool]:
    """The SQL condition for contracts showing this state (uses ix_contracts_stock_state)."""
    now = now or clock.now()
    if label == CODE_LETTER_UNPOSTED:  # the code went by letter, which still lies unposted
        return sa.and_(
            Contract.onboarding_state == "code_sent",
            sa.or_(Contract.onboarding_expires_at.is_(None), Contract.onboarding_expires_at > now),
            code_letter_unposted(),
        )
    if label == "abgelaufen":
        return sa.and_(Contract.onboarding_state.in_((*OPEN, *SELF_OPEN)), Contract.onboarding_expires_at <= now)
    state = {v: k for k, v in STATE_LABELS.items()}[label]
    if state in (*OPEN, *SELF_OPEN):
        return sa.and_(
            Contract.onboarding_state == state,
            sa.or_(Contract.onboarding_expires_at.is_(None), Contract.onboarding_expires_at > now),
        )
    return Contract.onboarding_state == state


STOCK_FILTERS = ("q", "sparte", "zustellung", "status", "vermittler", "schritt", "von", "bis")


def _funnel_scope(session: so.Session, user: User, filters: dict[str, str]) -> Scope:
    """The dashboard's scope behind a Bestand link: the user's agency, one broker of it if asked
    (an unknown or foreign broker: nobody — the list is then empty, never another agency's)."""
    owner = None
    if filters.get("vermittler"):
        owner = session.scalar(
            sa.select(User.id).where(User.public_id == filters["vermittler"], User.agency_id == user.agency_id)
        )
        owner = owner if owner is not None else -1
    if user.role is Role.BROKER:
        owner = user.id if owner in (None, user.id) else -1
    return Scope(user.agency_id, owner)


def _funnel_period(filters: dict[str, str], settings: Settings) -> Period | None:
    if filters.get("schritt") not in FILTERS:
        return None
    period, errors = parse_period(filters.get("von", ""), filters.get("bis", ""), settings)
    return None if errors else period


def funnel_filter_label(session: so.Session, user: User, filters: dict[str, str], settings: Settings) -> str | None:
    """What a click-through from the dashboard filters by, in German (None: no such filter)."""
    period = _funnel_period(filters, settings)
    if period is None:
        return None
    label = FILTERS[filters["schritt"]].format(days=settings.waiting_days)
    who = ""
    if filters.get("vermittler"):
        name = session.scalar(
            sa.select(User.full_name).where(User.public_id == filters["vermittler"], User.agency_id == user.agency_id)
        )
        who = f", Vermittler {name}" if name else ", unbekannter Vermittler"
    return f"Einladungen {period.label}: {label}{who}"


def stock_page(
    session: so.Session,
    user: User,
    filters: dict[str, str],
    page: int,
    size: int,
    funnel_settings: Settings | None = None,
) -> paging.Page[Contract]:
    """The Bestand: contracts the user may see, searched (number or name, % and _ as typed) and
    filtered by Sparte, Zustellung, onboarding state, broker and — from the dashboard — a funnel
    step of a period (the very condition the bar was counted with), in SQL, one page."""
    stmt = scoped(sa.select(Contract), Contract, user)
    settings = funnel_settings or Settings()
    period = _funnel_period(filters, settings)
    if period is not None:
        stmt = stmt.where(in_funnel(_funnel_scope(session, user, filters), period, settings, filters["schritt"]))
    elif filters.get("vermittler"):
        stmt = stmt.where(Contract.owner_id == _funnel_scope(session, user, filters).owner_id)
    if filters.get("q"):
        stmt = stmt.where(
            sa.or_(
                Contract.number.icontains(filters["q"], autoescape=True),
                Contract.customer_name.icontains(filters["q"], autoescape=True),
            )
        )
    if filters.get("sparte") in ("kfz", "rs"):
        stmt = stmt.where(Contract.product == filters["sparte"])
    if filters.get("zustellung") in ("post", "portal"):
        stmt = stmt.where(Contract.delivery == Delivery(filters["zustellung"]))
    if filters.get("status") in STATES:
        stmt = stmt.where(state_filter(filters["status"]))
    return paging.paginate(session, stmt.order_by(Contract.number, Contract.id), page, size)


def onboarding_states(session: so.Session, contracts: list[Contract]) -> dict[int, str]:
    """Each contract's portal state as the Bestand says it, a code letter as it really is."""
    now = clock.now()
    letters = code_letters(session, contracts)
    return {c.id: state_label(c, now, letters.get(c.id)) for c in contracts}


# --- one contract -------------------------------------------------------------------------------------


def switch_to_portal(
    session: so.Session, user: User, contract: Contract, email: str, mobile: str, settings: OnboardingSettings
) -> str:
    """Portal delivery for an existing contract: link by e-mail, code by letter (Bestandskunde).
    A customer already active in the portal is not onboarded again. Returns what happened (German)."""
    email = normalize_email(email)
    mobile = german_mobile(mobile)
    if contract.delivery is Delivery.PORTAL and contract.customer_email == email:
        raise SwitchError("Der Vertrag ist bereits auf das Kunden-Portal umgestellt.")
    contract.delivery = Delivery.PORTAL
    contract.customer_email = email
    contract.customer_mobile = mobile
    link = invite_existing_customer(session, contract, email, settings)
    request_current_policies(session, contract.agency_id, [contract.number or ""])  # by the worker, for the portal
    audit.record(
        session,
        "contract_switched_to_portal",
        actor=user,
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
        details={"email": email},
    )
    if link is None:
        return "Umgestellt. Der Kunde ist im Kunden-Portal bereits aktiv und findet den Vertrag dort."
    return "Umgestellt. Der Kunde erhält den Zugangslink per E-Mail und den Zugangs-Code per Post."


def switch_to_post(session: so.Session, user: User, contract: Contract) -> None:
    if contract.delivery is Delivery.POST:
        raise SwitchError("Der Vertrag ist bereits auf Postversand.")
    contract.delivery = Delivery.POST
    contract.onboarding_state, contract.onboarding_expires_at = "post", None
    end_invitations(session, contract)
    audit.record(
        session,
        "contract_switched_to_post",
        actor=user,
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
    )


def resend_invitation(session: so.Session, user: User, contract: Contract, settings: OnboardingSettings) -> None:
    """A new link (the old one dies) and, for existing customers, a new code letter — once a day per
    contract (issue #25 item 2: ten parallel clicks sent ten e-mails and left nine links valid): the
    contract row is locked, and a reminder already sent today is said instead of sending another."""
    session.refresh(contract, with_for_update=True)
    today_starts = datetime.combine(clock.today(), time.min, TIMEZONE)
    already = session.scalar(
        sa.select(AuditEntry.id)
        .where(
            AuditEntry.action == "invitation_resent",
            AuditEntry.object_type == "contract",
            AuditEntry.object_id == contract.public_id,
            AuditEntry.at >= today_starts,
        )
        .limit(1)
    )
    if already is not None:
        raise SwitchError("Heute wurde bereits eine Erinnerung gesendet; der Zugangslink daraus gilt.")
    if contract.delivery is not Delivery.PORTAL or contract.customer_email is None:
        raise SwitchError("Der Vertrag ist nicht auf das Kunden-Portal umgestellt.")
    customer = session.get(PortalAccount, contract.customer_account_id) if contract.customer_account_id else None
    if customer is not None and customer.activated_at is not None:
        raise SwitchError("Der Kunde ist im Kunden-Portal bereits aktiv.")
    if customer is None:
        customer = customer_for(session, contract.customer_email, contract.customer_name)
        contract.customer_account_id = customer.id
    last = session.scalar(
        sa.select(AccessLink).where(AccessLink.contract_id == contract.id).order_by(AccessLink.id.desc())
    )
    channel = last.code_channel if last else CodeChannel.LETTER
    invite(
        session,
        customer,
        contract,
        channel=channel,
        mobile=contract.customer_mobile if channel is CodeChannel.SMS else None,
        settings=settings,
    )
    audit.record(
        session,
        "invitation_resent",
        actor=user,
        agency_id=contract.agency_id,
        object_type="contract",
        object_id=contract.public_id,
    )


@dataclass
class Reminded:
    sent: list[str] = field(default_factory=list)  # customer names
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (Vertragsnummer, German reason)

    def messages(self) -> list[tuple[str, str]]:
        result = []
        if self.sent:
            result.append(("success", f"Erinnerung an {len(self.sent)} Kunden versendet (je ein neuer Zugangslink)."))
        for number, reason in self.skipped:
            result.append(("error", f"{number}: {reason}"))
        if not self.sent and not self.skipped:
            result.append(("error", "Bitte wählen Sie mindestens einen Vertrag aus."))
        return result


MAX_REMINDERS = 100


def remind_selected(session: so.Session, user: User, public_ids: list[str], settings: OnboardingSettings) -> Reminded:
    """ "Erinnerung senden" for a selection of the Bestand: each visible contract gets a fresh
    access link (resend_invitation) in its own savepoint; one that cannot (already active, not on
    the portal) is named with the reason and changes nothing."""
    result = Reminded()
    ids = list(dict.fromkeys(public_ids))[:MAX_REMINDERS]
    if not ids:
        return result
    contracts = session.scalars(
        scoped(sa.select(Contract), Contract, user).where(Contract.public_id.in_(ids)).order_by(Contract.number)
    ).all()
    for contract in contracts:
        try:
            with session.begin_nested():
                resend_invitation(session, user, contract, settings)
        except SwitchError as error:
            result.skipped.append((contract.number or "", str(error)))
        else:
            result.sent.append(contract.customer_name)
    return result
