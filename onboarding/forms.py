from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import EmailField, MultipleFileField, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from calculator.forms.fields import german_date, options, parse_german_date, strip
from contracts.models import DocumentKind
from core.forms import ChangePasswordForm, Form, NewPasswordFields, NewPasswordForm

__all__ = ["ChangePasswordForm", "NewPasswordForm"]


class AccessFields:
    """E-mail address and access code (declared first: fields keep their declaration order)."""

    email = EmailField(
        "E-Mail-Adresse",
        validators=[InputRequired("Bitte geben Sie Ihre E-Mail-Adresse ein."), Length(max=254)],
        render_kw={"autocomplete": "email", "spellcheck": "false", "autocapitalize": "none"},
    )
    zugangscode = StringField(
        "Zugangs-Code",
        validators=[InputRequired("Bitte geben Sie den Zugangs-Code ein."), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false", "autocapitalize": "characters"},
    )


class ActivationForm(AccessFields, NewPasswordFields, Form):
    pass


class CustomerLoginForm(Form):
    kennung = StringField(
        "E-Mail-Adresse oder Vertragsnummer",
        validators=[InputRequired("Bitte geben Sie Ihre E-Mail-Adresse oder Vertragsnummer ein."), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )
    passwort = PasswordField(
        "Passwort",
        validators=[InputRequired("Bitte geben Sie Ihr Passwort ein."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


class ForgotForm(Form):
    kennung = StringField(
        "E-Mail-Adresse oder Vertragsnummer",
        validators=[InputRequired("Bitte geben Sie Ihre E-Mail-Adresse oder Vertragsnummer ein."), Length(max=254)],
    )


class DocumentFilterForm(FlaskForm):
    """ "Meine Dokumente" filters as in the seed: Name, Vorname, Datum (one day or from–to),
    Dokument; besides Status, Vertrag and the page size. A GET form (no CSRF): a wrong date is
    said next to its field and the other filters still apply."""

    class Meta:
        csrf = False
        locales = ("de_DE", "de")

    name = StringField("Name", filters=[strip], validators=[Length(max=100)])
    vorname = StringField("Vorname", filters=[strip], validators=[Length(max=100)])
    datum = StringField(
        "Datum",
        description="TT.MM.JJJJ",
        filters=[strip],
        validators=[german_date()],
        render_kw={"inputmode": "numeric", "placeholder": "TT.MM.JJJJ", "maxlength": 10},
    )
    bis = StringField(
        "bis (optional)",
        description="für einen Zeitraum",
        filters=[strip],
        validators=[german_date()],
        render_kw={"inputmode": "numeric", "placeholder": "TT.MM.JJJJ", "maxlength": 10},
    )
    dokument = SelectField("Dokument", choices=options([("", "alle")] + [(k.value, k.label) for k in DocumentKind]))
    status = SelectField("Status", choices=options([("", "alle"), ("ungelesen", "Ungelesen"), ("gelesen", "Gelesen")]))
    vertrag = SelectField("Vertrag", choices=options([("", "alle")]), validate_choice=False)
    anzahl = SelectField("Pro Seite", choices=options([("10", "10"), ("20", "20"), ("50", "50")]), default="10")

    def check(self) -> None:
        self.validate()
        start, end = self.day("datum"), self.day("bis")
        if end is not None and start is None and not self.datum.errors:
            self.datum.errors = ["Bitte geben Sie auch den Anfang des Zeitraums an."]
        elif start is not None and end is not None and end < start:
            self.bis.errors = ["Das Ende des Zeitraums liegt vor seinem Anfang."]

    def day(self, name: str) -> date | None:
        field = self[name]
        return None if field.errors else parse_german_date(field.data or "")

    def filters(self) -> dict[str, str]:
        """The filters as query parameters (kept while paging and after marking)."""
        return {f.name: f.data for f in self if f.data and f.name != "anzahl"}


class ClaimForm(Form):
    """Schaden melden (the Kfz questions only for a Kfz contract)."""

    art = RadioField(
        "Was ist passiert?", validators=[InputRequired("Bitte wählen Sie, was passiert ist.")], validate_choice=False
    )
    datum = StringField(
        "Schadentag",
        description="TT.MM.JJJJ",
        filters=[strip],
        validators=[german_date(required_message="Bitte geben Sie den Tag des Schadens ein.")],
        render_kw={"inputmode": "numeric", "placeholder": "TT.MM.JJJJ", "maxlength": 10},
    )
    ort = StringField(
        "Schadenort",
        description="Straße und Ort, oder eine Beschreibung (z. B. A9 zwischen Ingolstadt und München)",
        filters=[strip],
        validators=[InputRequired("Bitte geben Sie an, wo der Schaden passiert ist."), Length(max=200)],
    )
    beschreibung = TextAreaField(
        "Was ist passiert?",
        filters=[strip],
        validators=[InputRequired("Bitte beschreiben Sie, was passiert ist."), Length(max=5000)],
        render_kw={"rows": 6},
    )
    gegner = TextAreaField(
        "Unfallgegner (falls beteiligt)",
        description="Name, Anschrift, Kennzeichen und Versicherung des anderen Beteiligten",
        filters=[strip],
        validators=[Length(max=2000)],
        render_kw={"rows": 3},
    )
    polizei = RadioField(
        "Wurde die Polizei gerufen?", choices=options([("ja", "ja"), ("nein", "nein")]), validate_choice=False
    )
    dateien = MultipleFileField(
        "Fotos und Dokumente",
        description="Fotos (JPEG, PNG, HEIC) und PDFs, höchstens 5 Dateien zu je 6 MB",
        render_kw={"accept": "image/jpeg,image/png,image/heic,image/heif,application/pdf"},
    )

    @property
    def occurred_on(self) -> date:
        day = parse_german_date(self.datum.data or "")
        assert day is not None
        return day
