"""Existing contracts switched to the portal get their current Versicherungsschein from the worker
(issue #14, item 5), so the portal the invitation promises is never empty: made once from the
imported data, none for a contract that has one, and announced to a customer already active."""

from __future__ import annotations

import io

import sqlalchemy as sa
from pypdf import PdfReader

from agency import bulk
from agency import services as agency
from agency.jobs import run_step
from agency.models import SwitchRow
from contracts import jobs as contract_jobs
from contracts.models import Contract, Document, DocumentKind
from core import clock, jobs, storage
from messaging.models import OutboxMessage
from onboarding.models import PortalAccount
from onboarding.settings import current as current_settings
from tests.helpers import demo_stock


def _policies(session, contract: Contract) -> list[Document]:
    return list(
        session.scalars(
            sa.select(Document).where(Document.contract_id == contract.id, Document.kind == DocumentKind.POLICY)
        )
    )


def _run_jobs(app, session) -> int:
    steps = 0
    while jobs.runner(app, [contract_jobs.JOB_KIND])(session):
        steps += 1
    return steps


def test_a_switched_contract_gets_its_versicherungsschein_once(app, session, broker, manager):
    stock = demo_stock(session, broker, manager)
    contract = stock["BV-4711001"]
    with app.test_request_context():
        agency.switch_to_portal(session, manager, contract, "helga@example.org", "0151 23456789", current_settings())
        session.commit()
        assert _policies(session, contract) == []  # not in the request: the worker makes it
        assert _run_jobs(app, session) >= 1
        (policy,) = _policies(session, contract)
        text = PdfReader(io.BytesIO(storage.load(policy.storage_key))).pages[0].extract_text()
        assert "Versicherungsschein" in text
        assert "BV-4711001" in text
        assert "Brandt" in text
        contract_jobs.request_current_policies(session, contract.agency_id, ["BV-4711001"])
        session.commit()
        _run_jobs(app, session)
    assert len(_policies(session, contract)) == 1  # asked again: still one


def test_a_bulk_switch_queues_the_documents_after_its_messages_and_an_active_customer_is_told(
    app, session, broker, manager
):
    stock = demo_stock(session, broker, manager)
    session.add(PortalAccount(email="petra@example.org", full_name="Petra Schulze", activated_at=clock.now()))
    session.commit()
    with app.test_request_context():
        rows = bulk.validate_rows(
            session,
            manager,
            [SwitchRow(1, "BV-4711004", "petra@example.org", "0151 23456781")],
        )
        job = bulk.store_job(session, manager, "x.csv", rows, None)
        run_step(session, job, current_settings(), limit=None)
        assert [r.status for r in bulk.rows_of(session, job)] == ["switched"]
        _run_jobs(app, session)
    assert len(_policies(session, stock["BV-4711004"])) == 1
    announced = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "new_documents")).all()
    assert [m.recipient for m in announced] == ["petra@example.org"]
