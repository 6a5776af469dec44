"""Issue #25 item 6: every date a user types lies between 1900 and 2100 — beyond, a German message at
the field instead of an overflow deeper down."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form, StringField

from calculator.forms.fields import german_date


class DateForm(Form):
    tag = StringField("Tag", validators=[german_date()])


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("01.01.1900", None),
        ("31.12.2100", None),
        ("31.12.1899", "Bitte ein Datum zwischen dem 01.01.1900 und dem 31.12.2100 eingeben."),
        ("01.01.2101", "Bitte ein Datum zwischen dem 01.01.1900 und dem 31.12.2100 eingeben."),
        ("31.12.9999", "Bitte ein Datum zwischen dem 01.01.1900 und dem 31.12.2100 eingeben."),
        ("01.01.0001", "Bitte ein Datum zwischen dem 01.01.1900 und dem 31.12.2100 eingeben."),
        ("29.02.2013", "Den 29.02.2013 gibt es nicht im Kalender. Bitte prüfen Sie das Datum."),
    ],
)
def test_a_typed_date_lies_between_1900_and_2100(typed, message):
    form = DateForm(MultiDict({"tag": typed}))
    assert form.validate() is (message is None)
    assert form.tag.errors == ([message] if message else [])
