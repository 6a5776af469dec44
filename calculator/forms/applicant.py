"""Antragsteller: who is insured (and, for couples and families, the co-insured partner)."""

from __future__ import annotations

from wtforms import StringField
from wtforms.validators import InputRequired, Length, Regexp

from calculator.forms.fields import RadioField, SelectField, german_date, german_date_field, options, strip
from calculator.tariffs import Cover, Occupation

SALUTATIONS = [("", "Bitte wählen"), ("herr", "Herr"), ("frau", "Frau"), ("divers", "Divers / keine Angabe")]


class ApplicantFields:
    anrede = SelectField(
        "Anrede", choices=options(SALUTATIONS), validators=[InputRequired("Bitte wählen Sie die Anrede.")]
    )
    vorname = StringField(
        "Vorname",
        filters=[strip],
        validators=[InputRequired("Bitte geben Sie den Vornamen ein."), Length(max=100)],
        render_kw={"autocomplete": "off"},
    )
    name = StringField(
        "Name",
        filters=[strip],
        validators=[InputRequired("Bitte geben Sie den Namen ein."), Length(max=100)],
        render_kw={"autocomplete": "off"},
    )
    geburtsdatum = StringField(
        "Geburtsdatum",
        description="TT.MM.JJJJ",
        filters=[strip],
        validators=[german_date(required_message="Bitte geben Sie das Geburtsdatum ein.")],
        render_kw={"inputmode": "numeric", "placeholder": "TT.MM.JJJJ", "autocomplete": "off", "maxlength": 10},
    )
    strasse = StringField(
        "Straße/Hausnr.",
        filters=[strip],
        validators=[InputRequired("Bitte geben Sie Straße und Hausnummer ein."), Length(max=150)],
    )
    plz = StringField(
        "PLZ",
        filters=[strip],
        validators=[
            InputRequired("Bitte geben Sie die PLZ ein."),
            Regexp(r"^[0-9]{5}$", message="Die PLZ besteht aus genau 5 Ziffern."),
        ],
        render_kw={"inputmode": "numeric", "maxlength": 5, "autocomplete": "off"},
    )
    # the choices are the places of the PLZ, set by the form from the database
    ort = SelectField("Ort", choices=[], validate_choice=False)
    taetigkeit = SelectField(
        "Tätigkeit",
        choices=options([("", "Bitte wählen")] + [(o.value, o.label) for o in Occupation]),
        validators=[InputRequired("Bitte wählen Sie die Tätigkeit.")],
    )


class CoverFields:
    """Rechtsschutz: Familienstand/Deckung and the co-insured partner."""

    deckung = RadioField(
        "Familienstand/Deckung",
        choices=options([(c.value, c.label) for c in Cover]),
        default=Cover.SINGLE.value,
        validators=[InputRequired("Bitte wählen Sie die Deckung.")],
    )
    partner_vorname = StringField("Vorname des Partners", filters=[strip], validators=[Length(max=100)])
    partner_name = StringField("Name des Partners", filters=[strip], validators=[Length(max=100)])
    partner_geburtsdatum = german_date_field("Partner geboren am")
