"""Issue #24 items 8, 9 and 11 as use cases on the database: a claim's status, only a paid claim
counts for the Rückstufung, the Schadenrückkauf (AKB I.5), the Nachstufung of a renewal already run
(AKB, SF system), and the Rabattschutz that ends instead of failing (seed 001)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from calculator import quotes
from calculator.tariffs import Product, SFClass
from contracts import claim_status, claims, renewal
from contracts.models import ClaimKind, ClaimStatus, DocumentKind, VersionKind
from contracts.settings import current as contract_settings
from core.formatting import TIMEZONE
from messaging.models import OutboxMessage
from tests.helpers import KFZ_ANSWERS
from tests.integration.test_contract_changes import _police, _request, _text
from tests.integration.test_renewal import _run

pytestmark = pytest.mark.usefixtures("demo_reference")

DUE = date(2027, 1, 1)
PORTAL_KFZ = {**KFZ_ANSWERS, "zahlweise": "jaehrlich"}


@pytest.fixture(autouse=True)
def _clock(time_machine):
    time_machine.move_to(datetime(2026, 3, 2, 10, 0, tzinfo=TIMEZONE), tick=False)


def _at(time_machine, day: date) -> date:
    time_machine.move_to(datetime(day.year, day.month, day.day, 10, 0, tzinfo=TIMEZONE), tick=False)
    return day


def _report(app, session, contract, kind: ClaimKind, occurred: date, today: date):
    with app.test_request_context():
        return claims.report_claim(
            session,
            contract,
            claims.ClaimReport(kind, occurred, "Köln", "Beim Rangieren gegen einen Poller gefahren."),
            [],
            limits=claims.UploadLimits(5, 1024),
            today=today,
            reporter="kunde@example.org",
            catalog=contract_settings().catalog,
        )


def _status(app, session, user, claim, status: ClaimStatus, on: date, amount=None, note="", today=None):
    with app.test_request_context():
        return claim_status.set_status(
            session,
            user,
            claim,
            claim_status.StatusChange(status, on, Decimal(amount) if amount else None, note),
            catalog=app.extensions["tariffs"],
            today=today or on,
        )


def _buy_back(app, session, user, claim, on: date, today=None):
    with app.test_request_context():
        return claim_status.buy_back(session, user, claim, on, catalog=app.extensions["tariffs"], today=today or on)


def _renew(app, session, backoffice, today: date) -> None:
    renewal.start(session, DUE, actor=backoffice, today=today)
    session.commit()
    _run(app, session)


def _sf(contract):
    risk = quotes.risk_from_dict(contract.risk)
    return risk.sf_kh, risk.sf_vk


@pytest.mark.parametrize(
    ("steps", "counts"),
    [
        ([], False),  # gemeldet
        ([ClaimStatus.IN_PROGRESS], False),
        ([ClaimStatus.SETTLED_WITHOUT_PAYMENT], False),
        ([ClaimStatus.IN_PROGRESS, ClaimStatus.DECLINED], False),
        ([ClaimStatus.IN_PROGRESS, ClaimStatus.PAID], True),
        ([ClaimStatus.PAID, "rueckkauf"], False),  # Schadenrückkauf: it no longer counts
    ],
)
def test_only_a_paid_claim_that_was_not_bought_back_moves_the_sf_klasse_down(
    app, session, broker, backoffice, time_machine, steps, counts
):
    """AKB, SF system: "nur Schäden, für die der Versicherer Zahlungen geleistet hat" count;
    Schadenrückkauf (AKB I.5) undoes one."""
    contract = _police(app, session, broker, PORTAL_KFZ, Product.KFZ)  # SF 12 / 10 from 16.03.2026
    claim = _report(app, session, contract, ClaimKind.VK, date(2026, 5, 2), _at(time_machine, date(2026, 5, 4)))
    for step in steps:
        if step == "rueckkauf":
            _buy_back(app, session, backoffice, claim, date(2026, 6, 1))
        else:
            amount = "2450.00" if step is ClaimStatus.PAID else None
            _status(app, session, backoffice, claim, step, date(2026, 5, 20), amount, note="Kein Versicherungsfall.")
    session.commit()
    _at(time_machine, date(2026, 12, 1))
    _renew(app, session, backoffice, date(2026, 12, 1))
    session.refresh(contract)
    sf_kh, sf_vk = _sf(contract)
    assert sf_kh == SFClass("13")  # no Haftpflicht claim: up one class
    table = app.extensions["tariffs"].get(contract.tariff_version).rueckstufung_vk
    assert sf_vk == (table[SFClass("10")][0] if counts else SFClass("11"))


def test_every_status_is_a_schadenmitteilung_and_an_e_mail(app, session, broker, backoffice, time_machine):
    """Issue #24 item 8: each step reaches the customer; the paid one names the amount and the
    Schadenrückkauf deadline (six months, the tariff's buyback_months)."""
    from contracts.models import Delivery

    contract = _police(app, session, broker, PORTAL_KFZ, Product.KFZ, delivery=Delivery.PORTAL)
    claim = _report(app, session, contract, ClaimKind.VK, date(2026, 5, 2), _at(time_machine, date(2026, 5, 4)))
    _status(app, session, backoffice, claim, ClaimStatus.IN_PROGRESS, date(2026, 5, 4))
    _status(app, session, backoffice, claim, ClaimStatus.PAID, date(2026, 5, 4), "2450.00")
    session.commit()
    letters = [d for d in contract.documents if d.kind is DocumentKind.CLAIM_STATUS]
    assert [d.title for d in letters] == [
        f"Schaden {claim.number} – in Bearbeitung",
        f"Schaden {claim.number} – reguliert (mit Zahlung)",
    ]
    text = _text(app, letters[-1])
    assert "am 04.05.2026 reguliert und 2.450,00 € gezahlt" in text
    assert "bis zum 04.11.2026 zurück (Schadenrückkauf)" in text
    assert "innerhalb von 1 Monat kündigen (§§ 92, 111 VVG)" in text
    subjects = session.scalars(
        sa.select(OutboxMessage.subject).where(OutboxMessage.idempotency_key.like(f"claim-status:{claim.public_id}%"))
    ).all()
    assert sorted(subjects) == sorted(
        [f"Ihr Schaden {claim.number}: in Bearbeitung", f"Ihr Schaden {claim.number}: reguliert (mit Zahlung)"]
    )


@pytest.mark.parametrize(
    ("status", "amount", "note", "field", "message"),
    [
        (ClaimStatus.PAID, None, "", "betrag", "gezahlten Betrag"),
        (ClaimStatus.PAID, "0", "", "betrag", "gezahlten Betrag"),
        (ClaimStatus.DECLINED, None, "", "bemerkung", "begründen Sie die Ablehnung"),
        (ClaimStatus.SETTLED_WITHOUT_PAYMENT, "100", "", "betrag", "nur zu „reguliert (mit Zahlung)“"),
    ],
)
def test_a_decision_without_what_it_needs_is_refused_at_its_field(
    app, session, broker, backoffice, time_machine, status, amount, note, field, message
):
    contract = _police(app, session, broker, PORTAL_KFZ, Product.KFZ)
    claim = _report(app, session, contract, ClaimKind.VK, date(2026, 5, 2), _at(time_machine, date(2026, 5, 4)))
    session.commit()
    with pytest.raises(claim_status.ClaimStatusError, match=re.escape(message)) as refused:
        _status(app, session, backoffice, claim, status, date(2026, 5, 4), amount, note)
    assert refused.value.field == field
    session.rollback()
    session.refresh(claim)
    assert claim.status is ClaimStatus.REPORTED


def test_a_decided_claim_cannot_be_decided_again(app, session, broker, backoffice, time_machine):
    contract = _police(app, session, broker, PORTAL_KFZ, Product.KFZ)
    claim = _report(app, session, contract, ClaimKind.VK, date(2026, 5, 2), _at(time_machine, date(2026, 5, 4)))
    _status(app, session, backoffice, claim, ClaimStatus.DECLINED, date(2026, 5, 4), note="Vorsatz.")
    session.commit()
    with pytest.raises(claim_status.ClaimStatusError, match="kann nicht mehr gesetzt werden"):
        _status(app, session, backoffice, claim, ClaimStatus.PAID, date(2026, 5, 4), "100")


def test_a_late_vollkasko_claim_corrects_the_renewal_already_run_nachstufung(
    app, session, broker, backoffice, time_machine
):
    """Issue #24 item 9 (AKB, SF system): a Vollkasko claim dated 15.12., reported and paid after
    the renewal for 01.01. had run on 20.11., still moves SF VK down — the renewal's classes are
    computed again, the premium from 01.01. follows, a Nachtrag with the Nachberechnung goes out."""
    contract = _police(app, session, broker, PORTAL_KFZ, Product.KFZ)
    _at(time_machine, date(2026, 11, 20))
    _renew(app, session, backoffice, date(2026, 11, 20))
    session.refresh(contract)
    assert _sf(contract) == (SFClass("13"), SFClass("11"))  # claim-free: both up
    renewed_annual = contract.annual_total

    claim = _report(app, session, contract, ClaimKind.VK, date(2026, 12, 15), _at(time_machine, date(2026, 12, 18)))
    outcome = _status(app, session, backoffice, claim, ClaimStatus.PAID, date(2026, 12, 22), "3100.00")
    session.commit()
    session.refresh(contract)
    table = app.extensions["tariffs"].get(contract.tariff_version).rueckstufung_vk
    assert _sf(contract) == (SFClass("13"), table[SFClass("10")][0])  # VK from SF 10 by the table
    version = outcome.restated
    assert version is not None
    assert (version.kind, version.effective_date) == (VersionKind.CHANGE, DUE)
    assert {"label": "SF-Klasse Vollkasko", "old": "SF 11", "new": table[SFClass("10")][0].label} in version.changes
    assert contract.annual_total > renewed_annual
    # the whole insurance year from 01.01.2027: the annual difference
    assert version.premium_delta == contract.annual_total - renewed_annual
    nachtrag, invoice = contract.documents[-2:]
    assert (nachtrag.kind, invoice.kind) == (DocumentKind.ENDORSEMENT, DocumentKind.INVOICE)
    assert "Nachberechnung vom 01.01.2027 bis 01.01.2028" in _text(app, invoice)


def test_a_schadenrueckkauf_after_the_renewal_moves_the_class_back_up_with_a_refund(
    app, session, broker, backoffice, time_machine
):
    contract = _police(app, session, broker, PORTAL_KFZ, Product.KFZ)
    claim = _report(app, session, contract, ClaimKind.KH, date(2026, 9, 1), _at(time_machine, date(2026, 9, 2)))
    _status(app, session, backoffice, claim, ClaimStatus.PAID, date(2026, 10, 15), "800.00")
    session.commit()
    _at(time_machine, date(2026, 11, 20))
    _renew(app, session, backoffice, date(2026, 11, 20))
    session.refresh(contract)
    table = app.extensions["tariffs"].get(contract.tariff_version).rueckstufung_kh
    assert _sf(contract)[0] == table[SFClass("12")][0]
    down_annual = contract.annual_total

    # within six months of the payment (15.10.2026 → 15.04.2027)
    outcome = _buy_back(app, session, backoffice, claim, _at(time_machine, date(2027, 2, 1)))
    session.commit()
    session.refresh(contract)
    assert _sf(contract)[0] == SFClass("13")  # as if claim-free
    assert outcome.restated is not None
    assert outcome.restated.premium_delta == contract.annual_total - down_annual < 0  # Erstattung
    assert claim.repaid_on == date(2027, 2, 1)


def test_a_schadenrueckkauf_after_its_six_months_is_refused(app, session, broker, backoffice, time_machine):
    contract = _police(app, session, broker, PORTAL_KFZ, Product.KFZ)
    claim = _report(app, session, contract, ClaimKind.KH, date(2026, 4, 1), _at(time_machine, date(2026, 4, 2)))
    _status(app, session, backoffice, claim, ClaimStatus.PAID, date(2026, 4, 10), "800.00")
    session.commit()
    with pytest.raises(claim_status.ClaimStatusError, match=r"nur bis zum 10\.10\.2026 möglich") as refused:
        _buy_back(app, session, backoffice, claim, date(2026, 10, 11))
    assert refused.value.field == "datum"
    session.rollback()
    declined = _report(app, session, contract, ClaimKind.KH, date(2026, 4, 3), date(2026, 4, 3))
    _status(app, session, backoffice, declined, ClaimStatus.DECLINED, date(2026, 4, 10), note="Kein Schaden.")
    with pytest.raises(claim_status.ClaimStatusError, match="nur ein regulierter Kfz-Schaden mit Zahlung"):
        _buy_back(app, session, backoffice, declined, date(2026, 4, 12))


def test_a_nachstufung_of_an_ended_contract_is_refused(app, session, broker, backoffice, time_machine):
    from tests.integration.test_money_and_cancellation import _cancel

    contract = _police(app, session, broker, PORTAL_KFZ, Product.KFZ)
    _at(time_machine, date(2026, 11, 20))
    _renew(app, session, backoffice, date(2026, 11, 20))
    claim = _report(app, session, contract, ClaimKind.VK, date(2026, 12, 10), _at(time_machine, date(2026, 12, 11)))
    session.refresh(contract)
    _cancel(app, session, broker, contract, "fahrzeug", ends_on=date(2026, 12, 11), today=date(2026, 12, 11))
    session.commit()
    _at(time_machine, date(2026, 12, 20))
    with pytest.raises(claim_status.ClaimStatusError, match="Nachstufung ist nicht mehr möglich"):
        _status(app, session, backoffice, claim, ClaimStatus.PAID, date(2026, 12, 20), "500.00")


def test_rabattschutz_ends_at_the_renewal_instead_of_failing_it(app, session, broker, backoffice, time_machine):
    """Issue #24 item 11 (seed 001: Rabattschutz only with SF 4 or better): two paid Haftpflicht
    claims — the Rabattschutz keeps one, the other moves SF 4 down the table, below SF 4: the
    Rabattschutz ends with the renewal, which reprices without it."""
    answers = {**PORTAL_KFZ, "sf_kh": "4", "sf_vk": "4", "rabattschutz": "y"}
    contract = _police(app, session, broker, answers, Product.KFZ)
    assert quotes.risk_from_dict(contract.risk).rabattschutz
    for day in (date(2026, 5, 1), date(2026, 6, 1)):
        claim = _report(app, session, contract, ClaimKind.KH, day, _at(time_machine, day))
        _status(app, session, backoffice, claim, ClaimStatus.PAID, day, "400.00")
    session.commit()
    _at(time_machine, date(2026, 12, 1))
    _renew(app, session, backoffice, date(2026, 12, 1))
    session.refresh(contract)
    risk = quotes.risk_from_dict(contract.risk)
    table = app.extensions["tariffs"].get(contract.tariff_version).rueckstufung_kh
    assert risk.sf_kh == table[SFClass("4")][0]
    assert risk.rabattschutz is False
    assert "rabattschutz" not in contract.answers
    version = session.scalar(
        sa.select(renewal.ContractVersion).where(
            renewal.ContractVersion.contract_id == contract.id, renewal.ContractVersion.kind == VersionKind.RENEWAL
        )
    )
    assert any(c["label"] == "Rabattschutz" and c["new"].startswith("beendet") for c in version.changes)
    assert not [line for line in contract.premium["lines"] if "Rabattschutz" in line["label"]]


def test_a_driver_under_23_ends_the_rabattschutz_instead_of_refusing_the_change(app, session, broker, time_machine):
    from contracts import changes
    from tests.integration.test_contract_changes import RULES

    answers = {**PORTAL_KFZ, "sf_kh": "12", "sf_vk": "10", "rabattschutz": "y"}
    contract = _police(app, session, broker, answers, Product.KFZ)
    with app.test_request_context():
        version = changes.change_contract(
            session,
            broker,
            contract,
            _request(contract, driver_circle="any", youngest_driver_age=19),
            expected_version=contract.version,
            catalog=app.extensions["tariffs"],
            rules=RULES,
            today=date(2026, 3, 2),
        )
    session.commit()
    assert quotes.risk_from_dict(contract.risk).rabattschutz is False
    ended = next(c for c in version.changes if c["label"] == "Rabattschutz")
    assert ended["new"].startswith("beendet – Der jüngste Fahrer muss mindestens 23 Jahre alt sein.")
    assert "Rabattschutz" in _text(app, contract.documents[-2])  # the Nachtrag says so
