"""Fahrzeug (Kfz): HSN/TSN from the registration certificate, use, drivers, SF classes and cover."""

from __future__ import annotations

from wtforms import BooleanField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional, Regexp

from calculator.forms.fields import (
    RadioField,
    SelectField,
    WholeNumberField,
    german_date,
    german_date_field,
    options,
    strip,
    upper,
)
from calculator.tariffs import ALL_SF_CLASSES, DriverCircle, KfzCover, Parking, Usage

SF_CHOICES = [("", "Bitte wählen")] + [(sf.key, sf.label) for sf in reversed(ALL_SF_CLASSES)]
DRIVER_CIRCLES = {
    DriverCircle.VN: "nur Versicherungsnehmer",
    DriverCircle.VN_PARTNER: "Versicherungsnehmer und Partner",
    DriverCircle.ANY: "beliebige Fahrer",
}
USAGES = {
    Usage.PRIVATE: "privat",
    Usage.PRIVATE_COMMUTE: "privat und Weg zur Arbeit",
    Usage.BUSINESS: "überwiegend beruflich",
}
PARKING = {Parking.GARAGE: "Einzel-/Doppelgarage", Parking.CARPORT: "Carport", Parking.STREET: "Straße/Parkplatz"}
# a select with a preset answer and no empty choice may not carry HTML's `required` (the HTML spec
# wants a placeholder option first); the answer stays required on the server (aria-required too)
PRESET = {"required": False}
EVB_ALPHABET_FIX = str.maketrans({"I": "1", "O": "0"})


def evb_filter(value: object) -> object:
    """eVB numbers have no I or O: read them as 1 and 0."""
    return value.strip().upper().translate(EVB_ALPHABET_FIX) if isinstance(value, str) else value


class VehicleFields:
    hsn = StringField(
        "HSN",
        description="Feld 2.1 (4 Ziffern)",
        filters=[strip],
        validators=[
            InputRequired("Bitte geben Sie die HSN ein."),
            Regexp(r"^[0-9]{4}$", message="Die HSN besteht aus genau 4 Ziffern."),
        ],
        render_kw={"inputmode": "numeric", "maxlength": 4, "autocomplete": "off", "spellcheck": "false"},
    )
    tsn = StringField(
        "TSN",
        description="Feld 2.2 (erste 3 Zeichen)",
        filters=[upper],
        validators=[
            InputRequired("Bitte geben Sie die TSN ein."),
            Regexp(r"^[0-9A-Z]{3}$", message="Die TSN besteht aus genau 3 Buchstaben oder Ziffern."),
        ],
        render_kw={"maxlength": 3, "autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"},
    )
    erstzulassung = german_date_field(
        "Erstzulassung",
        description="TT.MM.JJJJ (Feld B)",
        required_message="Bitte geben Sie das Datum der Erstzulassung ein.",
    )
    kilometerstand = WholeNumberField(
        "Kilometerstand",
        validators=[
            InputRequired("Bitte geben Sie den Kilometerstand ein."),
            NumberRange(0, 2_000_000, "Bitte einen Kilometerstand von 0 bis 2.000.000 eingeben."),
        ],
        render_kw={"inputmode": "numeric"},
    )
    fahrleistung = WholeNumberField(
        "Jährliche Fahrleistung (km)",
        validators=[
            InputRequired("Bitte geben Sie die jährliche Fahrleistung ein."),
            NumberRange(1000, 100_000, "Bitte eine Fahrleistung von 1.000 bis 100.000 km eingeben."),
        ],
        render_kw={"inputmode": "numeric"},
    )
    nutzung = SelectField(
        "Nutzung",
        choices=options([(k.value, v) for k, v in USAGES.items()]),
        default=Usage.PRIVATE.value,
        validators=[InputRequired("Bitte wählen Sie die Nutzung.")],
        render_kw=PRESET,
    )
    abstellplatz = SelectField(
        "Abstellplatz",
        choices=options([(k.value, v) for k, v in PARKING.items()]),
        default=Parking.STREET.value,
        validators=[InputRequired("Bitte wählen Sie den Abstellplatz.")],
        render_kw=PRESET,
    )
    fahrerkreis = SelectField(
        "Fahrerkreis",
        choices=options([(k.value, v) for k, v in DRIVER_CIRCLES.items()]),
        default=DriverCircle.VN_PARTNER.value,
        validators=[InputRequired("Bitte wählen Sie den Fahrerkreis.")],
        render_kw=PRESET,
    )
    juengster_fahrer = WholeNumberField(
        "Alter des jüngsten Fahrers",
        validators=[
            InputRequired("Bitte geben Sie das Alter des jüngsten Fahrers ein."),
            NumberRange(17, 99, "Bitte ein Alter von 17 bis 99 Jahren eingeben."),
        ],
        render_kw={"inputmode": "numeric"},
    )
    fuehrerschein = StringField(
        "Führerschein Klasse B seit",
        description="TT.MM.JJJJ (prüft die SF-Klasse; nötig für SF ½)",
        filters=[strip],
        validators=[Optional(), german_date()],
        render_kw={"inputmode": "numeric", "placeholder": "TT.MM.JJJJ", "maxlength": 10},
    )
    kfz_deckung = RadioField(
        "Versicherungsumfang",
        choices=options([(c.value, c.label) for c in KfzCover]),
        default=KfzCover.KH_VK.value,
        validators=[InputRequired("Bitte wählen Sie den Versicherungsumfang.")],
    )
    sf_kh = SelectField(
        "SF-Klasse Haftpflicht",
        choices=options(SF_CHOICES),
        validators=[InputRequired("Bitte wählen Sie die SF-Klasse der Haftpflicht.")],
    )
    sf_vk = SelectField("SF-Klasse Vollkasko", choices=options(SF_CHOICES))
    sb_tk = SelectField(
        "Selbstbeteiligung Teilkasko",
        choices=options([("0", "ohne"), ("150", "150 €"), ("300", "300 €"), ("500", "500 €")]),
        default="150",
    )
    sb_vk = SelectField(
        "Selbstbeteiligung Vollkasko",
        choices=options([("300", "300 €"), ("500", "500 €"), ("1000", "1.000 €")]),
        default="500",
    )
    rabattschutz = BooleanField(
        "Rabattschutz",
        description="Nur wenn der jüngste Fahrer mindestens 23 ist, Haftpflicht und Vollkasko mindestens SF 4 "
        "haben und eine Vollkasko besteht.",
    )
    evb = StringField(
        "eVB-Nummer (falls vorhanden)",
        description="7 Zeichen; I und O werden als 1 und 0 gelesen",
        filters=[evb_filter],
        validators=[Optional(), Regexp(r"^[0-9A-HJ-NP-Z]{7}$", message="Die eVB-Nummer besteht aus 7 Zeichen.")],
        render_kw={"maxlength": 7, "autocomplete": "off"},
    )
