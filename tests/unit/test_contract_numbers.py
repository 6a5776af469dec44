from contracts.numbers import contract_number, is_valid, luhn_digit


def test_format_and_check_digit():
    assert contract_number(2026, 42) == f"VR-2026-0000042-{luhn_digit('20260000042')}"
    assert is_valid(contract_number(2026, 42))


def test_a_mistyped_digit_or_swapped_neighbours_are_caught():
    number = contract_number(2026, 1234567)
    typo = number[:10] + ("0" if number[10] != "0" else "1") + number[11:]
    swapped = number[:9] + number[10] + number[9] + number[11:]
    assert not is_valid(typo)
    assert number[9] == number[10] or not is_valid(swapped)
    assert not is_valid("VR-2026-123-4")
    assert not is_valid("")
