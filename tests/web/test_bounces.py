"""A bounced e-mail (issue #26 item 22): the customer's server refuses his address for good (SMTP 550,
from the real SMTP server) — the back office corrects it on the contract, the customer record and
his not yet activated access; the access link goes out again to the corrected address; his broker
is told."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from calculator.models import CustomerRecord
from contracts.models import Contract
from core.users import Role
from messaging import worker
from messaging.models import OutboxMessage, State
from onboarding.models import PortalAccount
from tests.helpers import csrf_token, login
from tests.web.test_applications import PORTAL, apply, quote

pytestmark = pytest.mark.usefixtures("demo_reference")


def test_a_refused_address_is_corrected_everywhere_and_the_broker_told(
    outbox_app, broker, make_user, smtp_server, session
):
    seller = outbox_app.test_client()
    login(seller, broker.email)
    smtp_server.inbox.mode = "reject"
    apply(seller, quote(seller), PORTAL)
    worker.run(outbox_app, once=True)
    link = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.template == "access_link"))
    assert link.state is State.FAILED
    smtp_server.inbox.mode = "ok"
    office = outbox_app.test_client()
    login(office, make_user(Role.BACKOFFICE).email)
    url = f"/innendienst/nachrichten/{link.public_id}/adresse"
    assert "Die E-Mail-Adresse wurde vom Empfänger abgelehnt" in office.get(url).get_data(as_text=True)
    done = office.post(url, data={"csrf_token": csrf_token(office, url), "email": "juergen.mueller@example.com"})
    assert done.status_code == 302
    contract = session.scalar(sa.select(Contract))
    session.refresh(contract)
    assert contract.customer_email == "juergen.mueller@example.com"
    assert session.get(CustomerRecord, contract.client_id).email == "juergen.mueller@example.com"
    assert session.get(PortalAccount, contract.customer_account_id).email == "juergen.mueller@example.com"
    worker.run(outbox_app, once=True)
    delivered = {m["To"]: m for m in smtp_server.inbox.messages}
    assert "juergen.mueller@example.com" in delivered  # the access link, to the corrected address
    told = delivered[broker.email]
    assert told["Subject"] == f"E-Mail-Adresse korrigiert: Vertrag {contract.number}"
    assert "juergen.mueller@example.org" in told.get_body(("plain",)).get_content()
    # nobody else may: agency staff get 403
    seller_try = seller.get(url)
    assert seller_try.status_code == 403
