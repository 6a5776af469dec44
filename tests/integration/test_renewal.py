"""The yearly renewal (issue #14, item 2) as the worker runs it: SF-Klassen move, the premium comes
from the tariff valid at the Hauptfälligkeit, a new Versicherungsschein and Beitragsrechnung reach
the customer by the contract's channel; starting it again renews nothing twice; cancelled contracts
end instead; the report lists every contract."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from calculator import quotes
from calculator.tariffs import Product, SFClass
from contracts import cancellation, probelauf, renewal
from contracts.models import ContractVersion, DocumentKind, VersionKind
from contracts.settings import Rules
from contracts.settings import current as contract_settings
from core import jobs, storage
from core.formatting import TIMEZONE
from messaging.models import Kind, OutboxMessage
from tests.helpers import KFZ_ANSWERS, RS_ANSWERS, demo_stock
from tests.integration.test_contract_changes import _police

pytestmark = pytest.mark.usefixtures("demo_reference")

DUE = date(2027, 1, 1)


@pytest.fixture(autouse=True)
def _clock(time_machine):
    time_machine.move_to(datetime(2026, 3, 2, 10, 0, tzinfo=TIMEZONE), tick=False)


def _run(app, session) -> int:
    steps = 0
    with app.app_context():
        while jobs.runner(app, [renewal.JOB_KIND])(session):
            steps += 1
    return steps


def _renewals(session, contract) -> list[ContractVersion]:
    return list(
        session.scalars(
            sa.select(ContractVersion).where(
                ContractVersion.contract_id == contract.id, ContractVersion.kind == VersionKind.RENEWAL
            )
        )
    )


def _text(app, key: str) -> str:
    with app.app_context():
        data = storage.load(key)
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())


def test_a_kfz_contract_moves_up_a_class_is_repriced_and_gets_its_new_documents(
    app, session, broker, backoffice, time_machine
):
    contract = _police(app, session, broker, KFZ_ANSWERS, Product.KFZ)  # SF 12 / 10, post
    risk = quotes.risk_from_dict(contract.risk)
    time_machine.move_to(datetime(2026, 12, 1, 9, 0, tzinfo=TIMEZONE), tick=False)
    run = renewal.start(session, DUE, actor=backoffice, today=date(2026, 12, 1))
    session.commit()
    assert run.total == 1
    assert _run(app, session) >= 1

    session.refresh(contract)
    (version,) = _renewals(session, contract)
    assert (version.renewal_due, version.run_id, version.endorsement_no) == (DUE, run.id, None)
    moved = quotes.risk_from_dict(contract.risk)
    assert (moved.sf_kh, moved.sf_vk) == (SFClass("13"), SFClass("11"))  # a claim-free year: one class up
    catalog = app.extensions["tariffs"]
    expected = quotes.price(
        catalog.current(Product.KFZ, DUE), dataclasses.replace(risk, sf_kh=moved.sf_kh, sf_vk=moved.sf_vk)
    )
    assert contract.total == expected.total
    assert contract.tariff_version == expected.tariff_version
    assert contract.main_due == date(2028, 1, 1)
    assert contract.answers["sf_kh"] == ["13"]

    policy, invoice = contract.documents[-2:]
    assert (policy.kind, policy.title) == (DocumentKind.POLICY, "Versicherungsschein 2027")
    assert (invoice.kind, invoice.title) == (DocumentKind.INVOICE, "Beitragsrechnung 2027")
    text = _text(app, policy.storage_key)
    assert "01.01.2027 bis 01.01.2028" in text
    assert "SF 13" in text
    letter = session.scalar(
        sa.select(OutboxMessage).where(OutboxMessage.idempotency_key == f"document-letter:{policy.public_id}")
    )
    assert letter.kind is Kind.LETTER
    assert letter.attachments == [policy.storage_key, invoice.storage_key]  # one letter for both

    rows = list(csv.reader(io.StringIO(renewal.report_csv(session, run).lstrip("\ufeff")), delimiter=";"))
    assert rows[1][:4] == [contract.number, contract.customer_name, "01.01.2027", "verlängert"]
    assert "SF-Klasse Kfz-Haftpflicht: SF 12 → SF 13" in rows[1][4]


def test_starting_the_same_due_date_again_renews_nothing_twice(app, session, broker, manager, backoffice, time_machine):
    stock = demo_stock(session, broker, manager)  # imported: no tariff data, the premium stays
    time_machine.move_to(datetime(2026, 12, 1, 9, 0, tzinfo=TIMEZONE), tick=False)
    due_now = [c for c in stock.values() if c.main_due == DUE]
    # the two Kfz contracts (1 January) and the Rechtsschutz contract begun on 1 January 2021; the
    # one begun on 15 June is due earlier (2026-06-15): a run renews everything due by its date
    assert sorted(c.number for c in due_now) == ["BV-4711001", "BV-4711002", "BV-4711004"]
    assert stock["BV-4711003"].main_due == date(2026, 6, 15)
    renewal.start(session, DUE, actor=backoffice, today=date(2026, 12, 1))
    session.commit()
    with pytest.raises(renewal.RenewalError, match="läuft bereits"):
        renewal.start(session, DUE, actor=backoffice, today=date(2026, 12, 1))
    session.rollback()
    _run(app, session)
    run = renewal.start(session, DUE, actor=backoffice, today=date(2026, 12, 1))  # once more
    session.commit()
    _run(app, session)
    for contract in due_now:
        session.refresh(contract)
        assert len(_renewals(session, contract)) == 1
        assert contract.main_due == date(2028, 1, 1)
        assert [d.title for d in contract.documents] == ["Versicherungsschein 2027", "Beitragsrechnung 2027"]
    assert renewal.progress(session, run).renewed == 4
    assert [v.renewal_due for v in _renewals(session, stock["BV-4711003"])] == [date(2026, 6, 15)]
    assert [d.title for d in stock["BV-4711003"].documents][-1] == "Beitragsrechnung 2026/2027"
    assert run.starts == 2
    # issue #26 item 25: the report lists only what changed — the imported contracts keep their premium
    rows = list(csv.reader(io.StringIO(renewal.report_csv(session, run).lstrip("\ufeff")), delimiter=";"))
    assert rows[1:]
    assert all(row[4] == "keine Änderung" for row in rows[1:]), rows


def test_a_cancelled_contract_ends_instead_of_being_renewed(app, session, broker, time_machine):
    contract = _police(app, session, broker, RS_ANSWERS, Product.RS, start=date(2026, 3, 16))
    with app.test_request_context():
        cancellation.cancel_contract(
            session,
            broker,
            contract,
            cancellation.Cancellation("kunde", "", received=date(2026, 3, 2)),
            expected_version=None,
            catalog=app.extensions["tariffs"],
            rules=Rules(90),
            today=date(2026, 3, 2),
        )
    session.commit()
    time_machine.move_to(datetime(2027, 3, 1, 9, 0, tzinfo=TIMEZONE), tick=False)
    run = renewal.start(session, date(2027, 3, 16), actor=None, today=date(2027, 3, 1), label="Scheduler")
    session.commit()
    _run(app, session)
    assert run.total == 0
    assert _renewals(session, contract) == []


def test_a_due_date_too_far_ahead_is_refused(session):
    with pytest.raises(renewal.RenewalError, match="höchstens 62 Tage"):
        renewal.start(session, date(2027, 3, 1), actor=None, today=date(2026, 12, 1))


def test_the_cli_starts_the_renewal_for_a_scheduler(cli_app):
    runner = cli_app.test_cli_runner()
    result = runner.invoke(args=["contracts", "renew", "--due", "2026-04-01"])
    assert result.exit_code == 0, result.output
    assert "Verlängerung zum 01.04.2026" in result.output
    again = runner.invoke(args=["contracts", "renew", "--due", "2026-04-01"])
    assert again.exit_code == 1
    assert "läuft bereits" in again.output
    wrong = runner.invoke(args=["contracts", "renew", "--due", "01.04.2026"])
    assert wrong.exit_code == 2


def test_an_active_portal_customer_gets_one_e_mail_for_his_renewed_contracts_and_no_letter(
    app, session, broker, manager, backoffice, time_machine
):
    from tests.integration.test_new_documents import _active_portal_customer, _announcements

    stock = demo_stock(session, broker, manager)
    customer = _active_portal_customer(session, stock["BV-4711001"], stock["BV-4711002"])
    session.commit()
    time_machine.move_to(datetime(2026, 12, 1, 9, 0, tzinfo=TIMEZONE), tick=False)
    renewal.start(session, DUE, actor=backoffice, today=date(2026, 12, 1))
    session.commit()
    _run(app, session)
    (mail,) = _announcements(session)  # four new documents of two contracts: one e-mail
    assert mail.recipient == customer.email
    assert "Versicherungsschein" not in mail.body_text  # no contract details in the mail
    for number in ("BV-4711001", "BV-4711002"):
        contract = stock[number]
        session.refresh(contract)
        assert [d.read_at for d in contract.documents] == [None, None]  # unread in "Meine Dokumente"
        letters = session.scalar(
            sa.select(sa.func.count()).where(
                OutboxMessage.kind == Kind.LETTER, OutboxMessage.related_id == contract.public_id
            )
        )
        assert letters == 0


def test_a_paid_haftpflicht_claim_moves_sf_kh_down_and_vk_up(app, session, broker, backoffice, time_machine):
    from contracts import claim_status, claims
    from contracts.models import ClaimKind, ClaimStatus

    contract = _police(app, session, broker, KFZ_ANSWERS, Product.KFZ)  # SF 12 / 10 from 16.03.2026
    time_machine.move_to(datetime(2026, 6, 10, 9, 0, tzinfo=TIMEZONE), tick=False)
    with app.test_request_context():
        claim = claims.report_claim(
            session,
            contract,
            claims.ClaimReport(ClaimKind.KH, date(2026, 6, 9), "Köln", "Auffahrunfall an der Ampel."),
            [],
            limits=claims.UploadLimits(5, 1024),
            today=date(2026, 6, 10),
            reporter="kunde@example.org",
            catalog=contract_settings().catalog,
        )
        claim_status.set_status(  # only a claim the insurer paid counts (AKB, SF system)
            session,
            backoffice,
            claim,
            claim_status.StatusChange(ClaimStatus.PAID, date(2026, 6, 10), Decimal("1200.00")),
            catalog=app.extensions["tariffs"],
            today=date(2026, 6, 10),
        )
    session.commit()
    time_machine.move_to(datetime(2026, 12, 1, 9, 0, tzinfo=TIMEZONE), tick=False)
    renewal.start(session, DUE, actor=backoffice, today=date(2026, 12, 1))
    session.commit()
    _run(app, session)
    session.refresh(contract)
    moved = quotes.risk_from_dict(contract.risk)
    table = app.extensions["tariffs"].current(Product.KFZ, DUE).rueckstufung_kh
    assert moved.sf_kh == table[SFClass("12")][0]  # one claim: the Rückstufungstabelle
    assert moved.sf_kh < SFClass("12")
    assert moved.sf_vk == SFClass("11")  # a Haftpflicht claim leaves the Vollkasko claim-free


def _run_preview(app, session) -> int:
    steps = 0
    with app.app_context():
        while jobs.runner(app, [probelauf.PREVIEW_JOB_KIND])(session):
            steps += 1
    return steps


def test_the_probelauf_says_what_the_renewal_would_do_and_changes_nothing(
    app, session, broker, manager, backoffice, time_machine
):
    """Issue #26 item 25: before "Jetzt durchführen" the Probelauf renews every contract due in a
    savepoint that is rolled back — how many premiums rise, fall or stay, the biggest changes, the
    failures to expect — and leaves no trace on the contracts; the renewal from the page waits for it."""
    moving = _police(app, session, broker, KFZ_ANSWERS, Product.KFZ)  # SF 12 → 13: its premium falls
    stock = demo_stock(session, broker, manager)  # imported, due 01.01.2027 too: their premium stays
    session.commit()
    before = {c.id: (c.annual_total, c.main_due, c.risk) for c in [moving, *stock.values()]}
    time_machine.move_to(datetime(2026, 12, 1, 9, 0, tzinfo=TIMEZONE), tick=False)
    with pytest.raises(renewal.RenewalError, match="zuerst den Probelauf"):
        renewal.start(session, DUE, actor=backoffice, today=date(2026, 12, 1), preview_required=True)
    session.rollback()
    preview = probelauf.start_preview(session, DUE, actor=backoffice, today=date(2026, 12, 1))
    session.commit()
    assert preview.total == 5  # the Kfz contract and the four imported ones due by 01.01.2027
    with pytest.raises(renewal.RenewalError, match="läuft bereits"):
        probelauf.start_preview(session, DUE, actor=backoffice, today=date(2026, 12, 1))
    session.rollback()
    assert _run_preview(app, session) >= 1
    session.refresh(preview)
    assert preview.finished_at is not None
    assert (preview.processed, preview.rises, preview.falls, preview.stays) == (5, 0, 1, 4)
    assert preview.failures == []
    (change,) = preview.biggest
    assert change["number"] == moving.number
    assert Decimal(change["new"]) < Decimal(change["old"]) == before[moving.id][0]
    session.expire_all()
    for contract_id, (annual, due, risk) in before.items():  # nothing changed
        contract = session.get(type(moving), contract_id)
        assert (contract.annual_total, contract.main_due, contract.risk) == (annual, due, risk)
    assert session.scalar(sa.select(sa.func.count()).select_from(ContractVersion)) == 0
    run = renewal.start(session, DUE, actor=backoffice, today=date(2026, 12, 1), preview_required=True)
    session.commit()
    assert run.total == 5
