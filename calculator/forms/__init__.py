"""The quote forms: one per product line, composed of the calculator's sections (SPEC §2).

Field checks are WTForms validators; rules that depend on other answers (conditional sections) are
checked in ``check_conditions``; checks against reference data (PLZ, HSN/TSN) are the quote
service's (calculator.quotes).
"""

from __future__ import annotations

from datetime import date
from functools import cache

from flask_wtf import FlaskForm
from wtforms import Field

from calculator.forms.applicant import ApplicantFields, CoverFields
from calculator.forms.extras import MembershipFields, PaymentFields
from calculator.forms.fields import age_on, parse_german_date
from calculator.forms.legal import LegalFields
from calculator.forms.risk import PriorInsuranceFields, RiskProfessionFields
from calculator.forms.vehicle import VehicleFields
from calculator.tariffs import DriverCircle, KfzCover, Product, SFClass
from core.forms import ControlCharacterGuard

MIN_LICENCE_AGE = 17  # Klasse B (begleitetes Fahren ab 17)

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
                "fuehrerschein",
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
        "fuehrerschein",  # optional; an implausible date holds the price like the SF class it checks
        "kfz_deckung",
        "sf_kh",
        "sf_vk",
        "sb_tk",
        "sb_vk",
        "rabattschutz",
        "zahlweise",
    ),
}


class QuoteForm(ControlCharacterGuard, FlaskForm):
    """Common base: CSRF is checked for every POST by CSRFProtect, not per form."""

    class Meta:
        csrf = False
        locales = ("de_DE", "de")

    product: Product

    def __init__(self, *args: object, today: date, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    @classmethod
    @cache
    def only(cls, names: frozenset[str]) -> type[QuoteForm]:
        """This form with only the named fields (the live premium binds only what it shows): every
        other field removed as WTForms removes a field, by setting it to None in a subclass. The
        checks skip what a form does not have (`has`)."""
        dropped = {name: None for name in dir(cls) if hasattr(getattr(cls, name), "_formfield")}
        for name in names:
            dropped.pop(name, None)
        return type(f"{cls.__name__}Only", (cls,), dropped)

    def has(self, name: str) -> bool:
        return name in self._fields

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
        if name in ("sb_vk", "rabattschutz"):  # Rabattschutz needs a Vollkasko (seed 001)
            return self.kfz_deckung.data == KfzCover.KH_VK.value
        return True

    def check_conditions(self) -> None:
        """Rules that depend on other answers; adds German errors to the fields."""
        born = parse_german_date(self.geburtsdatum.data or "") if self.has("geburtsdatum") else None
        if born is not None:
            if born > self.today:
                self.add_error("geburtsdatum", "Das Geburtsdatum liegt in der Zukunft.")
            elif age_on(born, self.today) < 18:
                self.add_error("geburtsdatum", "Der Antragsteller muss mindestens 18 Jahre alt sein.")
            elif age_on(born, self.today) > 110:
                self.add_error("geburtsdatum", "Bitte prüfen Sie das Geburtsdatum.")
        if self.vorversicherung.data == "ja":
            if self.has("vv_versicherer") and not self.vv_versicherer.data:
                self.add_error("vv_versicherer", "Bitte geben Sie den Vorversicherer an.")
            if self.has("vv_gekuendigt_durch") and not self.vv_gekuendigt_durch.data:
                self.add_error("vv_gekuendigt_durch", "Bitte geben Sie an, wer gekündigt hat.")
            if self.has("vv_schaeden") and self.vv_schaeden.data is None and not self.vv_schaeden.errors:
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
        if self.relevant("risikoberuf_partner") and not self.risikoberuf_partner.data:
            self.add_error("risikoberuf_partner", "Bitte beantworten Sie die Frage für den Partner.")
        if self.relevant("partner_vorname"):
            for name, message in (
                ("partner_vorname", "Bitte geben Sie den Vornamen des Partners ein."),
                ("partner_name", "Bitte geben Sie den Namen des Partners ein."),
                ("partner_geburtsdatum", "Bitte geben Sie das Geburtsdatum des Partners ein."),
            ):
                if self.has(name) and not self[name].data:
                    self.add_error(name, message)
        if not self.bausteine.data:
            self.add_error("bausteine", "Bitte wählen Sie mindestens einen Baustein.")
        membership = self.mitgliedschaftsbeginn.data if self.has("mitgliedschaftsbeginn") else None
        started = parse_german_date(membership or "")
        if started is not None and not (date(1900, 1, 1) <= started <= date(self.today.year + 1, 12, 31)):
            self.add_error("mitgliedschaftsbeginn", "Bitte prüfen Sie den Beginn der Mitgliedschaft.")


class KfzQuoteForm(ApplicantFields, PriorInsuranceFields, VehicleFields, PaymentFields, QuoteForm):
    product = Product.KFZ

    def check_conditions(self) -> None:
        super().check_conditions()
        if self.relevant("sf_vk") and not self.sf_vk.data:
            self.add_error("sf_vk", "Bitte wählen Sie die SF-Klasse der Vollkasko.")
        registered = parse_german_date(self.erstzulassung.data or "") if self.has("erstzulassung") else None
        if registered is not None and not (date(1900, 1, 1) <= registered <= self.today):
            self.add_error("erstzulassung", "Die Erstzulassung darf nicht in der Zukunft liegen.")
        self._check_drivers()
        self._check_sf_history()

    def _applicant_age(self) -> int | None:
        born = parse_german_date(self.geburtsdatum.data or "")
        if born is None or born > self.today or self.geburtsdatum.errors:
            return None
        return age_on(born, self.today)

    def _check_drivers(self) -> None:
        """The youngest driver's age against the applicant's (he drives too) and the licence date."""
        age = self._applicant_age()
        youngest = self.juengster_fahrer.data
        if age is not None and youngest is not None and not self.juengster_fahrer.errors:
            if self.fahrerkreis.data == DriverCircle.VN.value and youngest != age:
                self.add_error(
                    "juengster_fahrer",
                    f"Bei „nur Versicherungsnehmer“ ist der jüngste Fahrer der Antragsteller selbst ({age} Jahre).",
                )
            elif youngest > age:
                self.add_error(
                    "juengster_fahrer",
                    f"Der jüngste Fahrer kann nicht älter sein als der Antragsteller ({age} Jahre).",
                )
        licence = parse_german_date(self.fuehrerschein.data or "")
        if licence is not None and not self.fuehrerschein.errors:
            born = parse_german_date(self.geburtsdatum.data or "")
            if licence > self.today:
                self.add_error("fuehrerschein", "Das Datum des Führerscheins liegt in der Zukunft.")
            elif born is not None and age_on(born, licence) < MIN_LICENCE_AGE:
                self.add_error(
                    "fuehrerschein",
                    f"Den Führerschein Klasse B gibt es frühestens mit {MIN_LICENCE_AGE} Jahren. Bitte prüfen Sie "
                    "das Datum.",
                )

    def _check_sf_history(self) -> None:
        """An SF class stands for claim-free years of an earlier contract: above 0 it needs a prior
        insurance, and it cannot count more years than the applicant has held a licence."""
        licence = parse_german_date(self.fuehrerschein.data or "")
        age = self._applicant_age()
        if licence is not None and licence <= self.today and not self.fuehrerschein.errors:
            max_years, since = age_on(licence, self.today), "seit dem Führerschein"
        elif age is not None:
            max_years, since = max(age - MIN_LICENCE_AGE, 0), f"seit dem {MIN_LICENCE_AGE}. Geburtstag"
        else:
            max_years, since = None, ""
        for name, label in (("sf_kh", "Haftpflicht"), ("sf_vk", "Vollkasko")):
            if not self.relevant(name) or not self[name].data or self[name].errors:
                continue
            try:
                sf = SFClass.parse(self[name].data)
            except ValueError:
                continue
            earned = sf.years > 0 or sf.key in ("M", "S")
            if earned and self.vorversicherung.data == "keine":
                self.add_error(
                    name,
                    f"Die SF-Klasse {sf.label} ({label}) setzt eine Vorversicherung voraus. Ohne Vorversicherung "
                    "gilt SF 0 oder SF ½; sonst geben Sie bitte die Vorversicherung an.",
                )
            elif max_years is not None and sf.years > max_years:
                self.add_error(
                    name,
                    f"Die SF-Klasse {sf.label} ({label}) steht für {sf.years} schadenfreie Jahre, {since} sind es "
                    f"höchstens {max_years}.",
                )


FORMS: dict[Product, type[QuoteForm]] = {Product.RS: RsQuoteForm, Product.KFZ: KfzQuoteForm}
