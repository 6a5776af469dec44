"""A hand-built agency for the dashboard's tests (issue #17): contracts imported in May 2026,
invitations in June, "now" 5 July 2026. A (Anna) and G (Gerd) activate after 3 and 4 days, Gerd goes
back to post on 2 July; B's link of 1 June expires; C's e-mail bounces; D gets a second link and
opens it; E goes back to post before doing anything; F is Anna's second contract (in the portal at
once on 1 July, no link); H opens her link but asks for no SMS code; X ends on 20 June; BV-4711004
belongs to another agency."""

import re
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from agency import services as agency
from agency.period import Period, Settings
from contracts.models import Delivery
from core.clock import TIMEZONE
from core.users import Role
from messaging.models import Kind, OutboxMessage, State
from onboarding.access import activate, open_link, send_sms_code
from onboarding.invitations import customer_for, invite
from onboarding.models import AccessLink, CodeChannel
from onboarding.settings import current as current_settings
from tests.helpers import demo_stock

BERLIN = TIMEZONE
PASSWORD = "Sonnen-Blume-42!"
SETTINGS = Settings(default_days=90, max_years=5, waiting_days=14)
JUNE = Period(date(2026, 6, 1), date(2026, 6, 30))

EXTRA = "".join(
    f"BV-99000{n};vermittler@demo.example;rs;Frau;Kundin;{name};Weg {n};50667;Köln;01.01.2020;20,00;jaehrlich;;\n"
    for n, name in enumerate(["Anna", "Berta", "Clara", "Dora", "Emil", "Fritz", "Gerd", "Hanna", "Ende"], start=1)
)


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=BERLIN)


def _sms_invite(session, contract, email, settings) -> AccessLink:
    customer = customer_for(session, email, contract.customer_name)
    contract.customer_account_id, contract.delivery, contract.customer_email = customer.id, Delivery.PORTAL, email
    return invite(session, customer, contract, channel=CodeChannel.SMS, mobile="+4915123456780", settings=settings)


def _activate(session, link, email, settings) -> None:
    open_link(session, link)
    assert send_sms_code(session, link, resend=False, settings=settings).status == "sent"
    body = session.scalars(
        sa.select(OutboxMessage.body_text).where(OutboxMessage.kind == Kind.SMS).order_by(OutboxMessage.id.desc())
    ).first()
    code = re.search(r"(\d{6})", body).group(1)
    assert activate(session, link, email, code, PASSWORD, PASSWORD, settings).customer
    session.flush()


@pytest.fixture
def agency_data(app, session, broker, manager, make_agency, make_user, time_machine):
    """Contracts imported in May; invitations in June; "now" is 5 July 2026 (see the module doc)."""
    time_machine.move_to(at(5, 15), tick=False)
    stock = demo_stock(session, broker, manager, EXTRA)
    other_agency = make_agency(name="Andere Agentur")
    other = make_user(Role.MANAGER, other_agency, email="fremd@example.org")
    with app.app_context():
        s = current_settings()
        c = {k: stock[f"BV-99000{n}"] for n, k in enumerate("ABCDEFGHX", start=1)}
        foreign = stock["BV-4711004"]
        foreign.agency_id, foreign.owner_id = other_agency.id, other.id  # another agency's: never counted
        c["X"].ends_on = date(2026, 6, 20)  # ended in June: leaves the stock
        session.flush()

        time_machine.move_to(at(6, 1), tick=False)
        agency.switch_to_portal(session, manager, c["B"], "berta@example.org", "0151 11111111", s)  # expires 1 July

        time_machine.move_to(at(6, 10), tick=False)
        link_a = _sms_invite(session, c["A"], "anna@example.org", s)
        link_g = _sms_invite(session, c["G"], "gerd@example.org", s)
        link_h = _sms_invite(session, c["H"], "hanna@example.org", s)
        agency.switch_to_portal(session, manager, c["C"], "clara@example.org", "0151 33333333", s)
        agency.switch_to_portal(session, manager, c["D"], "dora@example.org", "0151 44444444", s)
        agency.switch_to_portal(session, manager, c["E"], "emil@example.org", "0151 55555555", s)
        agency.switch_to_portal(session, other, foreign, "fremd.kunde@example.org", "0151 66666666", s)
        session.execute(  # Clara's e-mail bounced
            sa.update(OutboxMessage)
            .where(OutboxMessage.template == "access_link", OutboxMessage.related_id == c["C"].public_id)
            .values(state=State.FAILED, last_error="550 mailbox unavailable")
        )

        time_machine.move_to(at(6, 11), tick=False)
        open_link(session, link_h)  # Hanna opens, never asks for the SMS code

        time_machine.move_to(at(6, 13), tick=False)
        _activate(session, link_a, "anna@example.org", s)  # 3 days after the link
        time_machine.move_to(at(6, 14), tick=False)
        _activate(session, link_g, "gerd@example.org", s)  # 4 days

        time_machine.move_to(at(6, 15), tick=False)
        agency.switch_to_post(session, manager, c["E"])  # Emil back to post before doing anything

        time_machine.move_to(at(6, 20), tick=False)
        agency.resend_invitation(session, manager, c["D"], s)  # Dora gets a second link...
        dora = session.scalars(
            sa.select(AccessLink).where(AccessLink.contract_id == c["D"].id).order_by(AccessLink.id.desc())
        ).first()
        open_link(session, dora)  # ...opens it, has her letter code, does not activate

        time_machine.move_to(at(7, 1), tick=False)
        # Fritz is Anna's second contract: she is active, so it is in the portal at once (no link)
        assert agency.switch_to_portal(session, manager, c["F"], "anna@example.org", "0151 77777777", s).startswith(
            "Umgestellt. Der Kunde ist im Kunden-Portal bereits aktiv"
        )
        time_machine.move_to(at(7, 2), tick=False)
        agency.switch_to_post(session, manager, c["G"])  # Gerd leaves the portal again

        time_machine.move_to(at(7, 5), tick=False)
        session.commit()  # (the onboarding progress read model is brought up to date as it commits)
    return c
