"""Pricing core: pure, typed Python with Decimal money — no Flask or database imports.

Every premium carries its breakdown and names its tariff version.
"""

from calculator.tariffs.catalog import TariffCatalog, TariffFileError
from calculator.tariffs.common import Component, Line, PaymentFrequency, Premium, Product, Step, TariffError
from calculator.tariffs.kfz import Classes, DriverCircle, KfzCover, KfzRisk, KfzTariff, Parking, Usage
from calculator.tariffs.rechtsschutz import Cover, Occupation, RsDeductible, RsModule, RsRisk, RsTariff
from calculator.tariffs.sf import ALL_SF_CLASSES, SFClass
from calculator.tariffs.terms import ContractTerms

__all__ = [
    "ALL_SF_CLASSES",
    "Classes",
    "Component",
    "ContractTerms",
    "Cover",
    "DriverCircle",
    "KfzCover",
    "KfzRisk",
    "KfzTariff",
    "Line",
    "Occupation",
    "Parking",
    "PaymentFrequency",
    "Premium",
    "Product",
    "RsDeductible",
    "RsModule",
    "RsRisk",
    "RsTariff",
    "SFClass",
    "Step",
    "TariffCatalog",
    "TariffError",
    "TariffFileError",
    "Usage",
]
