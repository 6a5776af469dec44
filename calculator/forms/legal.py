"""Rechtsschutz: Bausteine and Selbstbeteiligung."""

from __future__ import annotations

from wtforms import SelectMultipleField, widgets

from calculator.forms.fields import SelectField, options
from calculator.tariffs import RsDeductible, RsModule


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class LegalFields:
    bausteine = CheckboxesField(
        "Bausteine",
        choices=options([(m.value, m.label) for m in RsModule]),
        default=[RsModule.PRIVAT.value, RsModule.VERKEHR.value],
    )
    selbstbeteiligung = SelectField(
        "Selbstbeteiligung",
        choices=options([(d.value, d.label) for d in RsDeductible]),
        default=RsDeductible.EUR150.value,
    )
