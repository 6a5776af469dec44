"""Zusatzdaten (tariff extras) and Zahlweise."""

from __future__ import annotations

from calculator.forms.fields import SelectField, german_date_field, options
from calculator.tariffs import PaymentFrequency


class MembershipFields:
    mitgliedschaftsbeginn = german_date_field(
        "Mitgliedschaftsbeginn",
        description="TT.MM.JJJJ – der Tarif setzt eine Mitgliedschaft im Kraftfahrer-Schutz e.V. voraus",
        required_message="Bitte geben Sie den Beginn der Mitgliedschaft ein.",
    )


class PaymentFields:
    zahlweise = SelectField(
        "Zahlweise",
        choices=options([(f.value, f.label) for f in PaymentFrequency]),
        default=PaymentFrequency.YEARLY.value,
    )
