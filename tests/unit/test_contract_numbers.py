from contracts.numbers import contract_number, luhn_digit


def _checks_out(number: str) -> bool:
    """The Luhn digit over year and serial matches the last digit (VR-YYYY-NNNNNNN-C)."""
    year, serial, check = number[3:7], number[8:15], number[16:]
    return check.isdigit() and luhn_digit(year + serial) == int(check)


def test_format_and_check_digit():
    assert contract_number(2026, 42) == f"VR-2026-0000042-{luhn_digit('20260000042')}"
    assert _checks_out(contract_number(2026, 42))


def test_a_mistyped_digit_or_swapped_neighbours_make_a_number_that_does_not_exist():
    number = contract_number(2026, 1234567)
    typo = number[:10] + ("0" if number[10] != "0" else "1") + number[11:]
    swapped = number[:9] + number[10] + number[9] + number[11:]
    assert not _checks_out(typo)
    assert number[9] == number[10] or not _checks_out(swapped)
