"""Antrag: Vertragsbeginn, SEPA mandate and the delivery choice (seed 003 labels)."""

from __future__ import annotations

from datetime import date, timedelta

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from wtforms import BooleanField, EmailField, RadioField, StringField
from wtforms.validators import InputRequired, Length

from calculator.forms import QuoteForm
from calculator.forms.fields import german_date, options, parse_german_date, strip
from core.contact import ContactError as MessageError
from core.contact import normalize_email, normalize_mobile

PORTAL_HINT = (
    "Wichtiger Hinweis: Die E-Mail-Adresse und Mobilfunknummer wird nur für die Einrichtung des individuellen "
    "Portalzugangs und Information des Kunden zu neuen Vertragsdokumenten verwendet. Es erfolgt keine Nutzung "
    "zu werblichen Zwecken!"
)
MANDATE_TEXT = (
    "Ich ermächtige den Versicherer, Zahlungen von meinem Konto mittels Lastschrift einzuziehen. Zugleich weise "
    "ich mein Kreditinstitut an, die vom Versicherer auf mein Konto gezogenen Lastschriften einzulösen. Hinweis: "
    "Ich kann innerhalb von acht Wochen, beginnend mit dem Belastungsdatum, die Erstattung des belasteten Betrages "
    "verlangen. Es gelten dabei die mit meinem Kreditinstitut vereinbarten Bedingungen."
)
MAX_START_AHEAD_DAYS = 365


class ApplicationForm(QuoteForm):
    vertragsbeginn = StringField(
        "Vertragsbeginn",
        description="TT.MM.JJJJ",
        filters=[strip],
        validators=[german_date(required_message="Bitte geben Sie den Vertragsbeginn ein.")],
        render_kw={"inputmode": "numeric", "placeholder": "TT.MM.JJJJ", "maxlength": 10},
    )
    kontoinhaber = StringField(
        "Kontoinhaber",
        filters=[strip],
        validators=[InputRequired("Bitte geben Sie den Kontoinhaber ein."), Length(max=140)],
    )
    iban = StringField(
        "IBAN",
        filters=[strip],
        validators=[InputRequired("Bitte geben Sie die IBAN ein.")],
        render_kw={"autocomplete": "off", "spellcheck": "false", "maxlength": 42},
    )
    sepa_mandat = BooleanField(
        "Ich erteile das SEPA-Lastschriftmandat.",
        validators=[InputRequired("Ohne SEPA-Lastschriftmandat ist der Antrag nicht möglich.")],
    )
    zustellung = RadioField(
        "Vertragsunterlagen: Wählen Sie, wie Ihr Kunde die Vertragsunterlagen erhalten möchte",
        choices=options([("portal", "ausschließlich online im Kunden-Portal"), ("post", "per Post")]),
        validators=[InputRequired("Bitte wählen Sie, wie Ihr Kunde die Vertragsunterlagen erhalten soll.")],
    )
    kunde_email = EmailField(
        "E-Mail des Kunden",
        filters=[strip],
        validators=[Length(max=254)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    kunde_mobil = StringField(
        "Mobilnummer des Kunden",
        filters=[strip],
        validators=[Length(max=30)],
        render_kw={"inputmode": "tel", "autocomplete": "off"},
    )

    # set by check_conditions for the service
    iban_compact: str = ""
    bic: str | None = None
    email_normalized: str | None = None
    mobile_e164: str | None = None

    def relevant(self, name: str) -> bool:
        if name in ("kunde_email", "kunde_mobil"):
            return self.zustellung.data == "portal"
        return True

    def check_conditions(self) -> None:
        start = parse_german_date(self.vertragsbeginn.data or "")
        if start is not None:
            if start < self.today:
                self.add_error("vertragsbeginn", "Der Vertragsbeginn darf nicht in der Vergangenheit liegen.")
            elif start > self.today + timedelta(days=MAX_START_AHEAD_DAYS):
                self.add_error("vertragsbeginn", "Der Vertragsbeginn darf höchstens ein Jahr in der Zukunft liegen.")
        if self.iban.data and not self.iban.errors:
            try:
                iban = IBAN(self.iban.data)
            except SchwiftyException:
                self.add_error("iban", "Die IBAN ist ungültig. Bitte prüfen Sie Länge und Prüfziffer.")
            else:
                if not iban.in_sepa_zone:  # schwifty knows the SEPA zone
                    self.add_error("iban", "Die IBAN gehört zu keinem Land des SEPA-Raums.")
                self.iban_compact = iban.compact
                self.bic = str(iban.bic) if iban.bic else None
        if self.zustellung.data == "portal":
            if not self.kunde_email.data:
                self.add_error("kunde_email", "Bitte geben Sie die E-Mail-Adresse des Kunden ein.")
            else:
                try:
                    self.email_normalized = normalize_email(self.kunde_email.data).lower()
                except MessageError:
                    self.add_error("kunde_email", "Bitte geben Sie eine gültige E-Mail-Adresse ein.")
            if not self.kunde_mobil.data:
                self.add_error("kunde_mobil", "Bitte geben Sie die Mobilnummer des Kunden ein.")
            else:
                try:
                    self.mobile_e164 = normalize_mobile(self.kunde_mobil.data)
                except MessageError:
                    self.add_error(
                        "kunde_mobil", "Bitte geben Sie eine deutsche Mobilfunknummer ein (z. B. 0151 12345678)."
                    )

    @property
    def start_date(self) -> date:
        start = parse_german_date(self.vertragsbeginn.data or "")
        assert start is not None
        return start
