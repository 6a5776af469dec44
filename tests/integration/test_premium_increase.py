"""Issue #24 item 6 (§ 40 VVG): a renewal that raises the premium because of a new tariff sends a
Beitragsmitteilung at least a month before the Hauptfälligkeit (old and new premium, the reasons, the
right to cancel to the date of the increase); a run later than that keeps the old tariff for a
year; the customer's cancellation within the month ends the contract on that date. Every renewal's
documents show old → new premium and why (SF-Klasse, Regionalklasse, Tarif)."""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from calculator.tariffs import Product, TariffCatalog
from calculator.tariffs.catalog import DEFAULT_DIRECTORY
from contracts import cancellation, versions
from contracts.models import ContractVersion, DocumentKind, VersionKind
from core.formatting import TIMEZONE
from tests.helpers import use_tariffs
from tests.integration.test_claims_and_sf import PORTAL_KFZ, _at, _renew
from tests.integration.test_contract_changes import _police, _text
from tests.integration.test_money_and_cancellation import _cancel

pytestmark = pytest.mark.usefixtures("demo_reference")


def _eur(amount: Decimal) -> str:
    return f"{amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") + " €"


@pytest.fixture
def dearer_tariff(app, tmp_path: Path):
    """KFZ-2027-01, valid from 01.01.2027: the Haftpflicht's base premium 15 % higher."""
    source = (DEFAULT_DIRECTORY / "kfz-2026-01.toml").read_text()
    shutil.copytree(DEFAULT_DIRECTORY / "texts", tmp_path / "texts")
    newer = (
        source.replace('version = "KFZ-2026-01"', 'version = "KFZ-2027-01"')
        .replace("valid_from = 2026-01-01", "valid_from = 2027-01-01")
        .replace('kh = "520.00"', 'kh = "598.00"')
    )
    (tmp_path / "kfz-2027-01.toml").write_text(newer)
    use_tariffs(app, TariffCatalog.load([DEFAULT_DIRECTORY, tmp_path]))  # as TARIFF_EXTRA_DIRS does


@pytest.fixture(autouse=True)
def _clock(time_machine):
    time_machine.move_to(datetime(2026, 3, 2, 10, 0, tzinfo=TIMEZONE), tick=False)


def _renewal(session, contract) -> ContractVersion:
    return session.scalars(
        sa.select(ContractVersion).where(
            ContractVersion.contract_id == contract.id, ContractVersion.kind == VersionKind.RENEWAL
        )
    ).one()


def _amounts(text: str, label: str) -> list[str]:
    return re.findall(rf"{re.escape(label)} ([+-]?[\d.]+,\d\d €)", text)


def test_a_tariff_increase_brings_a_beitragsmitteilung_a_month_ahead(
    app, session, broker, backoffice, time_machine, dearer_tariff
):
    contract = _police(app, session, broker, PORTAL_KFZ, Product.KFZ)  # SF 12 / 10 from 16.03.2026
    old_annual = contract.annual_total
    _at(time_machine, date(2026, 11, 20))  # more than a month before 01.01.2027
    _renew(app, session, backoffice, date(2026, 11, 20))
    session.refresh(contract)
    assert contract.tariff_version == "KFZ-2027-01"
    version = _renewal(session, contract)
    increase = next(c for c in version.changes if c["label"] == cancellation.TARIFF_INCREASE)
    notice = next(d for d in contract.documents if d.kind is DocumentKind.PREMIUM_NOTICE)
    text = _text(app, notice)
    assert f"Jahresbeitrag bisher {_eur(old_annual)}" in text
    assert f"Jahresbeitrag ab 01.01.2027 {_eur(contract.annual_total)}" in text
    sf = _amounts(text, "Änderung durch SF-Klasse")
    tariff = _amounts(text, "Änderung durch Tarif")
    assert sf[0].startswith("-")  # a claim-free year: cheaper
    assert tariff[0].startswith("+")
    assert increase["new"].replace("\xa0", " ") == _eur(contract.annual_total)
    # old + every reason = new, to the cent
    parsed = [Decimal(a.replace(".", "").replace(",", ".").replace(" €", "")) for a in sf + tariff]
    assert old_annual + sum(parsed) == contract.annual_total
    assert "innerhalb eines Monats nach Zugang dieser Mitteilung zum 01.01.2027" in text
    # the renewal's Beitragsrechnung shows old → new and why, as every renewal does
    invoice = next(d for d in contract.documents if d.title == "Beitragsrechnung 2027")
    invoice_text = _text(app, invoice)
    assert f"Jahresbeitrag bisher {_eur(old_annual)}" in invoice_text
    assert "Änderung durch Tarif" in invoice_text


def test_a_renewal_run_too_late_for_the_notice_keeps_the_old_tariff_for_a_year(
    app, session, broker, backoffice, time_machine, dearer_tariff
):
    """§ 40 VVG: without the month's notice the increase cannot take effect at this Hauptfälligkeit."""
    contract = _police(app, session, broker, PORTAL_KFZ, Product.KFZ)
    _at(time_machine, date(2026, 12, 5))
    _renew(app, session, backoffice, date(2026, 12, 5))
    session.refresh(contract)
    assert contract.tariff_version == "KFZ-2026-01"
    assert not [d for d in contract.documents if d.kind is DocumentKind.PREMIUM_NOTICE]
    note = next(c for c in _renewal(session, contract).changes if c["label"] == "Tarifanpassung")
    assert note["new"].startswith("erst zur nächsten Hauptfälligkeit")


def test_the_customer_may_cancel_within_a_month_to_the_date_of_the_increase(
    app, session, broker, backoffice, time_machine, dearer_tariff
):
    contract = _police(app, session, broker, PORTAL_KFZ, Product.KFZ)
    _at(time_machine, date(2026, 11, 20))
    _renew(app, session, backoffice, date(2026, 11, 20))
    session.refresh(contract)
    today = _at(time_machine, date(2026, 12, 10))
    terms = versions.contract_terms(app.extensions["tariffs"], contract)
    assert terms.notice_months == 1
    version = _cancel(app, session, broker, contract, "beitrag", received=today, today=today)
    session.commit()
    assert contract.ends_on == date(2027, 1, 1)  # the day of the increase
    assert version.premium_delta is None  # nothing of the dearer year was collected
    text = _text(app, contract.documents[-1])
    assert "wegen der Beitragserhöhung durch den Tarif, eingegangen am 10.12.2026" in text


def test_after_its_month_the_increase_is_no_reason_to_cancel(
    app, session, broker, backoffice, time_machine, dearer_tariff
):
    contract = _police(app, session, broker, PORTAL_KFZ, Product.KFZ)
    _at(time_machine, date(2026, 11, 20))
    _renew(app, session, backoffice, date(2026, 11, 20))
    session.refresh(contract)
    today = _at(time_machine, date(2026, 12, 21))  # a month after 20.11. has passed
    with pytest.raises(versions.ChangeError, match="keine Beitragsmitteilung vor") as refused:
        _cancel(app, session, broker, contract, "beitrag", received=today, today=today)
    assert refused.value.field == "grund"


def test_a_renewal_without_a_new_tariff_sends_no_beitragsmitteilung_and_says_why_it_changed(
    app, session, broker, backoffice, time_machine
):
    contract = _police(app, session, broker, PORTAL_KFZ, Product.KFZ)
    old_annual = contract.annual_total
    _at(time_machine, date(2026, 11, 20))
    _renew(app, session, backoffice, date(2026, 11, 20))
    session.refresh(contract)
    assert not [d for d in contract.documents if d.kind is DocumentKind.PREMIUM_NOTICE]
    text = _text(app, next(d for d in contract.documents if d.title == "Versicherungsschein 2027"))
    assert f"Jahresbeitrag bisher {_eur(old_annual)}" in text
    assert "Änderung durch SF-Klasse -" in text
    assert "Änderung durch Tarif" not in text
