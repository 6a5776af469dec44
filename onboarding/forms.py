from __future__ import annotations

import re
from datetime import date

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FileField,
    MultipleFileField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length

from calculator.forms.applicant import ApplicantFields
from calculator.forms.fields import german_date_field, options, parse_german_date, strip
from calculator.forms.legal import CheckboxesField
from contracts.forms import ChangeForm, parse_iban
from contracts.models import DocumentKind
from core.forms import ChangePasswordForm, Form, NewPasswordFields, NewPasswordForm, email_field, mobile_field

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


def _privacy_field() -> BooleanField:
    return BooleanField("Ich habe die Datenschutzhinweise zur Kenntnis genommen.")


def _terms_field() -> BooleanField:
    return BooleanField("Ich stimme den Nutzungsbedingungen des Kunden-Portals zu.")


class ConsentFields:
    """Seed 002: the Datenschutzhinweise taken note of, the Nutzungsbedingungen agreed to (the texts
    linked beside; what was agreed to is stored with the texts' versions: onboarding.consent). A form
    that asks more declares them again after its own fields (fields keep their declaration order)."""

    datenschutz = _privacy_field()
    nutzungsbedingungen = _terms_field()

    def consent_errors(self) -> dict[str, list[str]]:
        errors: dict[str, list[str]] = {}
        if not self.nutzungsbedingungen.data:
            errors["nutzungsbedingungen"] = ["Bitte stimmen Sie den Nutzungsbedingungen zu."]
        if not self.datenschutz.data:
            errors["datenschutz"] = [
                "Bitte bestätigen Sie, dass Sie die Datenschutzhinweise zur Kenntnis genommen haben."
            ]
        return errors


class ActivationForm(AccessFields, NewPasswordFields, ConsentFields, Form):
    """The consent boxes are asked only from a customer who has not agreed to the current texts yet
    (the view decides; a self-registered customer agreed when he registered)."""

    datenschutz = _privacy_field()  # after the password, as on the page
    nutzungsbedingungen = _terms_field()


class ConsentForm(ConsentFields, Form):
    pass


# a Versicherungsscheinnummer as printed: ours (VR-2026-0000001-7) or an imported contract's
CONTRACT_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9./-]{3,19}$")


class RegistrationForm(ConsentFields, Form):
    """ "Jetzt registrieren" (seed 002): Versicherungsscheinnummer, the policyholder's birth date, the
    e-mail address twice and the consent."""

    vertragsnummer = StringField(
        # with a hyphen (allowed in German for readability): in a phone's error list the 25 letters must break
        "Versicherungsschein-Nummer",
        description="wie auf Ihrem Versicherungsschein, z. B. VR-2026-0000001-7",
        filters=[lambda v: "".join(v.split()).upper() if isinstance(v, str) else v],
        validators=[InputRequired("Bitte geben Sie die Nummer Ihres Versicherungsscheins ein."), Length(max=40)],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"},
    )
    geburtsdatum = german_date_field(
        "Ihr Geburtsdatum",
        description="TT.MM.JJJJ – das des Versicherungsnehmers, nicht das einer versicherten Person",
        required_message="Bitte geben Sie Ihr Geburtsdatum ein.",
    )
    email = email_field("E-Mail-Adresse", required="Bitte geben Sie Ihre E-Mail-Adresse ein.")
    email2 = email_field("E-Mail-Adresse wiederholen", required="Bitte wiederholen Sie Ihre E-Mail-Adresse.")
    datenschutz = _privacy_field()  # after the fields above, as on the page
    nutzungsbedingungen = _terms_field()

    def check(self, today: date) -> bool:
        valid = self.validate()
        number = self.vertragsnummer.data or ""
        if number and not self.vertragsnummer.errors and not CONTRACT_NUMBER.match(number):
            self.vertragsnummer.errors = [
                # (not the 25-letter word itself: in the error list of a phone it would have to break)
                "Bitte geben Sie die Nummer so ein, wie sie auf Ihrem Versicherungsschein steht (Buchstaben, "
                "Ziffern und Bindestriche, z. B. VR-2026-0000001-7)."
            ]
        born = parse_german_date(self.geburtsdatum.data or "")
        if born is not None and not self.geburtsdatum.errors and born > today:
            self.geburtsdatum.errors = ["Das Geburtsdatum liegt in der Zukunft."]
        first, second = self.email.normalized, self.email2.normalized
        if first is not None and second is not None and first != second:
            self.email2.errors = ["Die beiden E-Mail-Adressen stimmen nicht überein."]
        for name, errors in self.consent_errors().items():
            self[name].errors = errors
        return valid and not any(f.errors for f in self)


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


DOCUMENTS, INVOICES = "dokumente", "rechnungen"


class DocumentFilterForm(FlaskForm):
    """ "Meine Dokumente" filters as in the seed: Name, Vorname, Datum (one day or from–to),
    Dokument; besides Status, Vertrag and the page size. A GET form (no CSRF): a wrong date is
    said next to its field and the other filters still apply."""

    class Meta:
        csrf = False
        locales = ("de_DE", "de")

    name = StringField("Name", filters=[strip], validators=[Length(max=100)])
    vorname = StringField("Vorname", filters=[strip], validators=[Length(max=100)])
    datum = german_date_field("Datum")
    bis = german_date_field("bis (optional)", description="für einen Zeitraum")
    # default "": a filter not sent is "alle", not "Keine gültige Auswahl." (issue #26 item 3: shown on
    # every plain visit)
    dokument = SelectField(
        "Dokument", choices=options([("", "alle")] + [(k.value, k.label) for k in DocumentKind]), default=""
    )
    status = SelectField(
        "Status", choices=options([("", "alle"), ("ungelesen", "Ungelesen"), ("gelesen", "Gelesen")]), default=""
    )
    vertrag = SelectField("Vertrag", choices=options([("", "alle")]), validate_choice=False, default="")
    anzahl = SelectField("Pro Seite", choices=options([("10", "10"), ("20", "20"), ("50", "50")]), default="10")
    # seed 000: "Dokumente" (Versicherungsschein and every other contract document) and "Rechnungen" apart
    ansicht = SelectField(
        "Ansicht",
        choices=options([("", "Alle"), (DOCUMENTS, "Dokumente"), (INVOICES, "Rechnungen")]),
        default="",
        validate_choice=False,
    )

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
    datum = german_date_field("Schadentag", required_message="Bitte geben Sie den Tag des Schadens ein.")
    ort = StringField(
        "Schadenort",
        description="Straße und Ort, oder eine Beschreibung (z. B. A9 zwischen Ingolstadt und München)",
        filters=[strip],
        validators=[InputRequired("Bitte geben Sie an, wo der Schaden passiert ist."), Length(max=200)],
    )
    beschreibung = TextAreaField(
        "Wie kam es dazu?",
        description="Schildern Sie kurz den Hergang in Ihren Worten",
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
        # image/* lets a phone offer its camera beside the gallery; the content is checked on upload
        render_kw={"accept": "image/*,application/pdf"},
    )

    @property
    def occurred_on(self) -> date:
        day = parse_german_date(self.datum.data or "")
        assert day is not None
        return day


class DataChangeForm(Form):
    """Vertragsdaten ändern (customer): the postal address (prefilled), a new bank account only when
    it changes, and the contracts it applies to (all running ones ticked)."""

    strasse = ApplicantFields.strasse
    plz = ApplicantFields.plz
    ort = ChangeForm.ort
    kontoinhaber = StringField(
        "Kontoinhaber", filters=[strip], validators=[Length(max=140)], render_kw={"autocomplete": "name"}
    )
    iban = StringField(
        "Neue IBAN",
        description="Nur ausfüllen, wenn sich Ihre Bankverbindung ändert.",
        filters=[strip],
        validators=[Length(max=42)],
        render_kw={"autocomplete": "off", "spellcheck": "false", "maxlength": 42},
    )
    sepa_mandat = BooleanField("Für die neue Bankverbindung: Ich erteile das SEPA-Lastschriftmandat.")
    vertraege = CheckboxesField("Für diese Verträge", choices=[], validate_choice=False)

    iban_compact: str = ""

    def check(self) -> bool:
        self.validate()
        if self.iban.data and not self.iban.errors:
            try:
                self.iban_compact, _ = parse_iban(self.iban.data)
            except ValueError as error:
                self.iban.errors = [str(error)]
            if not self.kontoinhaber.data:
                self.kontoinhaber.errors = ["Bitte geben Sie den Kontoinhaber der neuen Bankverbindung ein."]
        if not self.vertraege.data:
            self.vertraege.errors = ["Bitte wählen Sie mindestens einen Vertrag aus."]
        return not any(f.errors for f in self)


class EmailChangeForm(Form):
    email = email_field(
        "Neue E-Mail-Adresse",
        required="Bitte geben Sie die neue E-Mail-Adresse ein.",
        description="Wir senden einen Bestätigungslink an die neue Adresse; erst danach gilt sie.",
    )


class MobileChangeForm(Form):
    mobil = mobile_field(
        "Neue Mobilnummer",
        required="Bitte geben Sie die neue Mobilnummer ein.",
        description="Wir senden einen Bestätigungs-Code per SMS an die neue Nummer; erst danach gilt sie.",
    )


def code_field(label: str, description: str, *, digits_only: bool = True) -> StringField:
    """A one-time code field: the phone's number pad and SMS/app autofill."""
    render_kw: dict[str, object] = {"autocomplete": "one-time-code", "spellcheck": "false"}
    if digits_only:
        render_kw.update(inputmode="numeric", maxlength=6)
    return StringField(
        label,
        description=description,
        filters=[strip],
        validators=[InputRequired("Bitte geben Sie den Code ein."), Length(max=20)],
        render_kw=render_kw,
    )


class MobileCodeForm(Form):
    code = code_field("Bestätigungs-Code", "6 Ziffern aus der SMS an Ihre neue Mobilnummer")


class TotpSetupForm(Form):
    code = code_field("Code aus der App", "Den aktuellen 6-stelligen Code aus Ihrer Authenticator-App")


class SecondFactorForm(Form):
    code = code_field("Code aus der Authenticator-App", "6 Ziffern aus Ihrer Authenticator-App")


class RecoveryLoginForm(Form):
    code = code_field(
        "Wiederherstellungscode", "Einer Ihrer Wiederherstellungscodes (z. B. ABCDE-FGHJK)", digits_only=False
    )


class TotpDisableForm(Form):
    passwort = PasswordField(
        "Passwort",
        validators=[InputRequired("Bitte geben Sie Ihr Passwort ein.")],
        render_kw={"autocomplete": "current-password"},
    )
    code = code_field(
        "Code aus der App oder Wiederherstellungscode",
        "6 Ziffern aus Ihrer Authenticator-App oder ein Wiederherstellungscode",
        digits_only=False,
    )


class TwoFactorResetForm(Form):
    """Back office: switch a customer's two-factor login off on a verified request."""

    pruefung = RadioField(
        "Wie wurde die Anfrage geprüft?",
        validators=[InputRequired("Bitte wählen Sie, wie die Anfrage geprüft wurde.")],
        validate_choice=False,
    )
    bemerkung = TextAreaField(
        "Bemerkung", description="z. B. Datum und Nummer des Rückrufs", filters=[strip], validators=[Length(max=500)]
    )


class CustomerSearchForm(FlaskForm):
    class Meta:
        csrf = False
        locales = ("de_DE", "de")

    kennung = StringField(
        "E-Mail-Adresse oder Vertragsnummer",
        filters=[strip],
        validators=[InputRequired("Bitte geben Sie E-Mail-Adresse oder Vertragsnummer ein."), Length(max=254)],
    )


class AddressCorrectionForm(Form):
    """Adresse korrigieren: the address a refused e-mail should have gone to (issue #26 item 22)."""

    email = email_field(
        "Richtige E-Mail-Adresse", required="Bitte geben Sie die richtige E-Mail-Adresse ein.", autocomplete="off"
    )


class ContactForm(Form):
    """Kontakt (issue #29 item 8): about which contract, the subject, the text, one attachment."""

    vertrag = SelectField("Vertrag", validate_choice=False, validators=[InputRequired("Bitte wählen Sie den Vertrag.")])
    thema = SelectField("Thema", validate_choice=False, validators=[InputRequired("Bitte wählen Sie ein Thema.")])
    nachricht = TextAreaField(
        "Ihre Nachricht",
        validators=[
            InputRequired("Bitte schreiben Sie uns Ihr Anliegen."),
            Length(max=5000, message="Bitte fassen Sie sich kürzer (höchstens 5.000 Zeichen)."),
        ],
        render_kw={"rows": 6, "maxlength": 5000},
    )
    datei = FileField("Anhang (optional)")
