import pytest

from agency.funnel import SORTS, FunnelRow, sort_rows
from agency.share import Share

ANNA = FunnelRow(
    "a",
    "Anna",
    {"versendet": 9, "geoeffnet": 4, "aktiviert": 3, "offen": 3, "abgelaufen": 2, "unzustellbar": 1},
    median_seconds=2 * 86400,
    share=Share(digital=6, running=14),
)
MAX = FunnelRow(
    "m",
    "max",
    {"versendet": 14, "geoeffnet": 7, "aktiviert": 6, "offen": 1, "abgelaufen": 1, "unzustellbar": 2},
    median_seconds=4 * 86400,
    share=Share(digital=13, running=27),
)
NEW = FunnelRow("n", "Nina", {}, median_seconds=None, share=Share(digital=0, running=0))


@pytest.mark.parametrize(
    ("key", "descending"),
    [
        ("name", ["Nina", "max", "Anna"]),  # case-insensitive
        ("versendet", ["max", "Anna", "Nina"]),
        ("geoeffnet", ["max", "Anna", "Nina"]),
        ("aktiviert", ["max", "Anna", "Nina"]),
        ("quote", ["max", "Anna", "Nina"]),  # 43 % vs 33 %; none sent ranks last
        ("offen", ["Anna", "max", "Nina"]),
        ("abgelaufen", ["Anna", "max", "Nina"]),
        ("unzustellbar", ["max", "Anna", "Nina"]),
        ("median", ["Nina", "max", "Anna"]),  # no activation yet: the slowest
        ("anteil", ["max", "Anna", "Nina"]),
    ],
)
def test_every_column_of_the_per_broker_table_sorts(key, descending):
    assert [r.name for r in sort_rows([ANNA, MAX, NEW], key, descending=True)] == descending
    assert [r.name for r in sort_rows([ANNA, MAX, NEW], key, descending=False)] == descending[::-1]


def test_an_unknown_sort_key_falls_back_to_the_name():
    assert [r.name for r in sort_rows([NEW, MAX, ANNA], "<script>", descending=False)] == ["Anna", "max", "Nina"]
    assert set(SORTS) >= {"geoeffnet", "abgelaufen", "unzustellbar"}
