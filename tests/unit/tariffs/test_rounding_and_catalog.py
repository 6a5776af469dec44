import shutil
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from calculator.tariffs import PaymentFrequency, Product, TariffCatalog, TariffFileError
from calculator.tariffs.common import ComponentBuilder, PaymentTerms, finish
from calculator.tariffs.money import cents, dec

TEXTS = Path("calculator/tariffs/data/texts")


TERMS = PaymentTerms({f: D("0") for f in PaymentFrequency}, D("0.19"))


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [("0.125", "0.13"), ("2.345", "2.35"), ("2.344999", "2.34"), ("-0.125", "-0.13"), ("0.005", "0.01")],
)
def test_cents_round_half_up_not_half_even(amount, rounded):
    assert cents(D(amount)) == D(rounded)


def test_tax_on_an_exact_half_cent_rounds_up():
    # 1.50 × 0.19 = 0.285: half-up gives 0.29 (banker's rounding would give 0.28)
    component = ComponentBuilder("x", "X", "Grundbeitrag", D("1.50")).build()
    premium = finish(
        product=Product.RS,
        version="T",
        name="T",
        frequency=PaymentFrequency.YEARLY,
        components=[component],
        terms=TERMS,
    )
    assert premium.tax == D("0.29")
    assert premium.total == D("1.79")


def test_each_factor_step_is_rounded_before_the_next():
    # 10.00 × 1.005 = 10.05 (10.050 exactly); × 1.005 = 10.10025 → 10.10
    # without rounding in between: 10.00 × 1.005 × 1.005 = 10.100250 → 10.10 as well, but the steps
    # must show 0.05 + 0.05 and add up to the result
    component = ComponentBuilder("x", "X", "Grundbeitrag", D("10.00")).apply("a", D("1.005")).apply("b", D("1.005"))
    built = component.build()
    assert [s.amount for s in built.steps] == [D("10.00"), D("0.05"), D("0.05")]
    assert built.annual == D("10.10")


def test_floats_are_refused_as_money():
    with pytest.raises(TypeError):
        dec(0.1)


def test_catalog_picks_the_version_valid_on_the_date(tmp_path: Path):
    source = Path("calculator/tariffs/data/kfz-2026-01.toml").read_text()
    shutil.copytree(TEXTS, tmp_path / "texts", dirs_exist_ok=True)  # the texts it names
    newer = (
        source.replace('version = "KFZ-2026-01"', 'version = "KFZ-2027-01"')
        .replace("valid_from = 2026-01-01", "valid_from = 2027-01-01")
        .replace('kh = "520.00"', 'kh = "560.00"')
    )
    (tmp_path / "kfz-2027-01.toml").write_text(newer)
    catalog = TariffCatalog.load([Path("calculator/tariffs/data"), tmp_path])
    assert catalog.kfz(date(2026, 12, 31)).version == "KFZ-2026-01"
    assert catalog.kfz(date(2027, 1, 1)).version == "KFZ-2027-01"
    assert catalog.get("KFZ-2026-01").base_kh == D("520.00")
    with pytest.raises(LookupError):
        catalog.kfz(date(2025, 12, 31))


def test_every_shipped_tariff_is_marked_as_demo():
    for path in Path("calculator/tariffs/data").glob("*.toml"):
        assert "demo_values = true" in path.read_text(), path
        assert "DEMO VALUES" in path.read_text(), path


def test_inconsistent_tariff_files_are_refused(tmp_path: Path):
    source = Path("calculator/tariffs/data/kfz-2026-01.toml").read_text()
    shutil.copytree(TEXTS, tmp_path / "texts", dirs_exist_ok=True)  # the texts it names
    (tmp_path / "bad.toml").write_text(
        source.replace('"SF 12" = [35, 43]', '"12" = [35, 43]').replace('"12" = [35, 43]', '"12" = [60, 43]')
    )
    with pytest.raises(TariffFileError, match="must not cost more"):
        TariffCatalog.load([tmp_path])
    (tmp_path / "bad.toml").write_text(source.replace("25 = ", "26 = ", 1))
    with pytest.raises(TariffFileError, match=r"type_class\.kh"):
        TariffCatalog.load([tmp_path])
    (tmp_path / "bad.toml").write_text(source)
    (tmp_path / "again.toml").write_text(source)
    with pytest.raises(TariffFileError, match="defined twice"):
        TariffCatalog.load([tmp_path])


def test_the_contract_terms_are_tariff_data():
    """Issue #24 items 1 and 4: the Hauptfälligkeit, the pro-rata method and the notice period are
    read from each tariff's [contract] table (AKB: Kfz 1 January, a month; ARB: anniversary, three)."""
    catalog = TariffCatalog.load()
    kfz, rs = catalog.get("KFZ-2026-01").contract_terms, catalog.get("RS-2026-01").contract_terms
    assert (kfz.main_due, kfz.pro_rata, kfz.days_per_year, kfz.notice_months) == ((1, 1), "tage/365", 365, 1)
    assert (rs.main_due, rs.pro_rata, rs.notice_months) == (None, "tage/365", 3)
    assert kfz.main_due_label == "01.01."


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        ("notice_months = 1 ", "notice_months = 4 "),  # § 11 Abs. 2 VVG: one to three months
        ("notice_months = 1 ", "notice_months = 0 "),
        ('main_due = "01-01"', 'main_due = "02-29"'),  # not a day of every year
        ('main_due = "01-01"', 'main_due = "1. Januar"'),
        ('pro_rata = "tage/365"', 'pro_rata = "tage/360"'),
    ],
)
def test_contract_terms_outside_the_law_or_the_known_methods_are_refused(tmp_path: Path, replace, message):
    source = Path("calculator/tariffs/data/kfz-2026-01.toml").read_text()
    shutil.copytree(TEXTS, tmp_path / "texts", dirs_exist_ok=True)  # the texts it names
    assert replace in source
    (tmp_path / "bad.toml").write_text(source.replace(replace, message, 1))
    with pytest.raises(TariffFileError, match=r"\[contract\]"):
        TariffCatalog.load([tmp_path])


def test_a_tariff_without_contract_terms_is_refused(tmp_path: Path):
    source = Path("calculator/tariffs/data/rs-2026-01.toml").read_text()
    shutil.copytree(TEXTS, tmp_path / "texts", dirs_exist_ok=True)  # the texts it names
    start = source.index("[contract]")
    end = source.index("[modules]")
    (tmp_path / "bad.toml").write_text(source[:start] + source[end:])
    with pytest.raises(TariffFileError, match=r"\[contract\] table"):
        TariffCatalog.load([tmp_path])
