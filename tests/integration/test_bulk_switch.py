"""The set-based bulk switch (agency.bulk) against the database: a chunk writes exactly what switching
the contracts one by one writes, the rules between rows hold (one customer, active customers, a row
that cannot be sent), and a chunk that fails as a whole is redone row by row."""

from __future__ import annotations

import sqlalchemy as sa

from agency import bulk
from agency import services as agency
from agency.models import SwitchJob, SwitchJobRow, SwitchRow
from contracts.models import Contract, Delivery
from core import clock
from core.audit import AuditEntry
from core.formatting import addressee
from messaging.models import Kind, OutboxMessage
from onboarding.models import AccessCode, AccessLink, CodeChannel, OnboardingStart, PortalAccount
from onboarding.settings import current as current_settings
from tests.helpers import demo_stock

STOCK_EXTRA = (
    "BV-4711005;agenturleiter@demo.example;rs;Frau;Ida;Kern;Weg 5;12345;Ulm;01.01.2020;9,90;monatlich;;\n"
    "BV-4711006;agenturleiter@demo.example;rs;Herr;Jan;Lenz;Weg 6;12345;Ulm;01.01.2020;9,90;monatlich;;\n"
)


def _rows(session, manager, *lines: tuple[str, str]) -> list[SwitchRow]:
    rows = [SwitchRow(n, number, email, f"0151 2345678{n}") for n, (number, email) in enumerate(lines, start=1)]
    return bulk.validate_rows(session, manager, rows)


def _run(session, manager, rows: list[SwitchRow], settings) -> list[SwitchRow]:
    """The checked rows stored as a job and run (all chunks, as one worker would): the rows with
    their outcome, read back from the job's table."""
    job = bulk.store_job(session, manager, "x.csv", rows, None)
    assert bulk.run_rows(session, manager, job.id, settings, limit=None) == sum(r.status == "ok" for r in rows)
    return bulk.rows_of(session, job)


def _written(session, contract: Contract) -> dict[str, object]:
    """Everything the onboarding of one contract wrote, in a comparable shape."""
    links = session.scalars(sa.select(AccessLink).where(AccessLink.contract_id == contract.id)).all()
    messages = session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.related_id == contract.public_id).order_by(OutboxMessage.kind)
    ).all()
    return {
        "delivery": contract.delivery,
        "state": contract.onboarding_state,
        "expires_is_link_expiry": [contract.onboarding_expires_at] == [link.expires_at for link in links],
        "customer": session.get(PortalAccount, contract.customer_account_id).email,
        "starts": session.scalar(
            sa.select(sa.func.count()).where(
                OnboardingStart.contract_id == contract.id, OnboardingStart.processed_at.is_not(None)
            )
        ),
        "links": [(link.code_channel, link.revoked_at is None) for link in links],
        "codes": session.scalar(
            sa.select(sa.func.count()).where(
                AccessCode.link_id.in_([link.id for link in links]), AccessCode.channel == CodeChannel.LETTER
            )
        ),
        "messages": [(m.kind, m.template, m.sensitive, m.agency_id) for m in messages],
        "letter_retained_until_code_expiry": [m.retain_until is not None for m in messages if m.kind is Kind.LETTER],
        "audit": sorted(
            session.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_id == contract.public_id))
        ),
    }


def test_a_chunk_writes_what_switching_one_by_one_writes(app, session, broker, manager):
    stock = demo_stock(session, broker, manager, STOCK_EXTRA)
    with app.test_request_context():
        settings = current_settings()
        agency.switch_to_portal(session, manager, stock["BV-4711005"], "ida@example.org", "0151 23456781", settings)
        rows = _rows(session, manager, ("BV-4711004", "petra@example.org"), ("bv-4711006", "Jan@Example.org"))
        rows = _run(session, manager, rows, settings)

    assert [(r.status, r.message) for r in rows] == [("switched", bulk.SWITCHED)] * 2
    one_by_one = _written(session, stock["BV-4711005"])
    assert one_by_one["state"] == "code_sent"
    assert one_by_one["delivery"] is Delivery.PORTAL
    for n, number, email in ((1, "BV-4711004", "petra@example.org"), (2, "BV-4711006", "jan@example.org")):
        contract = session.scalar(sa.select(Contract).where(Contract.number == number))
        assert _written(session, contract) == {**one_by_one, "customer": email}
        assert (contract.customer_email, contract.customer_mobile) == (email, f"+491512345678{n}")
        letter = session.scalar(
            sa.select(OutboxMessage).where(
                OutboxMessage.related_id == contract.public_id, OutboxMessage.kind == Kind.LETTER
            )
        )
        c = contract.customer
        assert letter.address[0] == addressee(c["salutation"], f"{c['first_name']} {c['last_name']}")  # "Herrn …"
        assert "Ihr Zugangs-Code:" in letter.body_html
        assert email in letter.body_html


def test_one_customer_twice_an_active_customer_and_a_re_run(app, session, broker, manager):
    stock = demo_stock(session, broker, manager, STOCK_EXTRA)
    active = PortalAccount(email="aktiv@example.org", full_name="Ida Kern", activated_at=clock.now())
    session.add(active)
    session.commit()
    with app.test_request_context():
        settings = current_settings()
        rows = _rows(
            session,
            manager,
            ("BV-4711004", "familie@example.org"),
            ("BV-4711005", "aktiv@example.org"),
            ("BV-4711006", "familie@example.org"),  # the second contract of one customer
        )
        rows = _run(session, manager, rows, settings)
        assert [r.status for r in rows] == ["switched"] * 3
        assert rows[1].message == bulk.ALREADY_ACTIVE
        family = session.scalar(sa.select(PortalAccount).where(PortalAccount.email == "familie@example.org"))
        links = session.scalars(sa.select(AccessLink).where(AccessLink.customer_id == family.id)).all()
        assert [link.revoked_at is None for link in links] == [False, True]  # as one by one: the newer link lives
        assert stock["BV-4711005"].onboarding_state == "active"
        assert session.scalar(sa.select(sa.func.count()).where(AccessLink.customer_id == active.id)) == 0

        messages = session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
        # the same job again, as if a worker had switched its rows and died before recording it
        job_id = session.scalar(sa.select(SwitchJobRow.job_id).where(SwitchJobRow.id == rows[0].id))
        session.execute(sa.update(SwitchJobRow).where(SwitchJobRow.job_id == job_id).values(status="ok"))
        session.commit()
        assert bulk.run_rows(session, manager, job_id, settings, limit=None) == 3
        rows = bulk.rows_of(session, session.get(SwitchJob, job_id))
        assert [(r.status, r.message) for r in rows] == [("switched", "Umgestellt.")] * 3
        assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == messages


def test_a_row_whose_letter_cannot_be_built_fails_alone(app, session, broker, manager):
    stock = demo_stock(session, broker, manager, STOCK_EXTRA)
    broken = stock["BV-4711005"]
    broken.customer = {**broken.customer, "plz": "ABC"}
    session.commit()
    with app.test_request_context():
        rows = _rows(session, manager, ("BV-4711004", "petra@example.org"), ("BV-4711005", "ida@example.org"))
        rows = _run(session, manager, rows, current_settings())
    assert rows[0].status == "switched"
    assert (rows[1].status, rows[1].message) == ("failed", "Die PLZ der Anschrift ist ungültig: 'ABC'")
    assert broken.delivery is Delivery.POST
    assert broken.customer_account_id is None
    assert session.scalar(sa.select(sa.func.count()).where(AccessLink.contract_id == broken.id)) == 0
    assert session.scalar(sa.select(sa.func.count()).where(OutboxMessage.related_id == broken.public_id)) == 0


def test_a_chunk_that_fails_as_a_whole_is_redone_row_by_row(app, session, broker, manager):
    """Another request creates a customer between the chunk's look-up and its INSERT: the chunk's
    unique e-mail violation rolls it back, and every row is switched on its own instead."""
    demo_stock(session, broker, manager, STOCK_EXTRA)
    engine = session.get_bind()
    fired: list[str] = []

    def customer_created_meanwhile(conn, cursor, statement, params, context, executemany):
        if statement.startswith("INSERT INTO customers") and not fired:
            fired.append(statement)
            conn.exec_driver_sql(
                "INSERT INTO customers (public_id, email, full_name, is_active, created_at) VALUES "
                + (
                    "(%(p)s, %(e)s, 'Petra', true, now())"
                    if conn.dialect.name == "postgresql"
                    else "(:p, :e, 'Petra', 1, '2026-01-01')"
                ),
                {"p": "meanwhile", "e": "petra@example.org"},
            )

    sa.event.listen(engine, "before_cursor_execute", customer_created_meanwhile)
    try:
        with app.test_request_context():
            rows = _rows(session, manager, ("BV-4711004", "petra@example.org"), ("BV-4711006", "jan@example.org"))
            rows = _run(session, manager, rows, current_settings())
    finally:
        sa.event.remove(engine, "before_cursor_execute", customer_created_meanwhile)
    assert fired  # the chunk ran into the other request's customer
    assert [(r.status, r.message) for r in rows] == [("switched", bulk.SWITCHED)] * 2
    for email in ("petra@example.org", "jan@example.org"):
        assert session.scalar(sa.select(sa.func.count()).where(PortalAccount.email == email)) == 1
        customer = session.scalar(sa.select(PortalAccount).where(PortalAccount.email == email))
        assert session.scalar(sa.select(sa.func.count()).where(AccessLink.customer_id == customer.id)) == 1
