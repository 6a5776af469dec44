"""Beratungsdokumentation (§§ 61, 62 VVG, IDD): before the Antrag the broker records the customer's
wishes and needs, his advice and its reasons — proposed from the quote (product, cover,
deductibles) — and hands it over in Textform before the contract is concluded; a Beratungsverzicht
only as a separate declaration with the warning § 61 Abs. 2 VVG requires. Policing files the
document in the contract's folder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from calculator.models import Offer
from calculator.tariffs import PaymentFrequency, Product
from core.formatting import eur

WAIVER_WARNING = (
    "Der Verzicht auf Beratung und Dokumentation kann sich nachteilig auf die Möglichkeit auswirken, gegen "
    "den Versicherungsvermittler einen Schadensersatzanspruch nach § 63 VVG geltend zu machen."
)


@dataclass(frozen=True)
class Advice:
    wishes: str
    advice: str
    reasons: str
    waived: bool

    def to_dict(self) -> dict[str, Any]:
        return {"wishes": self.wishes, "advice": self.advice, "reasons": self.reasons, "waived": self.waived}


def proposal(offer: Offer, details: dict[str, Any]) -> tuple[str, str]:
    """The wishes and the advice as the quote suggests them (the broker completes them)."""
    product = Product(offer.product)
    rows = {label: value for section in details["summary"] for label, value in section["rows"]}
    tariff = details["tariff"]
    frequency = PaymentFrequency(offer.frequency).label
    if product is Product.KFZ:
        vehicle = details.get("vehicle")
        what = f"{vehicle.manufacturer} {vehicle.trade_name}" if vehicle else "das Fahrzeug"
        wishes = (
            f"Kfz-Versicherung für {what}: {rows.get('Versicherungsumfang', 'Haftpflicht')}"
            f"{', Rabattschutz' if rows.get('Rabattschutz') == 'ja' else ''}; Beitrag {frequency} gezahlt."
        )
        parts = [rows.get("Versicherungsumfang", "")]
        for label in ("Selbstbeteiligung Teilkasko", "Selbstbeteiligung Vollkasko", "Fahrerkreis"):
            if rows.get(label):
                parts.append(f"{label} {rows[label]}")
    else:
        wishes = (
            f"Rechtsschutz für {rows.get('Familienstand/Deckung', rows.get('Deckung', 'den Kunden'))}, "
            f"Bausteine {rows.get('Bausteine', '–')}; Beitrag {frequency} gezahlt."
        )
        parts = [f"Bausteine {rows.get('Bausteine', '–')}", f"Selbstbeteiligung {rows.get('Selbstbeteiligung', '–')}"]
    advice = (
        f"Empfohlen: Tarif {tariff.name} (Tarifstand {offer.tariff_version}) – "
        + ", ".join(p for p in parts if p)
        + f"; Gesamtbeitrag {frequency} {eur(offer.total)} inkl. 19 % Versicherungsteuer."
    )
    return wishes, advice
