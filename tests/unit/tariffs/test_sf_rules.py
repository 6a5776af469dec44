"""The yearly move of the SF-Klassen, straight from the motor seed's (001) sentences, on the demo
tariff's Rückstufungstabelle: claim-free steps, the special classes M, S, 0 and ½, Rückstufung after
one, two, three claims, Rabattschutz."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from calculator.tariffs import SFClass, TariffCatalog
from calculator.tariffs.catalog import TariffFileError

JAN_1 = date(2019, 1, 1)


TEXTS = Path("calculator/tariffs/data/texts")


@pytest.fixture(scope="module")
def tariff():
    return TariffCatalog.load().kfz(date(2026, 11, 25))


def move(tariff, sf: str, claims: int = 0, *, since: date = JAN_1, year: int = 2019, rabattschutz: bool = False):
    return tariff.next_sf_class(SFClass.parse(sf), claims, insured_from=since, year=year, rabattschutz=rabattschutz).key


@pytest.mark.parametrize(
    ("sf", "since", "expected", "seed"),
    [
        ("0", date(2019, 1, 1), "1", "Beginnt die Versicherung zum 1.1.2019 erhält man zum 1.1.2020 die SF-Klasse 1."),
        ("0", date(2019, 1, 2), "1/2", "Beginnt der Vertrag am 02.01. kommt man im nächsten Jahr in die SF-Klasse ½."),
        ("0", date(2019, 7, 1), "1/2", "(bis einschließlich 01.07.: ½)"),
        (
            "0",
            date(2019, 7, 2),
            "0",
            "Startet man erst nach dem 01.07., bleibt man im Folgejahr … in SF 0.",
        ),
        ("1/2", date(2019, 7, 5), "1", "SF ½ → SF 1: mindestens 180 Tage im Jahr (5.7.–31.12. = 180 Tage)"),
        ("1/2", date(2019, 7, 6), "1/2", "179 Tage reichen nicht"),
        ("M", JAN_1, "1", "Bei schadenfreiem Verlauf in der Klasse M oder S erreicht man direkt die SF 1."),
        ("S", JAN_1, "1", "(ebenso aus S)"),
        ("12", JAN_1, "13", "Nach jedem Versicherungsjahr ohne Schaden kommt man automatisch eine Stufe höher."),
        ("50", JAN_1, "50", "(SF 50 ist die beste Klasse)"),
    ],
)
def test_a_claim_free_year(tariff, sf, since, expected, seed):
    assert move(tariff, sf, since=since) == expected, seed


@pytest.mark.parametrize(
    ("sf", "claims", "expected", "seed"),
    [
        (
            "1",
            1,
            "S",
            "In [S] werden VN der SF-Klasse 1 zurückgestuft, wenn es zu einem Schadensfall kam.",
        ),
        ("0", 1, "M", "Hier [M] landen Fahranfänger mit SF-Klasse 0 … als Rückstufung infolge eines Unfalls."),
        ("1/2", 1, "M", "… oder SF-Klasse 1/2"),
        ("20", 3, "M", "In … M wird … eingestuft, wer während eines Jahres drei oder mehr Schäden meldet."),
        ("35", 4, "M", "(vier Schäden ebenso)"),
        ("12", 1, "6", "Rückstufungstabelle des Demo-Tarifs: ein Schaden"),
        ("12", 2, "3", "Rückstufungstabelle des Demo-Tarifs: zwei Schäden"),
        ("M", 1, "M", "(schlechter als M geht es nicht)"),
    ],
)
def test_claims_move_the_class_back(tariff, sf, claims, expected, seed):
    assert move(tariff, sf, claims) == expected, seed


@pytest.mark.parametrize(
    ("sf", "claims", "expected", "seed"),
    [
        (
            "12",
            1,
            "12",
            "Rabattschutz: jeweils ein Schaden pro Versicherungsjahr ohne Rückstufung.",
        ),
        ("12", 2, "6", "(der zweite Schaden des Jahres wird zurückgestuft wie ein einzelner)"),
        ("12", 0, "13", "(ohne Schaden wie immer eine Stufe höher)"),
        ("3", 1, "1/2", "Rabattschutz entfällt ab dem Zeitpunkt, zu dem die jeweilige SF-Klasse 3 oder kleiner ist."),
        ("4", 1, "4", "(SF 4: noch geschützt)"),
    ],
)
def test_rabattschutz(tariff, sf, claims, expected, seed):
    assert move(tariff, sf, claims, rabattschutz=True) == expected, seed


def test_every_class_has_a_rueckstufung_that_never_improves_it(tariff):
    for sf, (one, two) in tariff.rueckstufung.items():
        assert two <= one <= sf


def test_negative_claims_are_refused(tariff):
    with pytest.raises(ValueError, match="negative"):
        move(tariff, "10", -1)


def test_a_rueckstufung_that_improves_a_class_is_refused(tmp_path: Path):
    source = Path("calculator/tariffs/data/kfz-2026-01.toml").read_text()
    shutil.copytree(TEXTS, tmp_path / "texts", dirs_exist_ok=True)  # the texts it names
    (tmp_path / "bad.toml").write_text(source.replace('"12" = ["6", "3"]', '"12" = ["14", "3"]'))
    with pytest.raises(TariffFileError, match="must not improve SF 12"):
        TariffCatalog.load([tmp_path])
