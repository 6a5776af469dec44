"""Contract changes and the Kündigung (issue #14, item 1), called as use cases against the database:
each change is a new version with an effective date, a Nachtrag (and a Beitragsrechnung for the
pro-rata difference), repriced on the contract's own tariff version, delivered by its channel."""

from __future__ import annotations

import dataclasses
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pypdf import PdfReader
from werkzeug.datastructures import MultiDict

from calculator import quotes
from calculator.tariffs import Classes, Product
from contracts import cancellation, changes, services, versions
from contracts.models import Contract, Delivery, Document, DocumentKind, VersionKind
from contracts.settings import Rules
from contracts.settings import current as contract_settings
from core import storage
from core.formatting import TIMEZONE
from messaging.models import Kind, OutboxMessage
from tests.helpers import KFZ_ANSWERS, RS_ANSWERS, demo_stock

pytestmark = pytest.mark.usefixtures("demo_reference")

TODAY = date(2026, 3, 2)
RULES = Rules(backdate_days=90)


@pytest.fixture(autouse=True)
def _clock(time_machine):
    time_machine.move_to(datetime(2026, 3, 2, 10, 0, tzinfo=TIMEZONE), tick=False)


def _police(app, session, broker, answers, product, delivery=Delivery.POST, start=date(2026, 3, 16)) -> Contract:
    formdata = MultiDict(answers)
    with app.test_request_context():
        quote = quotes.evaluate(session, app.extensions["tariffs"], product, formdata, today=TODAY)
        assert quote.complete, quote.missing
        offer = quotes.store_offer(session, broker, quote, formdata)
        session.flush()
        portal = delivery is Delivery.PORTAL
        data = services.ApplicationData(
            start_date=start,
            account_holder="Jürgen Müller",
            iban="DE89370400440532013000",
            bic=None,
            delivery=delivery,
            email="juergen@example.org" if portal else None,
            mobile="+4915112345678" if portal else None,
        )
        application = services.submit_application(session, broker, offer, data, contract_settings())
    session.commit()
    contract = session.scalar(sa.select(Contract).where(Contract.application_id == application.id))
    assert contract is not None
    return contract


def _request(contract: Contract, **changed) -> changes.ContractChange:
    answers = contract.answers or {}

    def first(name: str) -> str:
        return (answers.get(name) or [""])[0]

    base = changes.ContractChange(
        effective=date(2026, 7, 1),
        street=contract.customer["street"],
        plz=contract.customer["plz"],
        city=contract.customer["city"],
        account_holder=contract.account_holder or "",
        iban=contract.iban or "",
        bic=None,
        mandate_accepted=False,
        frequency=contract.frequency,
        hsn=first("hsn") or None,
        tsn=first("tsn") or None,
        annual_mileage=int(first("fahrleistung")) if first("fahrleistung") else None,
        driver_circle=first("fahrerkreis") or None,
        youngest_driver_age=int(first("juengster_fahrer")) if first("juengster_fahrer") else None,
    )
    return dataclasses.replace(base, **changed)


def _change(app, session, user, contract, expected=None, **changed):
    with app.test_request_context():
        return changes.change_contract(
            session,
            user,
            contract,
            _request(contract, **changed),
            expected_version=contract.version if expected is None else expected,
            catalog=app.extensions["tariffs"],
            rules=RULES,
            today=TODAY,
        )


def _text(app, document: Document) -> str:
    with app.app_context():
        data = storage.load(document.storage_key)
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())


def test_a_new_vehicle_is_repriced_on_the_contract_s_tariff_with_a_nachtrag_and_a_pro_rata_invoice(
    app, session, broker
):
    contract = _police(app, session, broker, KFZ_ANSWERS, Product.KFZ)
    assert contract.main_due == date(2027, 1, 1)  # Kfz: Hauptfälligkeit 1 January
    old_annual, old_risk = contract.annual_total, quotes.risk_from_dict(contract.risk)

    version = _change(app, session, broker, contract, hsn="0588", tsn="BDP")  # Audi Q7: higher Typklassen
    session.commit()

    assert (version.seq, version.kind, version.endorsement_no) == (1, VersionKind.CHANGE, 1)
    # the premium comes from the contract's own tariff version with the new Typklassen
    expected = quotes.price(
        app.extensions["tariffs"].get(contract.tariff_version),
        dataclasses.replace(old_risk, type_classes=Classes(21, 30, 31)),
    )
    assert (contract.total, contract.annual_total) == (expected.total, expected.annual_total)
    assert contract.annual_total > old_annual
    # 184 days of the first insurance year (16.03.2026 – 01.01.2027) are left: ÷ 365, the days of
    # a year, not ÷ 291, the days of the shortened first year (issue #24 item 2)
    share = (contract.annual_total - old_annual) * Decimal(184) / Decimal(365)
    assert version.premium_delta == share.quantize(Decimal("0.01"))
    assert contract.answers["hsn"] == ["0588"]

    endorsement, invoice = contract.documents[-2:]
    assert (endorsement.kind, invoice.kind) == (DocumentKind.ENDORSEMENT, DocumentKind.INVOICE)
    text = _text(app, endorsement)
    assert "Nachtrag Nr. 1" in text
    assert "01.07.2026" in text
    assert "AUDI Q7" in text
    assert "VOLKSWAGEN-VW GOLF" in text
    invoice_text = _text(app, invoice)
    assert "Nachberechnung" in invoice_text
    assert f"{version.premium_delta:.2f}".replace(".", ",") in invoice_text
    # a post customer: one letter with both documents
    letter = session.scalar(
        sa.select(OutboxMessage).where(
            OutboxMessage.kind == Kind.LETTER,
            OutboxMessage.idempotency_key == f"document-letter:{endorsement.public_id}",
        )
    )
    assert letter.attachments == [endorsement.storage_key, invoice.storage_key]


def test_a_move_to_another_kreis_changes_the_regionalklassen_and_a_wrong_place_is_refused(app, session, broker):
    contract = _police(app, session, broker, KFZ_ANSWERS, Product.KFZ)  # Berlin: Regionalklassen 11/12/8
    with pytest.raises(versions.ChangeError) as wrong:
        _change(app, session, broker, contract, street="Neumarkt 2", plz="01067", city="Leipzig")
    assert (wrong.value.field, "Dresden" in wrong.value.message) == ("ort", True)
    session.rollback()
    before = contract.annual_total

    version = _change(app, session, broker, contract, street="Neumarkt 2", plz="01067", city="dresden")
    session.commit()
    assert contract.customer["city"] == "Dresden"  # as the PLZ directory spells it
    assert quotes.risk_from_dict(contract.risk).region_classes == Classes(6, 9, 5)
    assert contract.annual_total < before
    assert version.premium_delta < 0
    assert "Erstattung" in _text(app, contract.documents[-1])
    assert [c["label"] for c in version.changes] == ["Anschrift", "Regionalklassen", "Jahresbeitrag"]


def test_a_rechtsschutz_address_or_bank_change_brings_a_nachtrag_without_invoice(app, session, broker):
    contract = _police(app, session, broker, RS_ANSWERS, Product.RS)
    with pytest.raises(versions.ChangeError) as no_mandate:
        _change(app, session, broker, contract, iban="DE02120300000000202051")
    assert no_mandate.value.field == "sepa_mandat"
    session.rollback()

    version = _change(app, session, broker, contract, iban="DE02120300000000202051", mandate_accepted=True)
    session.commit()
    assert version.premium_delta is None
    assert contract.iban == "DE02120300000000202051"
    assert contract.mandate_reference.startswith("VR20260302")
    assert [d.kind for d in contract.documents][-1] is DocumentKind.ENDORSEMENT
    assert "DE02 **** **** **** **20 51" in _text(app, contract.documents[-1])


def test_the_data_at_any_date_and_effective_date_rules(app, session, broker):
    contract = _police(app, session, broker, RS_ANSWERS, Product.RS)
    _change(app, session, broker, contract, street="Neuer Weg 9")
    session.commit()
    before = versions.version_at(session, contract, date(2026, 6, 30))
    after = versions.version_at(session, contract, date(2026, 7, 1))
    assert (before.seq, before.data["customer"]["street"]) == (0, "Gartenweg 5")
    assert (after.seq, after.data["customer"]["street"]) == (1, "Neuer Weg 9")
    assert versions.version_at(session, contract, date(2026, 3, 15)) is None  # not begun yet

    for effective, words in (
        (date(2026, 6, 1), "letzte Änderung gilt ab 01.07.2026"),
        (date(2026, 3, 16), "letzte Änderung"),
        (date(2027, 3, 16), "Hauptfälligkeit am 16.03.2027"),
        (date(2026, 3, 10), "Vertragsbeginn"),
    ):
        with pytest.raises(versions.ChangeError) as refused:
            _change(app, session, broker, contract, effective=effective, street="Anderswo 1")
        assert refused.value.field == "wirksam_ab"
        assert words in refused.value.message
        session.rollback()
    with pytest.raises(versions.ChangeError, match="keine Vertragsangabe geändert"):
        _change(app, session, broker, contract, effective=date(2026, 8, 1))


def test_a_form_filled_in_on_an_older_version_is_refused_and_changes_nothing(app, session, broker, manager):
    contract = _police(app, session, broker, RS_ANSWERS, Product.RS)
    seen = contract.version
    _change(app, session, manager, contract, street="Erster Weg 1")  # a colleague was quicker
    session.commit()
    with pytest.raises(versions.ChangeError, match="inzwischen geändert"):
        _change(app, session, broker, contract, expected=seen, street="Zweiter Weg 2")
    session.rollback()
    session.refresh(contract)
    assert contract.customer["street"] == "Erster Weg 1"
    assert len(versions.history(session, contract)) == 2


def test_an_imported_contract_changes_its_address_but_not_its_zahlweise(app, session, broker, manager):
    contract = demo_stock(session, broker, manager)["BV-4711001"]
    assert contract.main_due == date(2027, 1, 1)
    assert contract.risk is None
    with pytest.raises(versions.ChangeError) as refused:
        _change(app, session, broker, contract, frequency="jaehrlich")
    assert refused.value.field == "zahlweise"
    session.rollback()
    version = _change(app, session, broker, contract, street="Domplatz 1")
    session.commit()
    assert version.endorsement_no == 1
    assert contract.customer["street"] == "Domplatz 1"


def test_a_kuendigung_goes_by_post_by_law_and_into_the_portal(app, session, broker):
    contract = _police(app, session, broker, RS_ANSWERS, Product.RS, delivery=Delivery.PORTAL)
    assert contract.main_due == date(2027, 3, 16)  # Rechtsschutz: the anniversary of the start
    with app.test_request_context():
        version = cancellation.cancel_contract(
            session,
            broker,
            contract,
            cancellation.Cancellation("kunde", "", received=TODAY),
            expected_version=contract.version,
            catalog=app.extensions["tariffs"],
            rules=RULES,
            today=TODAY,
        )
    session.commit()
    assert contract.ends_on == date(2027, 3, 16)  # notice kept (more than three months before)
    assert (version.kind, version.endorsement_no) == (VersionKind.CANCELLATION, 1)
    confirmation = contract.documents[-1]
    assert confirmation.kind is DocumentKind.CANCELLATION
    assert "16.03.2027" in _text(app, confirmation)
    # a portal contract, and still a letter: the law wants this one on paper
    letter = session.scalar(
        sa.select(OutboxMessage).where(OutboxMessage.idempotency_key == f"document-letter:{confirmation.public_id}")
    )
    assert letter.kind is Kind.LETTER
    assert letter.attachments == [confirmation.storage_key]
    assert confirmation.read_at is None  # and it waits unread in the portal
    with pytest.raises(versions.ChangeError, match=r"bereits zum 16\.03\.2027 gekündigt"), app.test_request_context():
        _cancel(app, session, broker, contract, "kunde")


def _cancel(app, session, broker, contract, reason, note="", received=TODAY, ends_on=None):
    with app.test_request_context():
        return cancellation.cancel_contract(
            session,
            broker,
            contract,
            cancellation.Cancellation(reason, note, received, ends_on),
            expected_version=None,
            catalog=app.extensions["tariffs"],
            rules=RULES,
            today=TODAY,
        )


def test_sonstiges_needs_a_note(app, session, broker):
    contract = _police(app, session, broker, RS_ANSWERS, Product.RS)
    with pytest.raises(versions.ChangeError) as refused:
        _cancel(app, session, broker, contract, "sonstiges", note=" ")
    assert refused.value.field == "bemerkung"
    with pytest.raises(versions.ChangeError) as wrong:
        _cancel(app, session, broker, contract, "fahrzeug", ends_on=TODAY)
    assert wrong.value.field == "grund"  # no vehicle in a Rechtsschutz contract


def test_a_new_vehicle_gets_a_new_evb_motor_seed(app, session, broker):
    """Motor seed 001 (issue #24 item 18): the eVB belongs to a vehicle — a vehicle change re-issues
    it for the new one (a new code, sent to the customer; the old code gone, kept in the audit trail)."""
    from contracts.models import Evb
    from core import audit

    contract = _police(app, session, broker, KFZ_ANSWERS, Product.KFZ, delivery=Delivery.PORTAL)
    old = contract.evb.code
    _change(app, session, broker, contract, hsn="0588", tsn="BDP")
    session.commit()
    evb = session.scalars(sa.select(Evb).where(Evb.contract_id == contract.id)).one()
    assert evb.code != old
    assert (evb.hsn, evb.tsn) == ("0588", "BDP")
    assert "Q7" in evb.vehicle
    entry = session.scalars(sa.select(audit.AuditEntry).where(audit.AuditEntry.action == "evb_reissued")).one()
    assert (entry.details["old_code"], entry.details["code"]) == (old, evb.code)
    mails = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "evb")).all()
    assert [m.subject.rsplit(" ", 1)[1] for m in mails] == [old, evb.code]  # the first, then the new one
