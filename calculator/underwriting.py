"""Rules that refer a quote to manual underwriting (Risikoprüfung), as data: each with a German
reason and a test on the quote's answers. A referred quote still prices and can be saved."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Answers = Mapping[str, Any]


@dataclass(frozen=True)
class ReferralRule:
    key: str
    reason: str
    applies: Callable[[Answers], bool]
    fields: tuple[str, ...]  # the answers `applies` reads (the live premium binds them)


MAX_PRIOR_CLAIMS = 2

RULES: tuple[ReferralRule, ...] = (
    ReferralRule(
        "risk_profession",
        "Antragsteller gehört einer Risiko-Berufsgruppe an.",
        lambda a: a.get("risikoberuf") == "ja",
        ("risikoberuf",),
    ),
    ReferralRule(
        "risk_profession_partner",
        "Mitversicherter Ehe- bzw. Lebenspartner gehört einer Risiko-Berufsgruppe an.",
        lambda a: a.get("deckung") in ("paar", "familie") and a.get("risikoberuf_partner") == "ja",
        ("deckung", "risikoberuf_partner"),
    ),
    ReferralRule(
        "cancelled_by_insurer",
        "Der Vorvertrag wurde vom Vorversicherer gekündigt.",
        lambda a: a.get("vorversicherung") == "ja" and a.get("vv_gekuendigt_durch") == "versicherer",
        ("vorversicherung", "vv_gekuendigt_durch"),
    ),
    ReferralRule(
        "prior_claims",
        f"Mehr als {MAX_PRIOR_CLAIMS} Schäden in den letzten 5 Jahren.",
        lambda a: a.get("vorversicherung") == "ja" and (a.get("vv_schaeden") or 0) > MAX_PRIOR_CLAIMS,
        ("vorversicherung", "vv_schaeden"),
    ),
    ReferralRule(
        "sf_malus",
        "Einstufung in die SF-Klasse M.",
        lambda a: "M" in (a.get("sf_kh"), a.get("sf_vk") if a.get("kfz_deckung") == "kh_vk" else None),
        ("sf_kh", "sf_vk", "kfz_deckung"),
    ),
)


REFERRAL_FIELDS = frozenset(name for rule in RULES for name in rule.fields)


def referral_reasons(answers: Answers) -> list[str]:
    """The reasons this quote needs Risikoprüfung (empty: automatic acceptance possible)."""
    return [rule.reason for rule in RULES if rule.applies(answers)]
