"""Rechtsschutz tariff RS-2026-01 (demo values) with hand-computed examples."""

from decimal import Decimal as D

import pytest

from calculator.tariffs import Cover, Occupation, PaymentFrequency, RsDeductible, RsModule, TariffError
from tests.unit.tariffs.conftest import rs_risk


def test_family_public_service_by_hand(rs):
    premium = rs.price(rs_risk())
    # modules Privat 98.00 + Verkehr 54.00 = 152.00
    # × 1.38 (Familie) = 209.76; × 0.90 (öffentlicher Dienst) = 188.784 → 188.78; × 1.00 (SB 150 €)
    (component,) = premium.components
    assert [(s.label, s.amount) for s in component.steps] == [
        ("Baustein Privat", D("98.00")),
        ("Baustein Verkehr", D("54.00")),
        ("Deckung Familie", D("57.76")),
        ("Tätigkeit öffentlicher Dienst", D("-20.98")),
        ("Selbstbeteiligung 150 €", D("0.00")),
    ]
    assert component.annual == D("188.78")
    # yearly: tax 188.78 × 0.19 = 35.8682 → 35.87; membership 24.00 without tax; total 248.65
    assert [(ln.kind, ln.amount, ln.taxed) for ln in premium.lines] == [
        ("component", D("188.78"), True),
        ("tax", D("35.87"), False),
        ("membership", D("24.00"), False),
    ]
    assert premium.total == D("248.65")


def test_membership_fee_is_split_per_period_and_never_taxed(rs):
    premium = rs.price(rs_risk(frequency=PaymentFrequency.QUARTERLY))
    # per quarter: 188.78 / 4 = 47.195 → 47.20; surcharge 5 %: 2.36; tax on 49.56: 9.4164 → 9.42
    # membership 24.00 / 4 = 6.00 (no tax); total 49.56 + 9.42 + 6.00 = 64.98
    assert [ln.amount for ln in premium.lines] == [D("47.20"), D("2.36"), D("9.42"), D("6.00")]
    assert premium.total == D("64.98")
    membership = premium.lines[-1]
    assert membership.label == "Mitgliedsbeitrag Kraftfahrer-Schutz e.V."
    assert not membership.taxed


def test_public_service_gets_a_discount(rs):
    def price(occupation):
        return rs.price(rs_risk(occupation=occupation)).total

    assert price(Occupation.PUBLIC_SERVICE) < price(Occupation.EMPLOYED) < price(Occupation.SELF_EMPLOYED)


def test_deductible_order(rs):
    totals = [rs.price(rs_risk(deductible=d)).total for d in RsDeductible]
    assert totals == sorted(totals, reverse=True)  # ohne, 150, 250, 400 fallend


def test_at_least_one_module(rs):
    with pytest.raises(TariffError, match="mindestens einen Baustein"):
        rs.price(rs_risk(modules=frozenset()))


def test_beruf_not_for_people_without_occupation(rs):
    with pytest.raises(TariffError, match="Baustein Beruf"):
        rs.price(rs_risk(modules=frozenset({RsModule.BERUF}), occupation=Occupation.NOT_EMPLOYED))


def test_cover_factors(rs):
    single, paar, familie = (rs.price(rs_risk(cover=c)).total for c in (Cover.SINGLE, Cover.PAAR, Cover.FAMILIE))
    assert single < paar < familie
