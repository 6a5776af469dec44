"""Schaden melden in the customer's words (issue #26 item 14): each tariff's claim events map what
happened to the cover that pays — Kfz to Haftpflicht/Teilkasko/Vollkasko (AKB A.1, A.2.2, A.2.3),
Rechtsschutz to its Leistungsart and Baustein (ARB 2.2), whose Wartezeit applies."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from calculator.tariffs.terms import NO_WAITING, TermsError, parse_claim_events
from contracts import claims
from contracts.models import ClaimKind


def _contract(product, risk, version):
    return SimpleNamespace(product=product, risk=risk, tariff_version=version, start_date=date(2026, 1, 1))


def test_kfz_events_follow_the_cover_akb_a_2(catalog):
    full = [
        e.key for e in claims.events_for(_contract("kfz", {"cover": "kh_vk"}, "KFZ-2026-01"), catalog, date(2026, 6, 1))
    ]
    partial = [
        e.key for e in claims.events_for(_contract("kfz", {"cover": "kh_tk"}, "KFZ-2026-01"), catalog, date(2026, 6, 1))
    ]
    liability = [
        e.key for e in claims.events_for(_contract("kfz", {"cover": "kh"}, "KFZ-2026-01"), catalog, date(2026, 6, 1))
    ]
    assert liability == ["unfall", "parkschaden_fremd"]
    assert set(partial) - set(liability) == {"glas", "wild", "diebstahl", "unwetter", "brand", "marder"}
    assert set(full) - set(partial) == {"parkschaden", "eigenschaden", "vandalismus"}
    kinds = {e.key: e.kind for e in catalog.get("KFZ-2026-01").claim_events}
    assert kinds["wild"] == ClaimKind.TK.value  # Wildunfall: Teilkasko, no Rückstufung
    assert kinds["parkschaden"] == ClaimKind.VK.value  # own car, no one to claim from: Vollkasko


def test_rs_events_follow_the_booked_bausteine(catalog):
    contract = _contract("rs", {"modules": ["privat", "verkehr"]}, "RS-2026-01")
    keys = [e.key for e in claims.events_for(contract, catalog, date(2026, 6, 1))]
    assert "arbeit" not in keys
    assert "miete" not in keys
    assert {"vertrag", "verkehr", "schadenersatz", "straf", "sonstiges"} <= set(keys)


def test_an_imported_contract_gets_the_current_tariffs_events(catalog):
    contract = _contract("kfz", None, "import")
    assert [e.key for e in claims.events_for(contract, catalog, date(2026, 6, 1))][:2] == [
        "unfall",
        "parkschaden_fremd",
    ]


@pytest.mark.parametrize(
    ("event", "occurred", "waits_until"),
    [
        ("verkehr", date(2026, 2, 1), None),  # Verkehrs-Rechtsschutz: no Wartezeit (ARB)
        ("schadenersatz", date(2026, 2, 1), None),  # Schadenersatz-Rechtsschutz: none either
        ("vertrag", date(2026, 2, 1), date(2026, 4, 1)),  # Privat: 3 months
        ("vertrag", date(2026, 4, 1), None),
        (None, date(2026, 2, 1), date(2026, 4, 1)),  # reported before the events: the booked Bausteine's
    ],
)
def test_the_wartezeit_of_the_baustein_the_event_falls_under_arb(catalog, event, occurred, waits_until):
    contract = _contract("rs", {"modules": ["privat", "verkehr"]}, "RS-2026-01")
    claim = SimpleNamespace(kind=ClaimKind.RS, contract=contract, occurred_on=occurred, event=event)
    assert claims.waiting_until(claim, catalog) == waits_until


def test_a_tariff_file_with_a_wrong_claim_event_is_refused():
    with pytest.raises(TermsError, match="kind must be one of"):
        parse_claim_events({"x": {"label": "L", "kind": "kasko", "benefit": "B"}})
    with pytest.raises(TermsError, match="is not a Baustein"):
        parse_claim_events({"x": {"label": "L", "kind": "rechtsschutz", "benefit": "B", "module": "haus"}}, ("privat",))
    with pytest.raises(TermsError, match="needs"):
        parse_claim_events({})
    assert (
        parse_claim_events({"x": {"label": "L", "kind": "rechtsschutz", "benefit": "B", "module": NO_WAITING}})[
            0
        ].module
        == "keine"
    )
