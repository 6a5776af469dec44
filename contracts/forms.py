"""Antrag: Vertragsbeginn, SEPA mandate and the delivery choice (seed 003 labels)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from calculator.forms import QuoteForm
from calculator.forms.applicant import ApplicantFields
from calculator.forms.fields import german_date_field, options, parse_german_date, strip
from calculator.forms.vehicle import VehicleFields
from calculator.tariffs import PaymentFrequency, Product
from contracts.advice import Advice
from contracts.models import ClaimStatus, Occasion
from core.forms import Form, email_field, mobile_field

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


def parse_iban(text: str) -> tuple[str, str | None]:
    """The IBAN compact and its BIC (where schwifty knows the bank); ValueError with a German
    message for a wrong check digit or length, or a country outside the SEPA zone."""
    try:
        iban = IBAN(text)
    except SchwiftyException:
        raise ValueError("Die IBAN ist ungültig. Bitte prüfen Sie Länge und Prüfziffer.") from None
    if not iban.in_sepa_zone:  # schwifty knows the SEPA zone
        raise ValueError("Die IBAN gehört zu keinem Land des SEPA-Raums.")
    return iban.compact, (str(iban.bic) if iban.bic else None)


VIN_ALPHABET = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")  # ISO 3779: no I, O, Q
PLATE = re.compile(r"^([A-ZÄÖÜ]{1,3})[- ]([A-Z]{1,2}) ?([1-9][0-9]{0,3})([EH]?)$")


def compact_upper(value: Any) -> Any:
    """Upper case without spaces or hyphens (how a FIN is written down varies)."""
    return re.sub(r"[\s-]", "", value).upper() if isinstance(value, str) else value


def vin_problem(vin: str) -> str | None:
    """Why this is no Fahrzeug-Identifizierungsnummer (ISO 3779: 17 characters, digits and capital
    letters without I, O and Q); None when it is one."""
    if len(vin) != 17:
        return f"Die FIN hat genau 17 Zeichen (eingegeben: {len(vin)})."
    if not VIN_ALPHABET.match(vin):
        return "Die FIN besteht nur aus Ziffern und Buchstaben ohne I, O und Q. Bitte prüfen Sie sie."
    return None


def normalize_plate(text: str) -> str | None:
    """'b ab 1234', 'B-AB1234' → 'B-AB 1234'; None when it is no German Kennzeichen."""
    match = PLATE.match(" ".join(text.upper().split()))
    if match is None:
        return None
    area, letters, digits, suffix = match.groups()
    return f"{area}-{letters} {digits}{suffix}"


class ApplicationForm(QuoteForm):
    vertragsbeginn = german_date_field("Vertragsbeginn", required_message="Bitte geben Sie den Vertragsbeginn ein.")
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
    kunde_email = email_field("E-Mail des Kunden", autocomplete="off")
    kunde_mobil = mobile_field("Mobilnummer des Kunden", autocomplete="off")

    anlass = RadioField(
        "Anlass des Antrags",
        choices=options([(o.value, o.label) for o in Occasion]),
        validators=[Optional()],
    )
    fin = StringField(
        "Fahrzeug-Identifizierungsnummer (FIN)",
        description="17 Zeichen, Feld E der Zulassungsbescheinigung Teil I",
        filters=[compact_upper],
        validators=[Length(max=30)],
        render_kw={"autocomplete": "off", "spellcheck": "false", "maxlength": 30},
    )
    kennzeichen = StringField(
        "Amtliches Kennzeichen",
        description="falls schon bekannt, z. B. B-AB 1234",
        filters=[strip],
        validators=[Length(max=20)],
        render_kw={"autocomplete": "off", "maxlength": 20},
    )
    vertragsinformationen_am = german_date_field(
        "Vertragsinformationen übergeben am",
        description="TT.MM.JJJJ – Versicherungsbedingungen, Produktinformationsblatt (IPID) und "
        "Verbraucherinformationen, vor der Vertragserklärung des Kunden (§ 7 VVG)",
        required_message="Bitte geben Sie an, wann der Kunde die Vertragsinformationen erhielt.",
    )
    belehrung_19 = BooleanField(
        "Der Kunde hat die Mitteilung nach § 19 Abs. 5 VVG über die Folgen einer Verletzung der Anzeigepflicht "
        "vor Antragstellung gesondert in Textform erhalten.",
        validators=[InputRequired("Ohne die gesonderte Mitteilung nach § 19 Abs. 5 VVG ist der Antrag nicht möglich.")],
    )

    wuensche = TextAreaField(
        "Wünsche und Bedürfnisse des Kunden",
        description="aus dem Angebot vorgeschlagen – bitte mit dem Kunden ergänzen",
        filters=[strip],
        validators=[Length(max=2000)],
        render_kw={"rows": 4},
    )
    rat = TextAreaField("Rat des Vermittlers", filters=[strip], validators=[Length(max=2000)], render_kw={"rows": 4})
    begruendung = TextAreaField(
        "Gründe für den Rat",
        description="warum dieser Tarif und dieser Umfang zu den Wünschen des Kunden passen",
        filters=[strip],
        validators=[Length(max=2000)],
        render_kw={"rows": 4},
    )
    beratung_uebergeben = BooleanField(
        "Der Kunde hat die Beratungsdokumentation vor Antragstellung in Textform erhalten."
    )
    beratungsverzicht = BooleanField(
        "Der Kunde verzichtet in einer gesonderten Erklärung auf Beratung und Dokumentation (§ 61 Abs. 2 VVG)."
    )

    product: Product = Product.RS  # set by the view from the offer
    # set by check_conditions for the service
    iban_compact: str = ""
    bic: str | None = None

    @property
    def email_normalized(self) -> str | None:
        return self.kunde_email.normalized

    @property
    def mobile_e164(self) -> str | None:
        return self.kunde_mobil.e164

    def relevant(self, name: str) -> bool:
        if name in ("kunde_email", "kunde_mobil"):
            return self.zustellung.data == "portal"
        if name in ("anlass", "fin", "kennzeichen"):
            return self.product is Product.KFZ
        return True

    def check_conditions(self) -> None:
        start = parse_german_date(self.vertragsbeginn.data or "")
        if start is not None:
            if start < self.today:
                self.add_error("vertragsbeginn", "Der Vertragsbeginn darf nicht in der Vergangenheit liegen.")
            elif start > self.today + timedelta(days=MAX_START_AHEAD_DAYS):
                self.add_error("vertragsbeginn", "Der Vertragsbeginn darf höchstens ein Jahr in der Zukunft liegen.")
        if not self.beratungsverzicht.data:
            for name, message in (
                ("wuensche", "Bitte dokumentieren Sie die Wünsche und Bedürfnisse des Kunden."),
                ("rat", "Bitte dokumentieren Sie Ihren Rat."),
                ("begruendung", "Bitte begründen Sie Ihren Rat (§ 61 Abs. 1 VVG)."),
            ):
                if len(self[name].data or "") < 10:
                    self.add_error(name, message)
            if not self.beratung_uebergeben.data:
                self.add_error(
                    "beratung_uebergeben",
                    "Der Kunde muss die Beratungsdokumentation vor dem Vertragsschluss erhalten (§ 62 VVG).",
                )
        given = parse_german_date(self.vertragsinformationen_am.data or "")
        if given is not None and given > self.today:
            self.add_error("vertragsinformationen_am", "Das Datum kann nicht in der Zukunft liegen.")
        if self.product is Product.KFZ:
            if not self.anlass.data:
                self.add_error("anlass", "Bitte wählen Sie den Anlass des Antrags.")
            if not self.fin.data:
                self.add_error("fin", "Bitte geben Sie die FIN ein (Feld E der Zulassungsbescheinigung Teil I).")
            elif (problem := vin_problem(self.fin.data)) is not None:
                self.add_error("fin", problem)
            if self.kennzeichen.data and normalize_plate(self.kennzeichen.data) is None:
                self.add_error(
                    "kennzeichen", "Bitte geben Sie das Kennzeichen so ein: B-AB 1234 (Ort-Buchstaben Ziffern)."
                )
        if self.iban.data and not self.iban.errors:
            try:
                self.iban_compact, self.bic = parse_iban(self.iban.data)
            except ValueError as error:
                self.add_error("iban", str(error))
        if self.zustellung.data == "portal":
            # the format is each field's own check (core.forms); required only for the portal
            if not self.kunde_email.data:
                self.add_error("kunde_email", "Bitte geben Sie die E-Mail-Adresse des Kunden ein.")
            if not self.kunde_mobil.data:
                self.add_error("kunde_mobil", "Bitte geben Sie die Mobilnummer des Kunden ein.")

    def advice(self) -> Advice:
        if self.beratungsverzicht.data:
            return Advice("", "", "", waived=True)
        return Advice(self.wuensche.data or "", self.rat.data or "", self.begruendung.data or "", waived=False)

    @property
    def start_date(self) -> date:
        start = parse_german_date(self.vertragsbeginn.data or "")
        assert start is not None
        return start


class ChangeForm(Form):
    """Vertrag ändern: prefilled with the contract's data; what differs is the change."""

    wirksam_ab = german_date_field(
        "Wirksam ab",
        description="TT.MM.JJJJ – ab diesem Tag gilt die Änderung",
        required_message="Bitte geben Sie an, ab wann die Änderung gilt.",
    )
    strasse = ApplicantFields.strasse  # the calculator's questions, with its messages
    plz = ApplicantFields.plz
    ort = StringField(
        "Ort", filters=[strip], validators=[InputRequired("Bitte geben Sie den Ort ein."), Length(max=100)]
    )
    kontoinhaber = ApplicationForm.kontoinhaber  # as on the Antrag
    iban = ApplicationForm.iban
    sepa_mandat = BooleanField("Für eine neue Bankverbindung: Ich erteile das SEPA-Lastschriftmandat.")
    zahlweise = SelectField("Zahlweise", choices=options([(f.value, f.label) for f in PaymentFrequency]))
    hsn = VehicleFields.hsn
    tsn = VehicleFields.tsn
    fahrleistung = VehicleFields.fahrleistung
    fahrerkreis = VehicleFields.fahrerkreis
    juengster_fahrer = VehicleFields.juengster_fahrer
    version = HiddenField()

    KFZ_FIELDS = ("hsn", "tsn", "fahrleistung", "fahrerkreis", "juengster_fahrer")

    iban_compact: str = ""
    bic: str | None = None

    def check(self, kfz: bool, iban_required: bool = True) -> bool:
        """Validate; the Kfz questions only for a Kfz contract with tariff data (an imported one
        has none, the page does not ask them); the IBAN only where the contract has one (imported
        contracts may come without: left empty, the bank account stays unknown). True when fine."""
        self.validate()
        if not iban_required and not self.iban.data:
            self.iban.errors = self.kontoinhaber.errors = []
        if not kfz:
            for name in self.KFZ_FIELDS:
                self[name].errors = []
        if self.iban.data and not self.iban.errors:
            try:
                self.iban_compact, self.bic = parse_iban(self.iban.data)
            except ValueError as error:
                self.iban.errors = [str(error)]
        return not any(f.errors for f in self)

    @property
    def effective(self) -> date:
        day = parse_german_date(self.wirksam_ab.data or "")
        assert day is not None
        return day


class CancelForm(Form):
    grund = RadioField(
        "Grund der Kündigung", validators=[InputRequired("Bitte wählen Sie den Grund der Kündigung.")], choices=[]
    )
    eingegangen_am = german_date_field(
        "Kündigung eingegangen am",
        description="TT.MM.JJJJ – der Tag, an dem die Kündigung beim Versicherer oder Vermittler einging; "
        "er zählt für die Kündigungsfrist (nicht bei Verkauf oder Abmeldung)",
    )
    verkauft_am = german_date_field(
        "Fahrzeug verkauft oder abgemeldet am",
        description="TT.MM.JJJJ – nur bei „Fahrzeug verkauft oder abgemeldet“: der Vertrag endet an diesem Tag, "
        "der nicht verbrauchte Beitrag wird tagegenau erstattet",
    )
    endet_am = german_date_field(
        "Gewünschtes Vertragsende",
        description="TT.MM.JJJJ – nur bei „Kündigung nach einem Schadenfall“: leer oder der Eingangstag heißt "
        "sofort, sonst ein späterer Tag bis zum Ende des Versicherungsjahres",
    )
    bemerkung = TextAreaField("Bemerkung", filters=[strip], validators=[Length(max=500)])
    version = HiddenField()

    @property
    def early_end(self) -> date | None:
        """The day of an early end: of the sale, or chosen after a claim."""
        text = self.verkauft_am.data if self.grund.data == "fahrzeug" else self.endet_am.data
        return parse_german_date(text or "")

    @property
    def received(self) -> date | None:
        return parse_german_date(self.eingegangen_am.data or "")


class WithdrawForm(Form):
    version = HiddenField()


class EvbRevokeForm(Form):
    """A row of the back office's eVB list: the reason for the revocation (its search kept)."""

    grund = StringField(
        "Grund",
        filters=[strip],
        validators=[
            InputRequired("Bitte geben Sie den Grund für den Widerruf an."),
            Length(max=500, message="Der Grund darf höchstens 500 Zeichen lang sein."),
        ],
    )
    suche = HiddenField(filters=[strip])
    seite = HiddenField()


class RenewalForm(Form):
    faellig_am = german_date_field(
        "Hauptfälligkeit",
        description="TT.MM.JJJJ – verlängert werden alle Verträge, die bis zu diesem Tag fällig sind",
        required_message="Bitte geben Sie die Hauptfälligkeit ein.",
    )
    # "probe": the Probelauf first; "start": "Jetzt durchführen" after it (issue #26 item 25)
    aktion = HiddenField(default="probe")

    @property
    def due(self) -> date:
        day = parse_german_date(self.faellig_am.data or "")
        assert day is not None
        return day


def parse_euro(text: str) -> Decimal | None:
    """'1.234,56', '1234,56', '1234.56 €' → Decimal; None when it is no amount of euros and cents."""
    cleaned = text.replace("€", "").replace(" ", "").strip()
    if not cleaned:
        return None
    if "," in cleaned:  # German: dots group thousands, the comma is the decimal sign
        cleaned = cleaned.replace(".", "").replace(",", ".")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        return None
    return amount


class ClaimStatusForm(Form):
    """The back office's decision on a claim (the choices are the claim's next statuses)."""

    status = RadioField("Neuer Stand", validators=[InputRequired("Bitte wählen Sie den neuen Stand.")], choices=[])
    datum = german_date_field(
        "Datum",
        description="TT.MM.JJJJ – Tag der Zahlung, Regulierung oder Ablehnung",
        required_message="Bitte geben Sie das Datum ein.",
    )
    betrag = StringField(
        "Gezahlter Betrag in €",
        description="nur bei „reguliert (mit Zahlung)“, z. B. 2.450,00",
        filters=[strip],
        validators=[Length(max=20)],
        render_kw={"inputmode": "decimal", "maxlength": 20},
    )
    bemerkung = TextAreaField(
        "Bemerkung für den Kunden", description="Pflicht bei „abgelehnt“ (die Begründung)", filters=[strip]
    )

    def validate_betrag(self, field: StringField) -> None:
        if field.data and parse_euro(field.data) is None:
            raise ValidationError("Bitte einen Betrag in Euro eingeben, z. B. 2.450,00.")

    @property
    def amount(self) -> Decimal | None:
        return parse_euro(self.betrag.data or "")

    @property
    def day(self) -> date | None:
        return parse_german_date(self.datum.data or "")


class BuybackForm(Form):
    datum = german_date_field(
        "Rückzahlung eingegangen am", required_message="Bitte geben Sie an, wann der Betrag eingegangen ist."
    )

    @property
    def day(self) -> date | None:
        return parse_german_date(self.datum.data or "")


CLAIM_OPEN, CLAIM_ALL = "offen", "alle"
CLAIM_AGES = (7, 14, 30)  # "gemeldet vor mehr als … Tagen"


class ClaimFilterForm(Form):
    """The back office's Schadenmeldungen filtered by status and age (issue #26 item 23). A GET form:
    no CSRF; a value not offered falls back to its default."""

    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices=options(
            [(CLAIM_OPEN, "offen (noch nicht bearbeitet)")]
            + [(s.value, s.label) for s in ClaimStatus]
            + [(CLAIM_ALL, "alle")]
        ),
        default=CLAIM_OPEN,
    )
    alter = SelectField(
        "Gemeldet",
        choices=options([("", "beliebig")] + [(str(d), f"vor mehr als {d} Tagen") for d in CLAIM_AGES]),
        default="",
    )

    @classmethod
    def from_args(cls, args: Any) -> ClaimFilterForm:
        data = {
            "status": CLAIM_ALL if args.get("alle") == "1" else args.get("status", CLAIM_OPEN),
            "alter": args.get("alter", ""),
        }
        if data["status"] not in {CLAIM_OPEN, CLAIM_ALL, *(s.value for s in ClaimStatus)}:
            data["status"] = CLAIM_OPEN
        if data["alter"] not in {str(d) for d in CLAIM_AGES}:
            data["alter"] = ""
        return cls(formdata=None, data=data)

    @property
    def older_than_days(self) -> int | None:
        return int(self.alter.data) if self.alter.data else None

    def params(self) -> dict[str, str]:
        """The query string of the filters (kept by the pager)."""
        return {k: v for k, v in (("status", self.status.data or ""), ("alter", self.alter.data or "")) if v}


class QuestionForm(Form):
    """Rückfrage an Vermittler, from a row of the Risikoprüfung (issue #26 item 21)."""

    frage = TextAreaField(
        "Rückfrage an den Vermittler",
        filters=[strip],
        validators=[
            InputRequired("Bitte geben Sie Ihre Frage an den Vermittler ein."),
            Length(max=2000, message="Bitte fassen Sie sich kürzer (höchstens 2000 Zeichen)."),
        ],
    )


class AnswerForm(Form):
    """The broker's answer to the Risikoprüfung's Rückfrage, on the application."""

    antwort = TextAreaField(
        "Ihre Antwort",
        filters=[strip],
        validators=[
            InputRequired("Bitte geben Sie Ihre Antwort ein."),
            Length(max=2000, message="Bitte fassen Sie sich kürzer (höchstens 2000 Zeichen)."),
        ],
        render_kw={"rows": 4},
    )
