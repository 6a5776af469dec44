"""The quote forms: one per product line, composed of the calculator's sections (SPEC §2).

Field checks are WTForms validators; rules that depend on other answers (conditional sections) are
checked in ``check_conditions``; checks against reference data (PLZ, HSN/TSN) are the quote
service's (calculator.quotes).
"""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import Field

from calculator.forms.applicant import ApplicantFields, CoverFields
from calculator.forms.extras import MembershipFields, PaymentFields
from calculator.forms.fields import age_on, parse_german_date
from calculator.forms.legal import LegalFields
from calculator.forms.risk import PriorInsuranceFields, RiskProfessionFields
from calculator.forms.vehicle import VehicleFields
from calculator.tariffs import KfzCover, Product

# Sections in the order of the calculator (SPEC §2), with their fields, per product line.
SECTIONS: dict[Product, list[tuple[str, str, tuple[str, ...]]]] = {
    Product.RS: [
        (
            "antragsteller",
            "Antragsteller",
            (
                "anrede",
                "vorname",
                "name",
                "geburtsdatum",
                "strasse",
                "plz",
                "ort",
                "taetigkeit",
                "deckung",
                "partner_vorname",
                "partner_name",
                "partner_geburtsdatum",
            ),
        ),
        (
            "risikofragen",
            "Risikofragen",
            (
                "vorversicherung",
                "vv_versicherer",
                "vv_vertragsnummer",
                "vv_gekuendigt_durch",
                "vv_schaeden",
                "risikoberuf",
                "risikoberuf_partner",
            ),
        ),
        ("leistung", "Leistungsumfang", ("bausteine", "selbstbeteiligung")),
        ("zusatzdaten", "Zusatzdaten", ("mitgliedschaftsbeginn",)),
        ("ergebnis", "Ergebnis", ("zahlweise",)),
    ],
    Product.KFZ: [
        (
            "antragsteller",
            "Antragsteller",
            ("anrede", "vorname", "name", "geburtsdatum", "strasse", "plz", "ort", "taetigkeit"),
        ),
        (
            "risikofragen",
            "Risikofragen",
            ("vorversicherung", "vv_versicherer", "vv_vertragsnummer", "vv_gekuendigt_durch", "vv_schaeden"),
        ),
        (
            "fahrzeug",
            "Fahrzeug",
            (
                "hsn",
                "tsn",
                "erstzulassung",
                "kilometerstand",
                "fahrleistung",
                "nutzung",
                "abstellplatz",
                "fahrerkreis",
                "juengster_fahrer",
                "kfz_deckung",
                "sf_kh",
                "sf_vk",
                "sb_tk",
                "sb_vk",
                "rabattschutz",
                "evb",
            ),
        ),
        ("ergebnis", "Ergebnis", ("zahlweise",)),
    ],
}

# The answers a price depends on; a live premium shows as soon as these are valid.
PRICING_FIELDS: dict[Product, tuple[str, ...]] = {
    Product.RS: ("taetigkeit", "deckung", "bausteine", "selbstbeteiligung", "zahlweise"),
    Product.KFZ: (
        "plz",
        "hsn",
        "tsn",
        "fahrleistung",
        "nutzung",
        "abstellplatz",
        "fahrerkreis",
        "juengster_fahrer",
        "kfz_deckung",
        "sf_kh",
        "sf_vk",
        "sb_tk",
        "sb_vk",
        "rabattschutz",
        "zahlweise",
    ),
}


class QuoteForm(FlaskForm):
    """Common base: CSRF is checked for every POST by CSRFProtect, not per form."""

    class Meta:
        csrf = False
        locales = ("de_DE", "de")

    product: Product

    def __init__(self, *args: object, today: date, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def add_error(self, name: str, message: str) -> None:
        field: Field = self[name]
        if message not in field.errors:
            field.errors = [*field.errors, message]

    def relevant(self, name: str) -> bool:
        """Is this field part of the quote with the current answers (conditional sections)?"""
        if name.startswith("vv_"):
            return self.vorversicherung.data == "ja"
        if name.startswith("partner_") or name == "risikoberuf_partner":
            return self.product is Product.RS and self.deckung.data in ("paar", "familie")
        if name == "sf_vk":
            return self.kfz_deckung.data == KfzCover.KH_VK.value
        if name == "sb_tk":
            return self.kfz_deckung.data in (KfzCover.KH_TK.value, KfzCover.KH_VK.value)
        if name == "sb_vk":
            return self.kfz_deckung.data == KfzCover.KH_VK.value
        return True

    def check_conditions(self) -> None:
        """Rules that depend on other answers; adds German errors to the fields."""
        born = parse_german_date(self.geburtsdatum.data or "")
        if born is not None:
            if born > self.today:
                self.add_error("geburtsdatum", "Das Geburtsdatum liegt in der Zukunft.")
            elif age_on(born, self.today) < 18:
                self.add_error("geburtsdatum", "Der Antragsteller muss mindestens 18 Jahre alt sein.")
            elif age_on(born, self.today) > 110:
                self.add_error("geburtsdatum", "Bitte prüfen Sie das Geburtsdatum.")
        if self.vorversicherung.data == "ja":
            if not self.vv_versicherer.data:
                self.add_error("vv_versicherer", "Bitte geben Sie den Vorversicherer an.")
            if not self.vv_gekuendigt_durch.data:
                self.add_error("vv_gekuendigt_durch", "Bitte geben Sie an, wer gekündigt hat.")
            if self.vv_schaeden.data is None and not self.vv_schaeden.errors:
                self.add_error("vv_schaeden", "Bitte geben Sie die Zahl der Schäden an (0, wenn keine).")

    def irrelevant_errors_cleared(self) -> None:
        for field in self:
            if not self.relevant(field.name):
                field.errors = []


class RsQuoteForm(
    ApplicantFields,
    CoverFields,
    PriorInsuranceFields,
    RiskProfessionFields,
    LegalFields,
    MembershipFields,
    PaymentFields,
    QuoteForm,
):
    product = Product.RS

    def check_conditions(self) -> None:
        super().check_conditions()
        if self.relevant("partner_vorname"):
            for name, message in (
                ("partner_vorname", "Bitte geben Sie den Vornamen des Partners ein."),
                ("partner_name", "Bitte geben Sie den Namen des Partners ein."),
                ("partner_geburtsdatum", "Bitte geben Sie das Geburtsdatum des Partners ein."),
            ):
                if not self[name].data:
                    self.add_error(name, message)
        if not self.bausteine.data:
            self.add_error("bausteine", "Bitte wählen Sie mindestens einen Baustein.")
        started = parse_german_date(self.mitgliedschaftsbeginn.data or "")
        if started is not None and not (date(1900, 1, 1) <= started <= date(self.today.year + 1, 12, 31)):
            self.add_error("mitgliedschaftsbeginn", "Bitte prüfen Sie den Beginn der Mitgliedschaft.")


class KfzQuoteForm(ApplicantFields, PriorInsuranceFields, VehicleFields, PaymentFields, QuoteForm):
    product = Product.KFZ

    def check_conditions(self) -> None:
        super().check_conditions()
        if self.relevant("sf_vk") and not self.sf_vk.data:
            self.add_error("sf_vk", "Bitte wählen Sie die SF-Klasse der Vollkasko.")
        registered = parse_german_date(self.erstzulassung.data or "")
        if registered is not None and not (date(1900, 1, 1) <= registered <= self.today):
            self.add_error("erstzulassung", "Die Erstzulassung darf nicht in der Zukunft liegen.")


FORMS: dict[Product, type[QuoteForm]] = {Product.RS: RsQuoteForm, Product.KFZ: KfzQuoteForm}
