from hypothesis import given
from hypothesis import strategies as st

from core.paging import clamp, page_number


def test_page_numbers_from_the_query_string():
    assert page_number(None) == 1
    assert page_number("") == 1
    assert page_number("3") == 3
    assert page_number("0") == 1
    assert page_number("-4") == 1
    assert page_number("zwei") == 1
    assert page_number("99999999999999999999") == 10**9  # clamped to the last page later
    assert page_number("²") == 1  # found by hypothesis: str.isdigit() is true for it, int() fails


@given(st.text(max_size=40), st.integers(min_value=0, max_value=500), st.sampled_from([10, 20, 25, 50]))
def test_any_input_lands_on_an_existing_page(raw, total, size):
    number, pages = clamp(page_number(raw), total, size)
    assert 1 <= number <= pages
    assert (number - 1) * size < total or total == 0  # the page holds at least one item
