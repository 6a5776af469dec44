"""Risikofragen: prior insurance and the risk professions (seed 003 wording)."""

from __future__ import annotations

from wtforms import StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from calculator.forms.fields import RadioField, SelectField, WholeNumberField, options, strip

NO_PRIOR_INSURANCE = (
    "Für den Versicherungsnehmer und/oder eine mitversicherte Person bestehen oder bestanden keine Vorversicherungen."
)
RISK_PROFESSION_QUESTION = (
    "Sind Antragsteller oder mitversicherter Ehe- bzw. Lebenspartner Angehöriger einer der nachstehenden Berufsgruppen?"
)
RISK_PROFESSIONS = (
    "Berufs- und Lizenzsportler",
    "Wertpapierhändler, Börsenmakler, Investmentbanker",
    "Schauspieler, Moderator (Film und TV)",
    "Vorstand/Aufsichtsrat börsennotierter Aktiengesellschaften",
)
YES_NO = [("nein", "nein"), ("ja", "ja")]


class PriorInsuranceFields:
    vorversicherung = RadioField(
        "Vorversicherung",
        choices=options([("keine", NO_PRIOR_INSURANCE), ("ja", "Es besteht oder bestand eine Vorversicherung.")]),
        validators=[InputRequired("Bitte beantworten Sie die Frage zur Vorversicherung.")],
    )
    vv_versicherer = StringField("Vorversicherer", filters=[strip], validators=[Length(max=120)])
    vv_vertragsnummer = StringField("Vertragsnummer der Vorversicherung", filters=[strip], validators=[Length(max=40)])
    vv_gekuendigt_durch = SelectField(
        "Gekündigt durch",
        choices=options(
            [
                ("", "Bitte wählen"),
                ("vn", "Versicherungsnehmer"),
                ("versicherer", "Vorversicherer"),
                ("ungekuendigt", "noch nicht gekündigt"),
            ]
        ),
        validate_choice=True,
    )
    vv_schaeden = WholeNumberField(
        "Schäden in den letzten 5 Jahren",
        validators=[Optional(), NumberRange(0, 99, "Bitte eine Anzahl von 0 bis 99 eingeben.")],
        render_kw={"inputmode": "numeric"},
    )


class RiskProfessionFields:
    risikoberuf = RadioField(
        "Antragsteller",
        choices=options(YES_NO),
        validators=[InputRequired("Bitte beantworten Sie die Frage für den Antragsteller.")],
    )
    # § 19 Abs. 1 VVG: the Gefahrfragen are answered actively — none has a pre-set answer
    risikoberuf_partner = RadioField("Mitversicherter Ehe- bzw. Lebenspartner", choices=options(YES_NO))
