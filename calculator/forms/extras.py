"""Zusatzdaten (tariff extras) and Zahlweise."""

from __future__ import annotations

from wtforms import SelectField, StringField

from calculator.forms.fields import german_date, options, strip
from calculator.tariffs import PaymentFrequency


class MembershipFields:
    mitgliedschaftsbeginn = StringField(
        "Mitgliedschaftsbeginn",
        description="TT.MM.JJJJ – der Tarif setzt eine Mitgliedschaft im Kraftfahrer-Schutz e.V. voraus",
        filters=[strip],
        validators=[german_date(required_message="Bitte geben Sie den Beginn der Mitgliedschaft ein.")],
        render_kw={"inputmode": "numeric", "placeholder": "TT.MM.JJJJ", "maxlength": 10},
    )


class PaymentFields:
    zahlweise = SelectField(
        "Zahlweise",
        choices=options([(f.value, f.label) for f in PaymentFrequency]),
        default=PaymentFrequency.YEARLY.value,
    )
