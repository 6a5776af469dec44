"""Issue #24 item 12 (motor seed 001): SF ½ only with a driving licence of at least three years (the
tariff's setting); an SF-Klasse taken over from a prior insurer is provisional until the back office
confirms or corrects it (corrected → Nachtrag with the difference); no confirmation within the
tariff's days → SF 0."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from calculator import quotes
from calculator.tariffs import Product, SFClass
from contracts import einstufung, versions
from contracts.models import ContractVersion, DocumentKind, VersionKind
from core.formatting import TIMEZONE
from tests.helpers import KFZ_ANSWERS
from tests.integration.test_contract_changes import _police, _text

pytestmark = pytest.mark.usefixtures("demo_reference")

TODAY = date(2026, 3, 2)
YEARLY = {**KFZ_ANSWERS, "zahlweise": "jaehrlich"}  # SF 12 / 10 from a prior insurer (HUK-COBURG)


@pytest.fixture(autouse=True)
def _clock(time_machine):
    time_machine.move_to(datetime(2026, 3, 2, 10, 0, tzinfo=TIMEZONE), tick=False)


def _quote(app, session, **answers):
    with app.test_request_context():
        return quotes.evaluate(
            session, app.extensions["tariffs"], Product.KFZ, MultiDict({**KFZ_ANSWERS, **answers}), today=TODAY
        )


@pytest.mark.parametrize(
    ("licence", "field", "message"),
    [
        ("03.03.2023", "sf_kh", "SF ½ setzt einen Führerschein seit mindestens 3 Jahren voraus"),  # 2 years
        ("", "fuehrerschein", "Für SF ½ geben Sie bitte an, seit wann der Führerschein besteht."),
        ("02.03.2023", None, None),  # three years to the day
    ],
)
def test_sf_half_needs_a_licence_of_three_years(app, session, licence, field, message):
    quote = _quote(app, session, sf_kh="1/2", sf_vk="1/2", vorversicherung="keine", fuehrerschein=licence)
    errors = {f.name: f.errors for f in quote.form if f.errors}
    if field is None:
        assert "sf_kh" not in errors
        assert "fuehrerschein" not in errors
    else:
        assert any(message in e for e in errors[field]), errors


def test_a_transferred_sf_klasse_waits_for_the_vorversicherer(app, session, broker):
    contract = _police(app, session, broker, YEARLY, Product.KFZ)
    assert contract.sf_confirmation == einstufung.PENDING
    assert contract.sf_confirm_by == TODAY + timedelta(days=90)  # the tariff's confirm_days
    beginner = _police(
        app, session, broker, {**YEARLY, "vorversicherung": "keine", "sf_kh": "0", "sf_vk": "0"}, Product.KFZ
    )
    assert beginner.sf_confirmation is None


def test_a_confirmed_class_brings_no_nachtrag(app, session, broker, backoffice):
    contract = _police(app, session, broker, YEARLY, Product.KFZ)
    documents = len(contract.documents)
    with app.test_request_context():
        assert (
            einstufung.confirm(
                session, backoffice, contract, "12", "10", catalog=app.extensions["tariffs"], today=TODAY
            )
            is None
        )
    session.commit()
    assert contract.sf_confirmation == einstufung.CONFIRMED
    assert len(contract.documents) == documents
    with pytest.raises(versions.ChangeError, match="warten auf keine Bestätigung"), app.test_request_context():
        einstufung.confirm(session, backoffice, contract, "12", "10", catalog=app.extensions["tariffs"], today=TODAY)


def test_a_corrected_class_is_charged_from_the_start_with_a_nachtrag(app, session, broker, backoffice):
    contract = _police(app, session, broker, YEARLY, Product.KFZ)  # 16.03.2026 – 01.01.2027: 291 days
    old = contract.annual_total
    with app.test_request_context():
        version = einstufung.confirm(
            session, backoffice, contract, "8", "6", catalog=app.extensions["tariffs"], today=TODAY
        )
    session.commit()
    assert contract.sf_confirmation == einstufung.CORRECTED
    risk = quotes.risk_from_dict(contract.risk)
    assert (risk.sf_kh, risk.sf_vk) == (SFClass("8"), SFClass("6"))
    assert contract.annual_total > old
    assert version.effective_date == date(2026, 3, 16)
    expected = ((contract.annual_total - old) * Decimal(291) / Decimal(365)).quantize(Decimal("0.01"))
    assert version.premium_delta == expected
    nachtrag, invoice = contract.documents[-2:]
    assert (nachtrag.kind, invoice.kind) == (DocumentKind.ENDORSEMENT, DocumentKind.INVOICE)
    text = _text(app, nachtrag)
    assert "nach Auskunft des Vorversicherers berichtigt" in text
    assert "SF 12" in text and "SF 8" in text  # noqa: PT018


def test_without_a_confirmation_in_time_the_worker_sets_sf_0_once(app, session, broker, time_machine):
    contract = _police(app, session, broker, YEARLY, Product.KFZ)
    catalog = app.extensions["tariffs"]
    with app.app_context():
        assert einstufung.expire(session, catalog) == 0  # not due yet
    time_machine.move_to(datetime(2026, 6, 1, 9, 0, tzinfo=TIMEZONE), tick=False)  # 31.05. passed
    with app.app_context():
        assert einstufung.expire(session, catalog) == 1
        assert einstufung.expire(session, catalog) == 0  # never twice
    session.refresh(contract)
    assert contract.sf_confirmation == einstufung.EXPIRED
    risk = quotes.risk_from_dict(contract.risk)
    assert (risk.sf_kh, risk.sf_vk) == (SFClass("0"), SFClass("0"))
    version = session.scalars(
        sa.select(ContractVersion).where(
            ContractVersion.contract_id == contract.id, ContractVersion.kind == VersionKind.CHANGE
        )
    ).one()
    assert version.actor_label == "Einstufung (ohne Bestätigung)"
    assert version.premium_delta > 0


def test_the_back_office_page_confirms_and_brokers_have_no_access(
    app, backoffice_client, broker_client, session, broker
):
    contract = _police(app, session, broker, YEARLY, Product.KFZ)
    assert broker_client.get("/innendienst/sf-bestaetigung").status_code == 403
    page = backoffice_client.get("/innendienst/sf-bestaetigung").get_data(as_text=True)
    assert contract.number in page
    assert "HUK-COBURG" in page
    from tests.helpers import csrf_token

    token = csrf_token(backoffice_client, "/innendienst/sf-bestaetigung")
    done = backoffice_client.post(
        f"/innendienst/sf-bestaetigung/{contract.public_id}", data={"csrf_token": token, "sf_kh": "12", "sf_vk": "10"}
    )
    assert done.status_code == 302
    follow = backoffice_client.get(done.location).get_data(as_text=True)
    assert f"SF-Klassen zum Vertrag {contract.number} bestätigt." in follow
    assert re.search("Keine SF-Klassen warten auf eine Bestätigung", follow)
