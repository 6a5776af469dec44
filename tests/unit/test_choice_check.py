"""The quote forms' quick choice check (calculator.forms.fields.QuickChoiceCheck) decides like WTForms'
own check of a select or radio answer — for every choice of every such field and for values no choice
has."""

from __future__ import annotations

from datetime import date

import pytest
import wtforms
from flask import Flask
from werkzeug.datastructures import MultiDict
from wtforms.validators import ValidationError

from calculator.forms import FORMS
from calculator.forms.fields import QuickChoiceCheck
from calculator.tariffs import Product


def _decides(check, field, form) -> bool:
    try:
        check(field, form)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("product", list(Product))
def test_quick_choice_check_decides_like_wtforms(product):
    with Flask(__name__).test_request_context():
        names = [f.name for f in FORMS[product](today=date(2026, 12, 7)) if isinstance(f, QuickChoiceCheck)]
        assert "zahlweise" in names  # the forms' selects use it
        for name in names:
            template = FORMS[product](today=date(2026, 12, 7))[name]
            values = [str(c.value) for c in template.choices or []] + ["", "x", " ja", "JA", "0 ", "1/2"]
            for value in values:
                form = FORMS[product](formdata=MultiDict({name: value}), today=date(2026, 12, 7))
                field = form[name]
                ours = _decides(QuickChoiceCheck.pre_validate, field, form)
                theirs = _decides(wtforms.SelectField.pre_validate, field, form)
                assert ours == theirs, (name, value)
