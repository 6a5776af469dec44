from datetime import date

import pytest

from calculator.tariffs import (
    Classes,
    Cover,
    DriverCircle,
    KfzCover,
    KfzRisk,
    Occupation,
    Parking,
    PaymentFrequency,
    RsDeductible,
    RsModule,
    RsRisk,
    SFClass,
    TariffCatalog,
    Usage,
)

TODAY = date(2026, 11, 21)


@pytest.fixture(scope="session")
def catalog() -> TariffCatalog:
    return TariffCatalog.load()


@pytest.fixture(scope="session")
def kfz(catalog):
    return catalog.kfz(TODAY)


@pytest.fixture(scope="session")
def rs(catalog):
    return catalog.rs(TODAY)


def kfz_risk(**changes) -> KfzRisk:
    values = {
        "cover": KfzCover.KH,
        "sf_kh": SFClass.parse("SF 12"),
        "sf_vk": None,
        "type_classes": Classes(16, 20, 22),
        "region_classes": Classes(5, 6, 4),
        "youngest_driver_age": 40,
        "driver_circle": DriverCircle.VN_PARTNER,
        "annual_mileage": 12000,
        "usage": Usage.PRIVATE,
        "parking": Parking.GARAGE,
        "deductible_tk": 150,
        "deductible_vk": 500,
        "rabattschutz": False,
        "frequency": PaymentFrequency.YEARLY,
    }
    values.update(changes)
    return KfzRisk(**values)


def rs_risk(**changes) -> RsRisk:
    values = {
        "modules": frozenset({RsModule.PRIVAT, RsModule.VERKEHR}),
        "cover": Cover.FAMILIE,
        "occupation": Occupation.PUBLIC_SERVICE,
        "deductible": RsDeductible.EUR150,
        "frequency": PaymentFrequency.YEARLY,
    }
    values.update(changes)
    return RsRisk(**values)
