"""The yearly move of the SF-Klassen, straight from the motor seed's (001) sentences, on the demo
tariff's Rückstufungstabelle: claim-free steps, the special classes M, S, 0 and ½, Rückstufung after
one, two, three claims, Rabattschutz."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from calculator.tariffs import ALL_SF_CLASSES, SFClass, TariffCatalog
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
    for table in (tariff.rueckstufung_kh, tariff.rueckstufung_vk):
        for sf, (one, two) in table.items():
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


# The demo tariff's Rückstufungstabellen, pinned class by class for 1, 2, 3 and 4 claims a year (AKB,
# SF system: Kfz-Haftpflicht and Vollkasko each have their own table; seed 001: three or more claims
# → M, the tariff's malus_from). DEMO VALUES, as the tariff file says: a real insurer's published
# tables replace both the file and these expectations.
KH_TABLE = {
    "50": ("25", "12", "M", "M"),
    "49": ("24", "12", "M", "M"),
    "48": ("24", "12", "M", "M"),
    "47": ("23", "11", "M", "M"),
    "46": ("23", "11", "M", "M"),
    "45": ("22", "11", "M", "M"),
    "44": ("22", "11", "M", "M"),
    "43": ("21", "10", "M", "M"),
    "42": ("21", "10", "M", "M"),
    "41": ("20", "10", "M", "M"),
    "40": ("20", "10", "M", "M"),
    "39": ("19", "9", "M", "M"),
    "38": ("19", "9", "M", "M"),
    "37": ("18", "9", "M", "M"),
    "36": ("18", "9", "M", "M"),
    "35": ("17", "8", "M", "M"),
    "34": ("17", "8", "M", "M"),
    "33": ("16", "8", "M", "M"),
    "32": ("16", "8", "M", "M"),
    "31": ("15", "7", "M", "M"),
    "30": ("15", "7", "M", "M"),
    "29": ("14", "7", "M", "M"),
    "28": ("14", "7", "M", "M"),
    "27": ("13", "6", "M", "M"),
    "26": ("13", "6", "M", "M"),
    "25": ("12", "6", "M", "M"),
    "24": ("12", "6", "M", "M"),
    "23": ("11", "5", "M", "M"),
    "22": ("11", "5", "M", "M"),
    "21": ("10", "5", "M", "M"),
    "20": ("10", "5", "M", "M"),
    "19": ("9", "4", "M", "M"),
    "18": ("9", "4", "M", "M"),
    "17": ("8", "4", "M", "M"),
    "16": ("8", "4", "M", "M"),
    "15": ("7", "3", "M", "M"),
    "14": ("7", "3", "M", "M"),
    "13": ("6", "3", "M", "M"),
    "12": ("6", "3", "M", "M"),
    "11": ("5", "2", "M", "M"),
    "10": ("5", "1", "M", "M"),
    "9": ("4", "1", "M", "M"),
    "8": ("4", "1", "M", "M"),
    "7": ("3", "1", "M", "M"),
    "6": ("3", "0", "M", "M"),
    "5": ("1", "0", "M", "M"),
    "4": ("1", "0", "M", "M"),
    "3": ("1/2", "M", "M", "M"),
    "2": ("0", "M", "M", "M"),
    "1": ("S", "M", "M", "M"),
    "1/2": ("M", "M", "M", "M"),
    "0": ("M", "M", "M", "M"),
    "S": ("M", "M", "M", "M"),
    "M": ("M", "M", "M", "M"),
}
VK_TABLE = {
    "50": ("28", "15", "M", "M"),
    "49": ("27", "15", "M", "M"),
    "48": ("26", "14", "M", "M"),
    "47": ("26", "14", "M", "M"),
    "46": ("25", "14", "M", "M"),
    "45": ("25", "14", "M", "M"),
    "44": ("24", "13", "M", "M"),
    "43": ("24", "13", "M", "M"),
    "42": ("23", "13", "M", "M"),
    "41": ("23", "12", "M", "M"),
    "40": ("22", "12", "M", "M"),
    "39": ("21", "12", "M", "M"),
    "38": ("21", "11", "M", "M"),
    "37": ("20", "11", "M", "M"),
    "36": ("20", "11", "M", "M"),
    "35": ("19", "10", "M", "M"),
    "34": ("19", "10", "M", "M"),
    "33": ("18", "10", "M", "M"),
    "32": ("18", "10", "M", "M"),
    "31": ("17", "9", "M", "M"),
    "30": ("16", "9", "M", "M"),
    "29": ("16", "9", "M", "M"),
    "28": ("15", "8", "M", "M"),
    "27": ("15", "8", "M", "M"),
    "26": ("14", "8", "M", "M"),
    "25": ("14", "8", "M", "M"),
    "24": ("13", "7", "M", "M"),
    "23": ("13", "7", "M", "M"),
    "22": ("12", "7", "M", "M"),
    "21": ("12", "6", "M", "M"),
    "20": ("11", "6", "M", "M"),
    "19": ("10", "6", "M", "M"),
    "18": ("10", "5", "M", "M"),
    "17": ("9", "5", "M", "M"),
    "16": ("9", "5", "M", "M"),
    "15": ("8", "4", "M", "M"),
    "14": ("8", "4", "M", "M"),
    "13": ("7", "4", "M", "M"),
    "12": ("7", "4", "M", "M"),
    "11": ("6", "3", "M", "M"),
    "10": ("6", "3", "M", "M"),
    "9": ("5", "3", "M", "M"),
    "8": ("4", "2", "M", "M"),
    "7": ("4", "2", "M", "M"),
    "6": ("3", "2", "M", "M"),
    "5": ("2", "1/2", "M", "M"),
    "4": ("2", "1/2", "M", "M"),
    "3": ("1", "0", "M", "M"),
    "2": ("1/2", "0", "M", "M"),
    "1": ("S", "M", "M", "M"),
    "1/2": ("0", "M", "M", "M"),
    "0": ("M", "M", "M", "M"),
    "S": ("M", "M", "M", "M"),
    "M": ("M", "M", "M", "M"),
}


@pytest.mark.parametrize(("part", "expected"), [("kh", KH_TABLE), ("vk", VK_TABLE)])
def test_the_rueckstufungstabellen_for_kh_and_vk_class_by_class_for_1_to_4_claims(tariff, part, expected):
    assert set(expected) == {sf.key for sf in ALL_SF_CLASSES}
    for sf, after in expected.items():
        found = tuple(move_part(tariff, sf, claims, part) for claims in (1, 2, 3, 4))
        assert found == after, (part, sf)


def test_kh_and_vk_fall_back_by_their_own_tables(tariff):
    assert move_part(tariff, "12", 1, "kh") != move_part(tariff, "12", 1, "vk")


def move_part(tariff, sf: str, claims: int, part: str) -> str:
    return tariff.next_sf_class(
        SFClass.parse(sf), claims, insured_from=JAN_1, year=2019, rabattschutz=False, part=part
    ).key
