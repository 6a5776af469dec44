"""The broker's worklist on his start page (issue #16, item 5): Anträge in Risikoprüfung, decisions
(also by e-mail to him), access links unused for 7 days with "Erinnerung senden", failed messages to
his customers, open claims; the agency manager sees his agency's; nobody sees another's."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from contracts.models import Claim, ClaimKind, Contract
from core import clock
from core.users import Role
from messaging.models import Kind, OutboxMessage, State
from onboarding.models import AccessLink
from tests.helpers import RS_ANSWERS, csrf_token, login
from tests.web.test_applications import PORTAL, apply, quote

pytestmark = pytest.mark.usefixtures("demo_reference")


def _panel(client, url="/vermittler/") -> str:
    html = client.get(url).get_data(as_text=True)
    return html.split('aria-labelledby="arbeitsliste-title"')[1].split("</section>")[0]


def test_an_empty_worklist_says_so(broker_client):
    assert "Nichts zu tun" in _panel(broker_client)


def test_referrals_and_decisions_reach_the_broker(broker_client, backoffice_client, broker, session):
    offers = [quote(broker_client, {**RS_ANSWERS, "risikoberuf": "ja"}, "rs") for _ in range(2)]
    for offer_id in offers:
        apply(broker_client, offer_id, PORTAL)
    panel = _panel(broker_client)
    assert "In Risikoprüfung (2)" in panel
    assert "Antragsteller gehört einer Risiko-Berufsgruppe an." in panel
    token = csrf_token(backoffice_client, "/innendienst/risikopruefung")
    ids = list(
        dict.fromkeys(
            re.findall(r'name="antrag" value="([^"]+)"', backoffice_client.get("/innendienst/risikopruefung").text)
        )
    )
    backoffice_client.post(
        f"/innendienst/risikopruefung/{ids[0]}/ablehnen", data={"csrf_token": token, "grund": "Risiko zu hoch"}
    )
    backoffice_client.post("/innendienst/risikopruefung/annehmen", data={"csrf_token": token, "antrag": ids[1:]})
    panel = _panel(broker_client)
    assert "In Risikoprüfung" not in panel
    assert "Entscheidungen der letzten 14 Tage (2)" in panel
    assert "<strong>abgelehnt</strong>" in panel
    assert "Risiko zu hoch" in panel
    assert "<strong>angenommen</strong>" in panel
    mails = session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.template == "decision").order_by(OutboxMessage.id)
    ).all()
    assert [(m.recipient, m.subject.split(":")[0]) for m in mails] == [
        (broker.email, "Antrag abgelehnt"),
        (broker.email, "Antrag angenommen"),
    ]
    assert "Grund: Risiko zu hoch" in mails[0].body_text


def test_unused_access_links_after_seven_days_and_the_reminder(broker_client, session, time_machine):
    apply(broker_client, quote(broker_client), PORTAL)
    contract = session.scalar(sa.select(Contract))
    assert "nicht aktiviert" not in _panel(broker_client)  # just sent
    time_machine.move_to(clock.now() + timedelta(days=8))
    login(broker_client, contract.owner.email)  # the session idled out meanwhile
    panel = _panel(broker_client)
    assert "Zugangslink seit 7+ Tagen nicht aktiviert (1)" in panel
    assert contract.number in panel
    links_before = session.scalar(sa.select(sa.func.count()).select_from(AccessLink))
    reminded = broker_client.post(
        f"/arbeitsliste/erinnerung/{contract.public_id}", data={"csrf_token": csrf_token(broker_client, "/vermittler/")}
    )
    assert reminded.location == "/"
    assert session.scalar(sa.select(sa.func.count()).select_from(AccessLink)) == links_before + 1
    assert "nicht aktiviert" not in _panel(broker_client)  # a fresh link: the 7 days start again


def test_failed_messages_and_open_claims_of_his_customers(broker_client, session):
    apply(broker_client, quote(broker_client), PORTAL)
    contract = session.scalar(sa.select(Contract))
    message = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "access_link")).one()
    message.state, message.last_error = (
        State.FAILED,
        "Empfänger abgelehnt: SMTP 550 5.1.1 <k@example.org>: Recipient address rejected: User unknown",
    )
    session.add(
        Claim(
            number="SN-2026-000001",
            contract_id=contract.id,
            agency_id=contract.agency_id,
            owner_id=contract.owner_id,
            kind=ClaimKind.KH,
            occurred_on=clock.now().date(),
            place="München",
            description="Parkrempler",
        )
    )
    session.commit()
    panel = _panel(broker_client)
    assert "Fehlgeschlagene Nachrichten an Kunden (1)" in panel
    # issue #26 item 5: the agency manager reads what it means, not the mail server's English
    assert "Die E-Mail-Adresse wurde vom Empfänger abgelehnt" in panel
    assert "Recipient address rejected" not in panel
    assert "SMTP 550" not in panel
    assert message.kind is Kind.EMAIL
    assert "Offene Schadenmeldungen (1)" in panel
    assert "SN-2026-000001" in panel


def test_the_manager_sees_his_agency_and_nobody_sees_another(
    app, broker_client, manager_client, make_agency, make_user, agency
):
    apply(broker_client, quote(broker_client, {**RS_ANSWERS, "risikoberuf": "ja"}, "rs"), PORTAL)
    assert "In Risikoprüfung (1)" in _panel(manager_client, "/agentur/")
    other = app.test_client()
    login(other, make_user(Role.BROKER, make_agency("Andere Agentur")).email)
    assert "Nichts zu tun" in _panel(other)
    colleague = app.test_client()
    login(colleague, make_user(Role.BROKER, agency).email)
    assert "Nichts zu tun" in _panel(colleague)  # the same agency, another broker
