"""The contract's onboarding state is kept by onboarding's events and filtered in SQL."""

import re
from datetime import timedelta

import sqlalchemy as sa

from agency import services as agency
from contracts.models import Contract, Delivery
from core import clock
from core.formatting import TIMEZONE
from messaging.models import Kind, OutboxMessage
from onboarding.access import activate, send_sms_code
from onboarding.invitations import customer_for, invite
from onboarding.models import AccessCode, AccessLink, CodeChannel
from onboarding.settings import current as current_settings
from tests.helpers import demo_stock


def _listed(session, manager, label):
    stmt = sa.select(Contract.number).where(Contract.agency_id == manager.agency_id, agency.state_filter(label))
    return set(session.scalars(stmt))


def test_states_follow_the_onboarding_and_filter_in_sql(app, session, broker, manager):
    stock = demo_stock(session, broker, manager)
    with app.app_context():
        settings = current_settings()
        first, second = stock["BV-4711001"], stock["BV-4711002"]
        agency.switch_to_portal(session, manager, first, "helga@example.org", "0151 23456789", settings)
        customer = customer_for(session, "stefan@example.org", second.customer_name)
        second.customer_account_id = customer.id
        link = invite(
            session,
            customer,
            second,
            channel=CodeChannel.SMS,
            mobile="+4915123456780",
            settings=settings,
        )
        second.delivery = Delivery.PORTAL
        session.flush()
        assert agency.state_label(first) == "Code versendet"  # existing customer: the code letter is out
        assert agency.state_label(second) == "Link versendet"
        assert _listed(session, manager, "Link versendet") == {"BV-4711002"}
        assert "BV-4711003" in _listed(session, manager, "Post")

        link.expires_at = second.onboarding_expires_at = clock.now() - timedelta(minutes=1)
        session.flush()
        assert agency.state_label(second) == "abgelaufen"
        assert _listed(session, manager, "abgelaufen") == {"BV-4711002"}
        assert _listed(session, manager, "Link versendet") == set()

        fresh = session.get(
            AccessLink,
            invite(
                session, link.customer, second, channel=CodeChannel.SMS, mobile="+4915123456780", settings=settings
            ).id,
        )
        assert send_sms_code(session, fresh, resend=False, settings=settings).status == "sent"
        assert agency.state_label(second) == "Code versendet"
        body = session.scalars(
            sa.select(OutboxMessage.body_text).where(OutboxMessage.kind == Kind.SMS).order_by(OutboxMessage.id.desc())
        ).first()
        code = re.search(r"(\d{6})", body).group(1)
        password = "Sonnen-Blume-42!"
        assert activate(session, fresh, "stefan@example.org", code, password, password, settings).customer
        session.flush()
        assert agency.state_label(second) == "aktiviert"
        assert _listed(session, manager, "aktiviert") == {"BV-4711002"}

        agency.switch_to_post(session, manager, first)
        session.flush()
        assert agency.state_label(first) == "Post"


def test_a_code_letter_is_said_as_it_really_is_and_warned_about_when_the_invitation_ends(app, session, broker, manager):
    """Issue #26 item 17: "Code-Brief im Postausgang" until the back office posts it, then "Code-Brief
    versandt am …"; an invitation ending within WORKLIST_LETTER_WARNING_DAYS whose letter lies
    unposted is on the worklist."""
    from agency import worklist
    from agency.figures import letters_unposted
    from agency.period import Scope
    from messaging.models import State

    stock = demo_stock(session, broker, manager)
    with app.app_context():
        settings = current_settings()
        contract = stock["BV-4711001"]
        agency.switch_to_portal(session, manager, contract, "helga@example.org", "0151 23456789", settings)
        session.flush()
        assert agency.onboarding_states(session, [contract]) == {contract.id: "Code-Brief im Postausgang"}
        assert _listed(session, manager, "Code-Brief im Postausgang") == {contract.number}  # the Bestand filter
        assert letters_unposted(session, Scope(manager.agency_id)) == 1  # the funnel's note
        work = worklist.Settings(
            reminder_days=app.config["WORKLIST_REMINDER_DAYS"],
            decision_days=app.config["WORKLIST_DECISION_DAYS"],
            link_days=settings.link_days,
            letter_warning_days=app.config["WORKLIST_LETTER_WARNING_DAYS"],
        )
        assert worklist.worklist(session, manager, work)["letters"] == []  # weeks left: no warning yet
        ends_soon = clock.now() + timedelta(days=work.letter_warning_days - 1)
        contract.onboarding_expires_at = ends_soon
        session.flush()
        assert worklist.worklist(session, manager, work)["letters"] == [contract]
        letter = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.template == "access_code"))
        assert letter.kind is Kind.LETTER
        # printed late, the letter still states the code's real end (issue #26 item 24), not "30 Tage"
        code_ends = session.scalars(sa.select(AccessCode.expires_at).order_by(AccessCode.id.desc())).first()
        assert f"gültig bis zum {code_ends.astimezone(TIMEZONE):%d.%m.%Y}" in letter.body_html
        assert "Tage gültig" not in letter.body_html
        letter.state, letter.sent_at = State.POSTED, clock.now()
        session.flush()
        today = clock.now().astimezone(TIMEZONE).strftime("%d.%m.%Y")
        assert agency.onboarding_states(session, [contract]) == {contract.id: f"Code-Brief versandt am {today}"}
        assert worklist.worklist(session, manager, work)["letters"] == []
        assert _listed(session, manager, "Code-Brief im Postausgang") == set()
        assert letters_unposted(session, Scope(manager.agency_id)) == 0
