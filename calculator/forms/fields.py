"""Field validators shared by the calculator forms; every message is German."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

import wtforms
from wtforms import Field, Form, IntegerField, StringField, ValidationError
from wtforms.fields.choices import SelectChoice

from core.forms import DATE_RANGE_MESSAGE, in_date_range

_DATE = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*$")


def parse_german_date(text: str) -> date | None:
    """'29.02.2012' → date; None when it is not TT.MM.JJJJ or not a real calendar day."""
    match = _DATE.match(text or "")
    if not match:
        return None
    day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def german_date(*, required_message: str | None = None) -> Callable[[Form, Field], None]:
    """TT.MM.JJJJ checked against the real calendar (29.02.2013 is not a day)."""

    def check(form: Form, field: Field) -> None:
        text = (field.data or "").strip()
        if not text:
            if required_message:
                raise ValidationError(required_message)
            return
        if not _DATE.match(text):
            raise ValidationError("Bitte im Format TT.MM.JJJJ eingeben, z. B. 24.12.1980.")
        day = parse_german_date(text)
        if day is None:
            raise ValidationError(f"Den {text.strip()} gibt es nicht im Kalender. Bitte prüfen Sie das Datum.")
        if not in_date_range(day):
            raise ValidationError(DATE_RANGE_MESSAGE)

    if required_message:
        check.field_flags = {"required": True}  # type: ignore[attr-defined]
    return check


def german_date_field(
    label: str,
    *,
    description: str = "TT.MM.JJJJ",
    required_message: str | None = None,
    validators: Sequence[Callable[[Form, Field], None]] = (),
    **kwargs: Any,
) -> Any:
    """The one German date field (TT.MM.JJJJ): trimmed, checked against the calendar and the range
    of typed dates, the numeric keyboard on a phone, its placeholder."""
    return StringField(
        label,
        description=description,
        filters=[strip],
        validators=[german_date(required_message=required_message), *validators],
        render_kw={"inputmode": "numeric", "placeholder": "TT.MM.JJJJ", "maxlength": 10},
        **kwargs,
    )


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def options(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """Choices for select, radio and checkbox fields from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


class QuickChoiceCheck:
    """WTForms checks a choice by building a rendered `Choice` for every option (the 45 SF-Klassen,
    twice a live premium: a seventh of its time); this compares the values only — WTForms' own rule
    (`coerce(value) == data` for some option) for choices given as a list of `SelectChoice` (`options`
    above), WTForms' check for anything else. tests/unit/test_choice_check.py compares both."""

    choices: Any
    coerce: Callable[[Any], Any]
    data: Any
    process_errors: list[Any]
    validate_choice: bool
    invalid_choice_message: str | None
    gettext: Callable[[str], str]

    def pre_validate(self, form: Form) -> None:
        choices = self.choices
        if self.process_errors or not self.validate_choice or not isinstance(choices, list):
            super().pre_validate(form)  # type: ignore[misc]
            return
        for choice in choices:
            if type(choice) is not SelectChoice:
                super().pre_validate(form)  # type: ignore[misc]
                return
            if self.coerce(choice.value) == self.data:
                return
        raise ValidationError(self.invalid_choice_message or self.gettext("Not a valid choice."))


class SelectField(QuickChoiceCheck, wtforms.SelectField):
    pass


class RadioField(QuickChoiceCheck, wtforms.RadioField):
    pass


def choice_labels(field: Field) -> dict[str, str]:
    return {str(value): str(label) for value, label, *_ in field.iter_choices()}


class WholeNumberField(IntegerField):
    """An IntegerField for counts and kilometres: a number too long for any of them (more than 12
    digits) is "not a valid number" at the field — wtforms' NumberRange turned 400 nines into an
    OverflowError, an HTTP 500 (found by the fuzz net, issue #25 item 8)."""

    MAX_DIGITS = 12

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist and len(str(valuelist[0]).strip().lstrip("+-")) > self.MAX_DIGITS:
            self.data = None
            raise ValueError(self.gettext("Not a valid integer value."))
        super().process_formdata(valuelist)
