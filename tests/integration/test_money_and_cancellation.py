"""Issue #24, money and cancellation as use cases on the database, PDFs read back: the shortened
first insurance year charged pro rata temporis, a change ÷ 365, the end by sale or de-registration
with its refund (§§ 95, 96, 39 VVG; AKB), the notice counted from the day the Kündigung arrived
(§ 11 Abs. 2 VVG; AKB G.1.2) and the Rücknahme of a Kündigung."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from calculator.tariffs import Product
from contracts import cancellation, changes, versions
from contracts.models import DocumentKind, VersionKind
from contracts.settings import current as contract_settings
from core import audit
from core.formatting import TIMEZONE
from tests.helpers import KFZ_ANSWERS, RS_ANSWERS
from tests.integration.test_contract_changes import RULES, _police, _text

pytestmark = pytest.mark.usefixtures("demo_reference")

TODAY = date(2026, 9, 20)
START = date(2026, 10, 1)  # a Kfz contract from 01.10. runs to its Hauptfälligkeit 01.01.
YEARLY = {**KFZ_ANSWERS, "zahlweise": "jaehrlich"}


@pytest.fixture(autouse=True)
def _clock(time_machine):
    time_machine.move_to(datetime(2026, 9, 20, 10, 0, tzinfo=TIMEZONE), tick=False)


def _cancel(app, session, user, contract, reason, *, received=TODAY, ends_on=None, today=TODAY, note=""):
    with app.test_request_context():
        return cancellation.cancel_contract(
            session,
            user,
            contract,
            cancellation.Cancellation(reason, note, received, ends_on),
            expected_version=contract.version,
            catalog=app.extensions["tariffs"],
            rules=RULES,
            today=today,
        )


def _withdraw(app, session, user, contract, today=TODAY):
    with app.test_request_context():
        return cancellation.withdraw_cancellation(
            session, user, contract, expected_version=contract.version, today=today, catalog=contract_settings().catalog
        )


def _eur(amount: Decimal) -> str:
    return f"{amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") + " €"


def test_the_first_beitragsrechnung_of_a_kfz_contract_from_01_10_charges_92_days(app, session, broker):
    """Issue #24 item 1 (AKB: Hauptfälligkeit 1 January): the first, shortened insurance year
    01.10.–01.01. is charged pro rata temporis (annual × 92 ÷ 365), and the Versicherungsschein says
    "erstes Versicherungsjahr vom 01.10. bis 01.01., danach jährlich zum 01.01."."""
    contract = _police(app, session, broker, YEARLY, Product.KFZ, start=START)
    assert contract.main_due == date(2027, 1, 1)
    expected = (contract.annual_total * Decimal(92) / Decimal(365)).quantize(Decimal("0.01"))
    assert expected < contract.annual_total
    policy, invoice = contract.documents[:2]
    assert (policy.kind, invoice.kind) == (DocumentKind.POLICY, DocumentKind.INVOICE)
    text = _text(app, invoice)
    assert f"Beitrag vom 01.10.2026 bis 01.01.2027 {_eur(expected)}" in text
    assert f"Den Betrag von {_eur(expected)} ziehen wir zum 01.10.2026" in text
    assert f"Den Betrag von {_eur(contract.annual_total)}" not in text
    policy_text = _text(app, policy)
    assert "erstes Versicherungsjahr vom 01.10.2026 bis 01.01.2027, danach jährlich zum 01.01." in policy_text
    assert "Hauptfälligkeit 01.01.2027 (jährlich zum 01.01.)" in policy_text
    assert "spätestens 1 Monat vor Ablauf zugeht" in policy_text  # the Kfz tariff's notice


def test_a_rechtsschutz_contract_on_its_anniversary_pays_a_whole_first_year(app, session, broker):
    contract = _police(app, session, broker, RS_ANSWERS, Product.RS, start=START)
    assert contract.main_due == date(2027, 10, 1)
    text = _text(app, contract.documents[1])
    assert f"Den Betrag von {_eur(contract.total)} ziehen wir zum 01.10.2026" in text
    assert "tagegenau" not in text
    assert "erstes Versicherungsjahr" not in _text(app, contract.documents[0])


def test_a_change_in_the_shortened_first_year_is_charged_by_the_days_of_a_year(app, session, broker, time_machine):
    """Issue #24 item 2: a change on 16.11. of a contract begun 01.10.: the annual difference × 46 ÷
    365 (the example: 85,60 € a year more → 10,79 €, not 42,80 €)."""
    from tests.integration.test_contract_changes import _request

    contract = _police(app, session, broker, YEARLY, Product.KFZ, start=START)
    old = contract.annual_total
    time_machine.move_to(datetime(2026, 11, 16, 10, 0, tzinfo=TIMEZONE), tick=False)
    with app.test_request_context():
        version = changes.change_contract(
            session,
            broker,
            contract,
            _request(contract, effective=date(2026, 11, 16), annual_mileage=20000),
            expected_version=contract.version,
            catalog=app.extensions["tariffs"],
            rules=RULES,
            today=date(2026, 11, 16),
        )
    session.commit()
    difference = contract.annual_total - old
    assert difference > 0
    assert version.premium_delta == (difference * Decimal(46) / Decimal(365)).quantize(Decimal("0.01"))
    invoice = contract.documents[-1]
    assert f"Nachberechnung vom 16.11.2026 bis 01.01.2027 {_eur(version.premium_delta)}" in _text(app, invoice)


def test_a_sold_vehicle_ends_the_contract_on_that_day_with_the_unused_premium_refunded(app, session, broker):
    """Issue #24 item 3 (§§ 95, 96, 39 VVG; AKB Veräußerung/Außerbetriebsetzung): the contract ends on
    the day of the sale, not at the next-but-one Hauptfälligkeit; the premium paid for the days after
    it comes back by the day."""
    contract = _police(app, session, broker, YEARLY, Product.KFZ, start=date(2026, 9, 1))
    version = _cancel(app, session, broker, contract, "fahrzeug", ends_on=date(2026, 9, 15))
    session.commit()
    assert contract.ends_on == date(2026, 9, 15)
    # yearly: paid to the Hauptfälligkeit 01.01.2027; 108 days after the sale come back
    refund = (contract.annual_total * Decimal(108) / Decimal(365)).quantize(Decimal("0.01"))
    assert (version.kind, version.premium_delta) == (VersionKind.CANCELLATION, -refund)
    confirmation, invoice = contract.documents[-2:]
    assert (confirmation.kind, invoice.kind) == (DocumentKind.CANCELLATION, DocumentKind.INVOICE)
    text = _text(app, invoice)
    assert f"Erstattung vom 15.09.2026 bis 01.01.2027 (108 Tage) {_eur(refund)}" in text
    assert "Weitere Beiträge ziehen wir nicht ein." in text
    confirmation_text = _text(app, confirmation)
    assert "Der Vertrag endet am 15.09.2026" in confirmation_text
    assert f"von {_eur(refund)} erstatten wir Ihnen" in confirmation_text
    entry = session.scalar(sa.select(audit.AuditEntry).where(audit.AuditEntry.action == "contract_cancelled"))
    assert entry.details["refund"] == str(refund)


@pytest.mark.parametrize(
    ("ends_on", "message"),
    [
        (date(2026, 8, 31), "nicht vor dem Vertragsbeginn (01.09.2026)"),
        (date(2027, 1, 1), "vor der Hauptfälligkeit am 01.01.2027"),
        (date(2027, 3, 1), "vor der Hauptfälligkeit am 01.01.2027"),
        (None, "wann das Fahrzeug verkauft oder abgemeldet wurde"),
    ],
)
def test_a_sale_date_outside_the_insurance_year_is_refused_at_its_field(app, session, broker, ends_on, message):
    contract = _police(app, session, broker, YEARLY, Product.KFZ, start=date(2026, 9, 1))
    before = len(contract.documents)
    with pytest.raises(versions.ChangeError, match=re.escape(message)) as refused:
        _cancel(app, session, broker, contract, "fahrzeug", ends_on=ends_on)
    assert refused.value.field == "verkauft_am"
    session.rollback()
    session.refresh(contract)
    assert contract.ends_on is None
    assert len(contract.documents) == before


def test_the_day_the_kuendigung_arrived_counts_not_the_day_it_is_typed_in(app, session, broker, time_machine):
    """Issue #24 item 4 (§ 11 Abs. 2 VVG; AKB G.1.2: a month before 01.01., i.e. by 30.11.): a
    Kündigung typed on 03.12. that arrived on 30.11. ends the contract at 01.01.; one that arrived
    on 01.12. at the following Hauptfälligkeit, and the confirmation says why."""
    on_time = _police(app, session, broker, YEARLY, Product.KFZ, start=START)
    late = _police(app, session, broker, YEARLY, Product.KFZ, start=START)
    time_machine.move_to(datetime(2026, 12, 3, 10, 0, tzinfo=TIMEZONE), tick=False)
    today = date(2026, 12, 3)
    _cancel(app, session, broker, on_time, "kunde", received=date(2026, 11, 30), today=today)
    version = _cancel(app, session, broker, late, "kunde", received=date(2026, 12, 1), today=today)
    session.commit()
    assert (on_time.ends_on, late.ends_on) == (date(2027, 1, 1), date(2028, 1, 1))
    assert {"label": "Kündigung eingegangen am", "old": "–", "new": "01.12.2026"} in version.changes
    text = _text(app, late.documents[-1])
    assert "eingegangen am 01.12.2026" in text
    assert "endet zum 01.01.2028" in text
    assert "spätestens 1 Monat vor der Hauptfälligkeit am 01.01.2027 zugehen, also bis zum 30.11.2026" in text
    assert "dem nächstmöglichen Termin" not in _text(app, on_time.documents[-1])


def test_a_rechtsschutz_kuendigung_needs_the_tariff_s_three_months(app, session, broker, time_machine):
    contract = _police(app, session, broker, RS_ANSWERS, Product.RS, start=START)  # Hauptfälligkeit 01.10.2027
    time_machine.move_to(datetime(2027, 7, 2, 10, 0, tzinfo=TIMEZONE), tick=False)
    _cancel(app, session, broker, contract, "kunde", received=date(2027, 7, 1), today=date(2027, 7, 2))
    assert contract.ends_on == date(2028, 10, 1)  # three months before 01.10. is 01.07.: by 30.06.


@pytest.mark.parametrize(
    ("received", "message"),
    [
        (date(2026, 9, 21), "nicht in der Zukunft"),
        (date(2026, 9, 19), "nicht vor dem Vertragsabschluss am 20.09.2026"),
    ],
)
def test_a_received_date_in_the_future_or_before_the_contract_is_refused(app, session, broker, received, message):
    contract = _police(app, session, broker, YEARLY, Product.KFZ, start=START)
    with pytest.raises(versions.ChangeError, match=re.escape(message)) as refused:
        _cancel(app, session, broker, contract, "kunde", received=received)
    assert refused.value.field == "eingegangen_am"


def test_a_kuendigung_can_be_withdrawn_before_it_takes_effect(app, session, broker, time_machine):
    """Issue #24 item 7: the Rücknahme (a Nachtrag, audited) lets the contract run on; after the end
    it is refused."""
    contract = _police(app, session, broker, YEARLY, Product.KFZ, start=START)
    _cancel(app, session, broker, contract, "kunde")
    session.commit()
    version = _withdraw(app, session, broker, contract)
    session.commit()
    assert (contract.ends_on, contract.end_reason) == (None, None)
    assert (version.kind, version.endorsement_no, version.premium_delta) == (VersionKind.WITHDRAWAL, 2, None)
    nachtrag = contract.documents[-1]
    assert nachtrag.kind is DocumentKind.ENDORSEMENT
    text = _text(app, nachtrag)
    assert "Kündigung zurückgenommen" in text
    assert "Nachtrag Nr. 2" in text
    assert session.scalar(sa.select(sa.func.count()).where(audit.AuditEntry.action == "cancellation_withdrawn")) == 1
    with pytest.raises(versions.ChangeError, match="nicht gekündigt"):
        _withdraw(app, session, broker, contract)
    session.rollback()
    _cancel(app, session, broker, contract, "kunde")
    session.commit()
    time_machine.move_to(datetime(2027, 1, 2, 10, 0, tzinfo=TIMEZONE), tick=False)
    with pytest.raises(versions.ChangeError, match="wirksam geworden"):
        _withdraw(app, session, broker, contract, today=date(2027, 1, 2))


def test_withdrawing_the_end_by_sale_charges_the_refund_again(app, session, broker):
    contract = _police(app, session, broker, YEARLY, Product.KFZ, start=START)
    ended = _cancel(app, session, broker, contract, "fahrzeug", ends_on=date(2026, 11, 1))
    session.commit()
    version = _withdraw(app, session, broker, contract)
    session.commit()
    assert version.premium_delta == -ended.premium_delta > 0
    invoice = contract.documents[-1]
    assert invoice.kind is DocumentKind.INVOICE
    assert f"Nachberechnung der Erstattung {_eur(version.premium_delta)}" in _text(app, invoice)


def _settled_claim(app, session, backoffice, contract, settled_on: date):
    from contracts import claim_status, claims
    from contracts.models import ClaimKind, ClaimStatus

    with app.test_request_context():
        claim = claims.report_claim(
            session,
            contract,
            claims.ClaimReport(ClaimKind.KH, contract.start_date, "Köln", "Auffahrunfall an der Ampel."),
            [],
            limits=claims.UploadLimits(5, 1024),
            today=settled_on,
            reporter="kunde@example.org",
            catalog=contract_settings().catalog,
        )
        claim_status.set_status(
            session,
            backoffice,
            claim,
            claim_status.StatusChange(ClaimStatus.PAID, settled_on, Decimal("900.00")),
            catalog=app.extensions["tariffs"],
            today=settled_on,
        )
    return claim


def test_a_kuendigung_after_a_claim_is_possible_within_a_month_of_its_settlement(
    app, session, broker, backoffice, time_machine
):
    """Issue #24 item 5 (§§ 92, 111 VVG; AKB G.2.3): within one month (the tariff's
    claim_notice_months) after a claim was settled the customer may cancel — at once or at a later
    day up to the end of the insurance year — with the unused premium refunded (§ 39 VVG)."""
    contract = _police(app, session, broker, YEARLY, Product.KFZ, start=date(2026, 9, 1))
    time_machine.move_to(datetime(2026, 10, 5, 10, 0, tzinfo=TIMEZONE), tick=False)
    claim = _settled_claim(app, session, backoffice, contract, date(2026, 10, 5))
    session.commit()
    today = date(2026, 11, 2)
    time_machine.move_to(datetime(2026, 11, 2, 10, 0, tzinfo=TIMEZONE), tick=False)
    terms = versions.contract_terms(app.extensions["tariffs"], contract)
    assert cancellation.claim_window(session, contract, terms, today) == (claim, date(2026, 11, 5))
    version = _cancel(app, session, broker, contract, "schaden", received=today, ends_on=date(2026, 12, 1), today=today)
    session.commit()
    assert contract.ends_on == date(2026, 12, 1)
    refund = (contract.annual_total * Decimal(31) / Decimal(365)).quantize(Decimal("0.01"))
    assert version.premium_delta == -refund
    text = _text(app, contract.documents[-2])
    assert "eingegangen am 02.11.2026 – innerhalb eines Monats nach der Regulierung am 05.10.2026" in text
    assert "Der Vertrag endet am 01.12.2026" in text


@pytest.mark.parametrize(
    ("received", "ends_on", "field", "message"),
    [
        (date(2026, 11, 6), None, "grund", "innerhalb von 1 Monat(en) nach der Regulierung"),  # a day too late
        (date(2026, 11, 2), date(2026, 11, 1), "endet_am", "frühestens mit dem Eingang der Kündigung (02.11.2026)"),
        (date(2026, 11, 2), date(2027, 1, 2), "endet_am", "spätestens zum Ende des Versicherungsjahres (01.01.2027)"),
    ],
)
def test_a_kuendigung_after_a_claim_outside_its_month_or_year_is_refused(
    app, session, broker, backoffice, time_machine, received, ends_on, field, message
):
    contract = _police(app, session, broker, YEARLY, Product.KFZ, start=date(2026, 9, 1))
    time_machine.move_to(datetime(2026, 10, 5, 10, 0, tzinfo=TIMEZONE), tick=False)
    _settled_claim(app, session, backoffice, contract, date(2026, 10, 5))
    session.commit()
    time_machine.move_to(datetime(2026, 11, 10, 10, 0, tzinfo=TIMEZONE), tick=False)
    with pytest.raises(versions.ChangeError, match=re.escape(message)) as refused:
        _cancel(app, session, broker, contract, "schaden", received=received, ends_on=ends_on, today=date(2026, 11, 10))
    assert refused.value.field == field


def test_without_a_settled_claim_there_is_no_kuendigung_after_a_claim(app, session, broker):
    contract = _police(app, session, broker, YEARLY, Product.KFZ, start=START)
    with pytest.raises(versions.ChangeError, match="dafür liegt kein Schaden vor") as refused:
        _cancel(app, session, broker, contract, "schaden")
    assert refused.value.field == "grund"


def test_a_widerruf_before_the_start_means_the_contract_never_begins(app, session, broker, backoffice):
    """Issue #24 item 16 (§§ 8, 9 VVG): within 14 days the back office records the customer's
    Widerruf; before the start there was no cover and nothing is collected."""
    contract = _police(app, session, broker, YEARLY, Product.KFZ, start=START)  # policed 20.09., start 01.10.
    version = _cancel(app, session, backoffice, contract, "widerruf", received=date(2026, 9, 20))
    session.commit()
    assert contract.ends_on == START
    assert version.premium_delta is None
    text = _text(app, contract.documents[-1])
    assert "Widerrufsbestätigung" in text
    assert "Der Vertrag kommt nicht zustande, wir ziehen keinen Beitrag ein" in text


def test_a_widerruf_after_the_start_keeps_the_premium_of_its_days(app, session, broker, backoffice, time_machine):
    """§ 9 VVG: the insurer keeps the premium for the days up to the Widerruf's arrival and refunds
    the rest."""
    contract = _police(app, session, broker, YEARLY, Product.KFZ, start=date(2026, 9, 21))
    time_machine.move_to(datetime(2026, 10, 2, 10, 0, tzinfo=TIMEZONE), tick=False)
    today = date(2026, 10, 2)
    version = _cancel(app, session, backoffice, contract, "widerruf", received=date(2026, 10, 1), today=today)
    session.commit()
    assert contract.ends_on == date(2026, 10, 1)
    # the first period 21.09.2026 – 01.01.2027 was paid; 92 days after the Widerruf come back
    refund = (contract.annual_total * Decimal(92) / Decimal(365)).quantize(Decimal("0.01"))
    assert version.premium_delta == -refund
    assert "Ihr Versicherungsschutz endet mit dem Zugang des Widerrufs am 01.10.2026" in _text(
        app, contract.documents[-2]
    )


@pytest.mark.parametrize(
    ("who", "received", "field", "message"),
    [
        ("backoffice", date(2026, 10, 5), "eingegangen_am", "Die Widerrufsfrist von 14 Tagen endete am 04.10.2026"),
        ("broker", date(2026, 9, 25), "grund", "Einen Widerruf erfasst der Innendienst."),
    ],
)
def test_a_widerruf_after_its_14_days_or_by_a_broker_is_refused(
    app, session, broker, backoffice, time_machine, who, received, field, message
):
    contract = _police(app, session, broker, YEARLY, Product.KFZ, start=START)  # policed 20.09.2026
    time_machine.move_to(datetime(2026, 10, 6, 10, 0, tzinfo=TIMEZONE), tick=False)
    user = backoffice if who == "backoffice" else broker
    with pytest.raises(versions.ChangeError, match=re.escape(message)) as refused:
        _cancel(app, session, user, contract, "widerruf", received=received, today=date(2026, 10, 6))
    assert refused.value.field == field
