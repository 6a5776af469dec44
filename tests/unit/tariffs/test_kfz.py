"""Kfz tariff KFZ-2026-01 (demo values) with hand-computed examples."""

from decimal import Decimal as D

import pytest

from calculator.tariffs import ALL_SF_CLASSES, KfzCover, PaymentFrequency, SFClass, TariffError
from tests.unit.tariffs.conftest import kfz_risk


def test_haftpflicht_yearly_by_hand(kfz):
    premium = kfz.price(kfz_risk())
    # 520.00 base × 0.35 (SF 12: 35 %) = 182.00
    # × 0.970 (Typklasse KH 16)        = 176.54
    # × 1.000 (Regionalklasse KH 5)    = 176.54
    # × 1.00 (age 40, VN+Partner, 12,000 km, privat)
    # × 0.92 (Garage)                  = 162.4168 → 162.42
    (kh,) = premium.components
    assert kh.annual == D("162.42")
    assert [s.amount for s in kh.steps] == [
        D("520.00"),
        D("-338.00"),
        D("-5.46"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("-14.12"),
    ]
    # yearly: no surcharge; tax 162.42 × 0.19 = 30.8598 → 30.86; total 193.28
    assert [(ln.kind, ln.amount) for ln in premium.lines] == [("component", D("162.42")), ("tax", D("30.86"))]
    assert premium.total == D("193.28")
    assert premium.tariff_version == "KFZ-2026-01"


def test_haftpflicht_monthly_surcharge_and_tax_by_hand(kfz):
    premium = kfz.price(kfz_risk(frequency=PaymentFrequency.MONTHLY))
    # per month: 162.42 / 12 = 13.535 → 13.54 (half-up)
    # Ratenzuschlag 6 %: 13.54 × 0.06 = 0.8124 → 0.81
    # Versicherungsteuer 19 % on 13.54 + 0.81 = 14.35: 2.7265 → 2.73
    # total 14.35 + 2.73 = 17.08 per month, 204.96 a year
    assert [(ln.kind, ln.label, ln.amount) for ln in premium.lines] == [
        ("component", "Kfz-Haftpflicht", D("13.54")),
        ("surcharge", "Ratenzuschlag monatlich (6 %)", D("0.81")),
        ("tax", "Versicherungsteuer 19 %", D("2.73")),
    ]
    assert premium.total == D("17.08")
    assert premium.annual_total == D("204.96")


@pytest.mark.parametrize(
    ("frequency", "surcharge"),
    [
        (PaymentFrequency.HALF_YEARLY, D("0.03")),
        (PaymentFrequency.QUARTERLY, D("0.05")),
        (PaymentFrequency.MONTHLY, D("0.06")),
    ],
)
def test_instalment_surcharge_is_part_of_the_taxed_premium(kfz, frequency, surcharge):
    premium = kfz.price(kfz_risk(frequency=frequency))
    component, surcharge_line, tax = premium.lines
    assert surcharge_line.amount == (component.amount * surcharge).quantize(D("0.01"), "ROUND_HALF_UP")
    assert tax.amount == ((component.amount + surcharge_line.amount) * D("0.19")).quantize(D("0.01"), "ROUND_HALF_UP")


def test_vollkasko_with_rabattschutz_by_hand(kfz):
    premium = kfz.price(kfz_risk(cover=KfzCover.KH_VK, sf_vk=SFClass.parse("10"), rabattschutz=True))
    kh, vk, protection = premium.components
    assert kh.annual == D("162.42")
    # VK: 610.00 × 0.44 (SF 10) = 268.40 × 1.330 (Typklasse VK 22) = 356.972 → 356.97
    # × 1.000 (Regionalklasse VK 4) × 1.00 … × 0.92 (Garage) = 328.4124 → 328.41
    # × 0.90 (SB VK 500) = 295.569 → 295.57 × 1.00 (SB TK 150) = 295.57
    assert vk.annual == D("295.57")
    # Rabattschutz 20 % on 162.42 + 295.57 = 457.99 → 91.598 → 91.60
    assert protection.annual == D("91.60")
    # yearly: 549.59 net, tax 104.4221 → 104.42, total 654.01
    assert premium.total == D("654.01")


def test_teilkasko_has_no_sf_class_and_no_driver_factors(kfz):
    premium = kfz.price(kfz_risk(cover=KfzCover.KH_TK, youngest_driver_age=19))
    tk = premium.components[1]
    # 135.00 × 1.150 (Typklasse TK 20: 0.55 + 10 × 0.06) = 155.25 × 1.000 (Regionalklasse TK 6)
    # × 0.92 (Garage) = 142.83 × 1.00 (SB TK 150) = 142.83
    assert tk.label == "Teilkasko"
    assert tk.annual == D("142.83")
    assert not any("SF" in s.label or "Fahrer" in s.label for s in tk.steps)


@pytest.mark.parametrize("sf", ALL_SF_CLASSES, ids=str)
def test_every_sf_class_prices_with_its_beitragssatz(kfz, sf):
    premium = kfz.price(kfz_risk(cover=KfzCover.KH_VK, sf_kh=sf, sf_vk=sf))
    kh, vk = premium.components
    kh_rate, vk_rate = kfz.sf_rates[sf]
    assert kh.steps[1].factor == kh_rate / 100
    assert kh.steps[1].amount == (D("520.00") * kh_rate / 100).quantize(D("0.01"), "ROUND_HALF_UP") - D("520.00")
    assert vk.steps[1].factor == vk_rate / 100
    assert premium.total > 0


def test_sf_table_follows_the_published_table_plus_demo_class_s(kfz):
    rates = {sf.key: (int(kh), int(vk)) for sf, (kh, vk) in kfz.sf_rates.items()}
    assert rates["50"] == (17, 30)
    assert rates["4"] == (49, 49)
    assert rates["1/2"] == (89, 58)
    assert rates["0"] == (100, 82)
    assert rates["M"] == (135, 100)
    assert rates["0"] < rates["S"] < rates["M"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"youngest_driver_age": 22}, "mindestens 23 Jahre"),
        ({"cover": KfzCover.KH_TK, "sf_vk": None}, "setzt eine Vollkasko voraus"),
        ({"sf_kh": SFClass.parse("SF 3")}, "mindestens in SF 4"),
        ({"sf_vk": SFClass.parse("1/2")}, "mindestens in SF 4"),
    ],
)
def test_rabattschutz_conditions(kfz, changes, reason):
    base = {
        "cover": KfzCover.KH_VK,
        "sf_vk": SFClass.parse("SF 4"),
        "sf_kh": SFClass.parse("SF 4"),
        "youngest_driver_age": 23,
        "rabattschutz": True,
    }
    assert kfz.price(kfz_risk(**base)).total > 0  # the boundary itself is allowed
    with pytest.raises(TariffError, match=reason) as error:
        kfz.price(kfz_risk(**{**base, **changes}))
    assert error.value.field == "rabattschutz"


def test_vollkasko_needs_its_sf_class(kfz):
    with pytest.raises(TariffError, match="SF-Klasse der Vollkasko"):
        kfz.price(kfz_risk(cover=KfzCover.KH_VK, sf_vk=None))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"youngest_driver_age": 16}, "mindestens 17 Jahre"),
        ({"annual_mileage": 100001}, "über 100.000 km"),
        ({"deductible_tk": 250, "cover": KfzCover.KH_TK}, "Selbstbeteiligung TK 250"),
    ],
)
def test_inputs_outside_the_tariff_are_refused_in_german(kfz, changes, message):
    with pytest.raises(TariffError, match=message):
        kfz.price(kfz_risk(**changes))


def test_driver_age_and_mileage_bands(kfz):
    def kh(**changes):
        return kfz.price(kfz_risk(**changes)).components[0].annual

    assert kh(youngest_driver_age=20) > kh(youngest_driver_age=21) > kh(youngest_driver_age=24) > kh()
    assert kh(youngest_driver_age=75) > kh(youngest_driver_age=70) > kh(youngest_driver_age=69)
    assert kh(annual_mileage=6000) < kh(annual_mileage=6001) < kh(annual_mileage=12000) < kh(annual_mileage=12001)


def test_sf_class_parsing():
    assert SFClass.parse("SF 12") == SFClass.parse("12") == SFClass("12")
    assert SFClass.parse("½") == SFClass.parse("SF 1/2") == SFClass("1/2")
    assert SFClass.parse("m").key == "M"
    assert sorted([SFClass("1"), SFClass("M"), SFClass("1/2"), SFClass("0"), SFClass("S")]) == [
        SFClass("M"),
        SFClass("S"),
        SFClass("0"),
        SFClass("1/2"),
        SFClass("1"),
    ]
    for bad in ("51", "SF 0.5", "X", ""):
        with pytest.raises(ValueError, match="not an SF class"):
            SFClass.parse(bad)
