"""Properties over the whole input space (hypothesis)."""

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from calculator.tariffs import (
    ALL_SF_CLASSES,
    Classes,
    Cover,
    DriverCircle,
    KfzCover,
    Occupation,
    Parking,
    PaymentFrequency,
    RsDeductible,
    RsModule,
    TariffCatalog,
    Usage,
)
from tests.unit.tariffs.conftest import kfz_risk, rs_risk

CATALOG = TariffCatalog.load()
KFZ = CATALOG.kfz(date(2026, 11, 21))
RS = CATALOG.rs(date(2026, 11, 21))

sf = st.sampled_from(ALL_SF_CLASSES)
kfz_inputs = st.fixed_dictionaries(
    {
        "cover": st.sampled_from(list(KfzCover)),
        "sf_kh": sf,
        "sf_vk": sf,
        "type_classes": st.builds(Classes, st.integers(10, 25), st.integers(10, 33), st.integers(10, 34)),
        "region_classes": st.builds(Classes, st.integers(1, 12), st.integers(1, 16), st.integers(1, 9)),
        "youngest_driver_age": st.integers(17, 99),
        "driver_circle": st.sampled_from(list(DriverCircle)),
        "annual_mileage": st.integers(1000, 100000),
        "usage": st.sampled_from(list(Usage)),
        "parking": st.sampled_from(list(Parking)),
        "deductible_tk": st.sampled_from([0, 150, 300, 500]),
        "deductible_vk": st.sampled_from([300, 500, 1000]),
        "frequency": st.sampled_from(list(PaymentFrequency)),
    }
)
rs_inputs = st.fixed_dictionaries(
    {
        "modules": st.frozensets(st.sampled_from([RsModule.PRIVAT, RsModule.VERKEHR, RsModule.WOHNEN]), min_size=1),
        "cover": st.sampled_from(list(Cover)),
        "occupation": st.sampled_from(list(Occupation)),
        "deductible": st.sampled_from(list(RsDeductible)),
        "frequency": st.sampled_from(list(PaymentFrequency)),
    }
)


def _consistent(premium):
    for component in premium.components:
        assert sum(s.amount for s in component.steps) == component.annual
    assert sum(line.amount for line in premium.lines) == premium.total
    assert premium.annual_total == premium.total * premium.frequency.periods
    assert all(line.amount == line.amount.quantize(line.amount.__class__("0.01")) for line in premium.lines)


@settings(max_examples=300, deadline=None)
@given(kfz_inputs)
def test_kfz_premium_is_positive_and_its_breakdown_adds_up(inputs):
    premium = KFZ.price(kfz_risk(**inputs))
    assert premium.total > 0
    _consistent(premium)


@settings(max_examples=200, deadline=None)
@given(rs_inputs)
def test_rs_premium_is_positive_and_its_breakdown_adds_up(inputs):
    premium = RS.price(rs_risk(**inputs))
    assert premium.total > 0
    _consistent(premium)


@settings(max_examples=300, deadline=None)
@given(kfz_inputs, sf, sf)
def test_a_better_sf_class_is_never_more_expensive(inputs, a, b):
    worse, better = sorted([a, b])
    for key in ("sf_kh", "sf_vk"):
        cheap = KFZ.price(kfz_risk(**{**inputs, key: better})).total
        dear = KFZ.price(kfz_risk(**{**inputs, key: worse})).total
        assert cheap <= dear


@settings(max_examples=200, deadline=None)
@given(
    kfz_inputs,
    st.sampled_from([0, 150, 300, 500]),
    st.sampled_from([0, 150, 300, 500]),
    st.sampled_from([300, 500, 1000]),
    st.sampled_from([300, 500, 1000]),
)
def test_a_higher_kfz_deductible_is_never_more_expensive(inputs, tk_a, tk_b, vk_a, vk_b):
    low_tk, high_tk = sorted([tk_a, tk_b])
    low_vk, high_vk = sorted([vk_a, vk_b])
    high = KFZ.price(kfz_risk(**{**inputs, "deductible_tk": high_tk, "deductible_vk": high_vk})).total
    low = KFZ.price(kfz_risk(**{**inputs, "deductible_tk": low_tk, "deductible_vk": low_vk})).total
    assert high <= low


@settings(max_examples=200, deadline=None)
@given(rs_inputs, st.sampled_from(list(RsDeductible)), st.sampled_from(list(RsDeductible)))
def test_a_higher_rs_deductible_is_never_more_expensive(inputs, a, b):
    order = list(RsDeductible)
    low, high = sorted([a, b], key=order.index)
    assert (
        RS.price(rs_risk(**{**inputs, "deductible": high})).total
        <= RS.price(rs_risk(**{**inputs, "deductible": low})).total
    )
