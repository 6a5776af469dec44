"""In-process pricing: median µs per Kfz quote (goal ≤ 50 µs).

Baseline in the same process: building the same risk object (what every quote costs before pricing).
Run: .venv/bin/python -m bench.pricing
"""

from __future__ import annotations

import statistics
import time
from datetime import date

import bench.common  # noqa: F401  (puts the project on sys.path)
from calculator.tariffs import (
    Classes,
    DriverCircle,
    KfzCover,
    KfzRisk,
    Parking,
    PaymentFrequency,
    SFClass,
    TariffCatalog,
    Usage,
)

ROUNDS, PER_ROUND = 15, 2000


def make_risk(sf: SFClass) -> KfzRisk:
    return KfzRisk(
        KfzCover.KH_VK,
        sf,
        SFClass("10"),
        Classes(16, 20, 19),
        Classes(11, 12, 8),
        40,
        DriverCircle.VN_PARTNER,
        12000,
        Usage.PRIVATE,
        Parking.GARAGE,
        150,
        500,
        True,
        PaymentFrequency.MONTHLY,
    )


def main() -> None:
    tariff = TariffCatalog.load().kfz(date(2026, 11, 21))
    sf = SFClass("12")
    risk = make_risk(sf)
    tariff.price(risk)  # warm up
    quote_us, baseline_us = [], []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(PER_ROUND):
            tariff.price(risk)
        quote_us.append((time.perf_counter() - started) / PER_ROUND * 1e6)
        started = time.perf_counter()
        for _ in range(PER_ROUND):
            make_risk(sf)
        baseline_us.append((time.perf_counter() - started) / PER_ROUND * 1e6)
    median, base = statistics.median(quote_us), statistics.median(baseline_us)
    print(f"Kfz quote (KH + VK + Rabattschutz, monthly): median {median:.1f} µs per quote (goal ≤ 50 µs)")
    print(f"baseline (building the risk object): median {base:.2f} µs; ratio quote/baseline {median / base:.1f}")


if __name__ == "__main__":
    main()
