"""The customer's data change as a service (issue #15, item 5): applied to the contracts he ticks,
each through the contract change service; a contract where nothing differs is left alone; ended
contracts and other customers' contracts cannot be chosen; one confirmation e-mail for all."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from contracts.models import ContractVersion, Document, DocumentKind
from core import clock
from messaging.models import OutboxMessage
from onboarding import self_service
from onboarding.models import PortalAccount
from tests.web.test_onboarding import police  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("demo_reference")


def _today():
    return clock.today()


@pytest.fixture
def two_contracts(outbox_app, police, session):  # noqa: F811
    """One customer (one e-mail address) with two running Kfz contracts."""
    first, _ = police()
    second, _ = police()
    assert first.customer_account_id == second.customer_account_id
    for contract in (first, second):
        contract.start_date = _today() - timedelta(days=30)
    session.commit()
    return session.get(PortalAccount, first.customer_account_id), first, second


def _move(outbox_app, session, customer, *contracts, street="Marienplatz 8", plz="80331", city="München"):
    with outbox_app.app_context():
        return self_service.change_data(
            session,
            customer,
            self_service.DataChange(street, plz, city, "", "", False, tuple(c.public_id for c in contracts)),
            catalog=outbox_app.extensions["tariffs"],
            rules=outbox_app.extensions["contract_settings"].rules,
            today=_today(),
            pdf_workers=1,
        )


def test_a_move_applies_to_each_ticked_contract_with_one_email(outbox_app, session, two_contracts):
    customer, first, second = two_contracts
    versions = _move(outbox_app, session, customer, first, second)
    session.commit()
    assert sorted(v.contract_id for v in versions) == sorted([first.id, second.id])
    assert all(v.actor_label == "Kunde (Kunden-Portal)" for v in versions)
    for contract in (first, second):
        assert contract.customer["city"] == "München"
        kinds = session.scalars(sa.select(Document.kind).where(Document.contract_id == contract.id)).all()
        assert DocumentKind.ENDORSEMENT in kinds
    mails = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.idempotency_key.like("data-changed:%"))).all()
    assert len(mails) == 1
    assert first.number in mails[0].body_text
    assert second.number in mails[0].body_text


def test_only_the_ticked_contract_changes_and_an_unchanged_one_is_left_alone(outbox_app, session, two_contracts):
    customer, first, second = two_contracts
    _move(outbox_app, session, customer, first)
    session.commit()
    assert second.customer["city"] == "Berlin"
    # both ticked, the first already there: only the second gets a Nachtrag
    versions = _move(outbox_app, session, customer, first, second)
    session.commit()
    assert [v.contract_id for v in versions] == [second.id]
    seqs = session.scalars(
        sa.select(ContractVersion.seq).where(ContractVersion.contract_id == first.id, ContractVersion.seq > 0)
    ).all()
    assert seqs == [1]


def test_ended_and_foreign_contracts_cannot_be_chosen(outbox_app, session, two_contracts, police):  # noqa: F811
    customer, first, _second = two_contracts
    first.ends_on = _today()  # ended today
    session.commit()
    with pytest.raises(self_service.SelfServiceError, match="mindestens einen Vertrag"):
        _move(outbox_app, session, customer, first)
    foreign, _ = police(email="jemand@example.org", mobile="0151 22222222")
    with pytest.raises(self_service.SelfServiceError, match="mindestens einen Vertrag"):
        _move(outbox_app, session, customer, foreign)  # refused before anything is written
    assert foreign.customer["city"] == "Berlin"


def test_a_contract_not_yet_begun_changes_from_its_start(outbox_app, session, two_contracts):
    customer, first, _second = two_contracts
    first.start_date = _today() + timedelta(days=10)
    session.commit()
    (version,) = _move(outbox_app, session, customer, first)
    assert version.effective_date == first.start_date
