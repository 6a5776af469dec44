"""Quote use cases: evaluate a filled-in form against reference data and tariff, store and reopen offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from werkzeug.datastructures import MultiDict
from wtforms.fields.choices import SelectChoice

from calculator import customers, reference
from calculator.forms import FORMS, PRICING_FIELDS, QuoteForm
from calculator.forms.fields import age_on, parse_german_date
from calculator.models import Offer
from calculator.reference import PostalPlace, Vehicle
from calculator.tariffs import (
    Classes,
    Cover,
    DriverCircle,
    KfzCover,
    KfzRisk,
    KfzTariff,
    Occupation,
    Parking,
    PaymentFrequency,
    Premium,
    Product,
    RsDeductible,
    RsModule,
    RsRisk,
    RsTariff,
    SFClass,
    TariffCatalog,
    TariffError,
    Usage,
)
from calculator.underwriting import referral_reasons
from core import audit, clock, paging
from core.authz import scoped
from core.users import User

VEHICLE_NOT_FOUND = "Fahrzeug nicht gefunden – bitte HSN/TSN prüfen"
NO_OFFER_FOR_VEHICLE = "Für dieses Fahrzeug können wir derzeit kein Angebot machen"
NO_OFFER_FOR_REGION = "Für diese PLZ können wir derzeit kein Kfz-Angebot machen (keine Regionalklasse hinterlegt)."
UNKNOWN_PLZ = "Diese PLZ kennen wir nicht. Bitte prüfen Sie die PLZ."

# tariff input names -> form fields, so a TariffError lands next to the right field
TARIFF_FIELDS = {
    "annual_mileage": "fahrleistung",
    "youngest_driver_age": "juengster_fahrer",
    "modules": "bausteine",
    "deductible_tk": "sb_tk",
    "deductible_vk": "sb_vk",
}

Risk = KfzRisk | RsRisk


@dataclass
class Quote:
    """The outcome of evaluating a quote form."""

    form: QuoteForm
    product: Product
    places: list[PostalPlace] = field(default_factory=list)
    vehicle: Vehicle | None = None
    vehicle_message: str | None = None
    risk: Risk | None = None
    premium: Premium | None = None
    referral_reasons: list[str] = field(default_factory=list)
    # the answers the price still waits for (id, label): shown in the premium box instead of a price
    missing: list[tuple[str, str]] = field(default_factory=list)
    # answers the price assumed because they were not given yet (id, label, what was assumed): the
    # premium is shown early, marked preliminary, until the broker confirms them
    assumptions: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every relevant answer given, valid and priced: the quote can be stored as an offer."""
        return self.premium is not None and not self.assumptions and not any(f.errors for f in self.form)

    @property
    def errors(self) -> dict[str, list[str]]:
        return {f.name: list(f.errors) for f in self.form if f.errors}

    def answers(self) -> dict[str, Any]:
        return {f.name: f.data for f in self.form if self.form.relevant(f.name)}


def new_form(
    product: Product,
    formdata: MultiDict[str, str] | None = None,
    *,
    today: date,
    only: frozenset[str] | None = None,
) -> QuoteForm:
    form_class = FORMS[product] if only is None else FORMS[product].only(only)
    return form_class(formdata=formdata, today=today)


ASSUMED_MILEAGE = 12_000  # km a year: the usual private car's mileage, assumed until the broker says


@dataclass(frozen=True)
class Assumption:
    name: str
    value: str  # as the form field takes it
    shown: str  # as the premium box says it


def assumptions(product: Product, formdata: MultiDict[str, str], today: date) -> list[Assumption]:
    """The Kfz answers a first price may assume while they are empty: the annual mileage, the
    youngest driver as old as the applicant (from his birth date), the SF-Klasse Vollkasko as the
    Haftpflicht's. Everything else the price needs has a preset (cover, usage, parking, drivers,
    deductibles, Zahlweise) or must be given (vehicle, PLZ, birth date, SF-Klasse KH)."""
    if product is not Product.KFZ:
        return []

    def given(name: str) -> str:
        return next((v.strip() for v in formdata.getlist(name) if v.strip()), "")

    found = []
    if not given("fahrleistung"):
        found.append(Assumption("fahrleistung", str(ASSUMED_MILEAGE), f"{ASSUMED_MILEAGE:,} km".replace(",", ".")))
    born = parse_german_date(given("geburtsdatum"))
    if not given("juengster_fahrer") and born is not None and 18 <= age_on(born, today) <= 99:
        age = age_on(born, today)
        found.append(Assumption("juengster_fahrer", str(age), f"{age} Jahre (Alter des Antragstellers)"))
    cover = given("kfz_deckung") or KfzCover.KH_VK.value
    if cover == KfzCover.KH_VK.value and not given("sf_vk") and given("sf_kh"):
        found.append(Assumption("sf_vk", given("sf_kh"), "wie Haftpflicht"))
    return found


def with_assumptions(product: Product, formdata: MultiDict[str, str], today: date) -> MultiDict[str, str]:
    """The answers with the assumptions filled in (as if typed: "Annahmen übernehmen")."""
    filled = MultiDict(formdata)
    for assumption in assumptions(product, formdata, today):
        filled.setlist(assumption.name, [assumption.value])
    return filled


def evaluate(
    session: so.Session,
    catalog: TariffCatalog,
    product: Product,
    formdata: MultiDict[str, str],
    *,
    today: date,
    only: frozenset[str] | None = None,
) -> Quote:
    """Validate every answer, look up PLZ and vehicle, and price as soon as the price's answers are
    valid — with the assumptions for answers not given yet (a first price after few answers).
    `only`: bind and check just these answers (the live premium: calculator.live says which a price
    and its messages need); the rest of the form is not looked at."""
    assumed = assumptions(product, formdata, today)
    filled = with_assumptions(product, formdata, today) if assumed else formdata
    form = new_form(product, filled, today=today, only=only)
    quote = Quote(form, product)
    plz = (form.plz.data or "").strip() if form.has("plz") else ""
    if reference.PLZ_PATTERN.match(plz):
        quote.places = reference.places_for(session, plz)
        form.ort.choices = _place_choices(quote.places)
        if len(quote.places) == 1 and not form.ort.data:
            form.ort.data = str(quote.places[0].id)
    form.validate()
    form.check_conditions()
    _check_place(quote)
    if product is Product.KFZ:
        _check_vehicle(session, quote)
        _check_sf_half(form, catalog.kfz(today), today)
    form.irrelevant_errors_cleared()
    quote.referral_reasons = referral_reasons(quote.answers())

    quote.assumptions = [
        (form[a.name].id, form[a.name].label.text, a.shown)
        for a in assumed
        if form.relevant(a.name) and not form[a.name].errors
    ]
    pricing = [n for n in PRICING_FIELDS[product] if form.relevant(n)]
    quote.missing = [(form[n].id, form[n].label.text) for n in pricing if form[n].errors]
    if quote.missing:
        return quote
    tariff = catalog.current(product, today)
    try:
        quote.risk = _kfz_risk(session, quote) if product is Product.KFZ else _rs_risk(form)
        if quote.risk is not None:
            quote.premium = price(tariff, quote.risk)
    except TariffError as error:
        name = TARIFF_FIELDS.get(error.field or "", error.field or "zahlweise")
        form.add_error(name, error.message)
        quote.missing = [(form[name].id, form[name].label.text)]
    return quote


def _check_sf_half(form: Any, tariff: KfzTariff, today: date) -> None:
    """Motor seed 001: SF ½ (the Sondereinstufung) only with a driving licence held at least the
    tariff's years — without the licence date the class cannot be checked."""
    years = tariff.sf_half_min_licence_years
    licence = parse_german_date(form.fuehrerschein.data or "")
    for name in ("sf_kh", "sf_vk"):
        if not form.relevant(name) or form[name].data != "1/2" or form[name].errors:
            continue
        if licence is None:
            if not form.fuehrerschein.errors:
                form.add_error("fuehrerschein", "Für SF ½ geben Sie bitte an, seit wann der Führerschein besteht.")
        elif age_on(licence, today) < years:
            form.add_error(
                name,
                f"SF ½ setzt einen Führerschein seit mindestens {years} Jahren voraus "
                f"(seit dem {licence:%d.%m.%Y} sind es {age_on(licence, today)}).",
            )


def price(tariff: KfzTariff | RsTariff, risk: Risk) -> Premium:
    if isinstance(tariff, KfzTariff) and isinstance(risk, KfzRisk):
        return tariff.price(risk)
    if isinstance(tariff, RsTariff) and isinstance(risk, RsRisk):
        return tariff.price(risk)
    raise TypeError("tariff and risk are of different product lines")


def _place_choices(places: list[PostalPlace]) -> list[SelectChoice]:
    choices = [SelectChoice("", "Bitte wählen")] if len(places) != 1 else []
    names = [p.place for p in places]
    for place in places:
        # the same place name in two Kreise: name the Kreis
        label = f"{place.place} ({place.district_name})" if names.count(place.place) > 1 else place.place
        choices.append(SelectChoice(str(place.id), label))
    return choices


def _check_place(quote: Quote) -> None:
    form = quote.form
    if not form.has("plz") or form.plz.errors or not form.plz.data:
        return
    if not quote.places:
        form.add_error("plz", UNKNOWN_PLZ)
        return
    if not form.ort.data:
        form.add_error("ort", "Bitte wählen Sie den Ort.")
    elif form.ort.data not in {str(p.id) for p in quote.places}:
        form.add_error("ort", "Bitte wählen Sie einen Ort dieser PLZ.")


def selected_place(quote: Quote) -> PostalPlace | None:
    chosen = quote.form.ort.data
    return next((p for p in quote.places if str(p.id) == chosen), None)


def _check_vehicle(session: so.Session, quote: Quote) -> None:
    form = quote.form
    if form.hsn.errors or form.tsn.errors or not form.hsn.data or not form.tsn.data:
        return
    vehicle = reference.find_vehicle(session, form.hsn.data, form.tsn.data)
    if vehicle is None:
        quote.vehicle_message = VEHICLE_NOT_FOUND
        form.add_error("tsn", VEHICLE_NOT_FOUND)
        return
    quote.vehicle = vehicle
    form.tsn.data = vehicle.tsn  # O typed for 0: show what was found
    if reference.type_classes_for(session, vehicle) is None:
        quote.vehicle_message = NO_OFFER_FOR_VEHICLE
        form.add_error("tsn", NO_OFFER_FOR_VEHICLE)


def _kfz_risk(session: so.Session, quote: Quote) -> KfzRisk | None:
    form = quote.form
    place = selected_place(quote) or (quote.places[0] if quote.places else None)
    if quote.vehicle is None or place is None:
        return None
    types = reference.type_classes_for(session, quote.vehicle)
    regions = reference.region_classes_for(session, place.district_key)
    if types is None:
        return None
    if regions is None:
        form.add_error("plz", NO_OFFER_FOR_REGION)
        return None
    cover = KfzCover(form.kfz_deckung.data)
    return KfzRisk(
        cover=cover,
        sf_kh=SFClass.parse(form.sf_kh.data),
        sf_vk=SFClass.parse(form.sf_vk.data) if cover.has_vk else None,
        type_classes=Classes(types.kh, types.tk, types.vk),
        region_classes=Classes(regions.kh, regions.tk, regions.vk),
        youngest_driver_age=form.juengster_fahrer.data,
        driver_circle=DriverCircle(form.fahrerkreis.data),
        annual_mileage=form.fahrleistung.data,
        usage=Usage(form.nutzung.data),
        parking=Parking(form.abstellplatz.data),
        deductible_tk=int(form.sb_tk.data) if cover.has_tk else 150,
        deductible_vk=int(form.sb_vk.data) if cover.has_vk else 500,
        rabattschutz=bool(form.rabattschutz.data) and form.relevant("rabattschutz"),
        frequency=PaymentFrequency(form.zahlweise.data),
    )


def _rs_risk(form: QuoteForm) -> RsRisk:
    return RsRisk(
        modules=frozenset(RsModule(m) for m in form.bausteine.data),
        cover=Cover(form.deckung.data),
        occupation=Occupation(form.taetigkeit.data),
        deductible=RsDeductible(form.selbstbeteiligung.data),
        frequency=PaymentFrequency(form.zahlweise.data),
    )


# --- risks as JSON (an offer keeps the priced risk, so reopening reproduces the price) -------------


def risk_to_dict(risk: Risk) -> dict[str, Any]:
    if isinstance(risk, KfzRisk):
        return {
            "product": "kfz",
            "cover": risk.cover.value,
            "sf_kh": risk.sf_kh.key,
            "sf_vk": risk.sf_vk.key if risk.sf_vk else None,
            "type_classes": [risk.type_classes.kh, risk.type_classes.tk, risk.type_classes.vk],
            "region_classes": [risk.region_classes.kh, risk.region_classes.tk, risk.region_classes.vk],
            "youngest_driver_age": risk.youngest_driver_age,
            "driver_circle": risk.driver_circle.value,
            "annual_mileage": risk.annual_mileage,
            "usage": risk.usage.value,
            "parking": risk.parking.value,
            "deductible_tk": risk.deductible_tk,
            "deductible_vk": risk.deductible_vk,
            "rabattschutz": risk.rabattschutz,
            "frequency": risk.frequency.value,
        }
    return {
        "product": "rs",
        "modules": sorted(m.value for m in risk.modules),
        "cover": risk.cover.value,
        "occupation": risk.occupation.value,
        "deductible": risk.deductible.value,
        "frequency": risk.frequency.value,
    }


def risk_from_dict(data: dict[str, Any]) -> Risk:
    if data["product"] == "kfz":
        return KfzRisk(
            cover=KfzCover(data["cover"]),
            sf_kh=SFClass(data["sf_kh"]),
            sf_vk=SFClass(data["sf_vk"]) if data["sf_vk"] else None,
            type_classes=Classes(*data["type_classes"]),
            region_classes=Classes(*data["region_classes"]),
            youngest_driver_age=data["youngest_driver_age"],
            driver_circle=DriverCircle(data["driver_circle"]),
            annual_mileage=data["annual_mileage"],
            usage=Usage(data["usage"]),
            parking=Parking(data["parking"]),
            deductible_tk=data["deductible_tk"],
            deductible_vk=data["deductible_vk"],
            rabattschutz=data["rabattschutz"],
            frequency=PaymentFrequency(data["frequency"]),
        )
    return RsRisk(
        modules=frozenset(RsModule(m) for m in data["modules"]),
        cover=Cover(data["cover"]),
        occupation=Occupation(data["occupation"]),
        deductible=RsDeductible(data["deductible"]),
        frequency=PaymentFrequency(data["frequency"]),
    )


# --- offers ----------------------------------------------------------------------------------------


class OfferError(ValueError):
    """German message for the broker."""


def store_offer(
    session: so.Session, user: User, quote: Quote, formdata: MultiDict[str, str], editing: Offer | None = None
) -> Offer:
    """Keep a complete quote as an offer: a draft is updated, a saved offer stays as it is (a changed
    quote becomes a new draft, to be saved under a name of its own)."""
    if not quote.complete or quote.risk is None or quote.premium is None:
        raise OfferError("Das Angebot ist noch nicht vollständig.")
    assert user.agency_id is not None
    offer = editing if editing is not None and not editing.is_saved else None
    if offer is None:
        offer = Offer(agency_id=user.agency_id, owner_id=user.id, product=quote.product.value)
        session.add(offer)
    form = quote.form
    offer.applicant_name = f"{form.vorname.data} {form.name.data}".strip()[:250]
    offer.form_data = {k: formdata.getlist(k) for k in formdata if not k.startswith("_") and k != "csrf_token"}
    # what the quote settled on, not only what was typed: the one place of a PLZ, the TSN found
    offer.form_data["ort"] = [form.ort.data or ""]
    if quote.product is Product.KFZ:
        offer.form_data["tsn"] = [form.tsn.data or ""]
    offer.risk = risk_to_dict(quote.risk)
    offer.tariff_version = quote.premium.tariff_version
    offer.frequency = quote.premium.frequency.value
    offer.total = quote.premium.total
    offer.annual_total = quote.premium.annual_total
    offer.premium = quote.premium.to_dict()
    offer.referral_reasons = quote.referral_reasons
    offer.updated_at = clock.now()
    session.flush()
    audit.record(
        session,
        "offer_calculated",
        actor=user,
        object_type="offer",
        object_id=offer.public_id,
        details={"product": offer.product, "tariff": offer.tariff_version, "total": str(offer.total)},
    )
    return offer


def save_offer(
    session: so.Session,
    user: User,
    quote: Quote,
    formdata: MultiDict[str, str],
    editing: Offer | None = None,
    client: Any = None,
) -> Offer:
    """ "Berechnen" of a complete quote (the page's and the API's): the offer stored and given its
    Kunde — `client` when the broker started from one, else the one exact match or a new one."""
    offer = store_offer(session, user, quote, formdata, editing)
    if client is not None and offer.client_id is None:  # "Neues Angebot für diesen Kunden"
        offer.client_id = client.id
    place = selected_place(quote)
    customers.attach(session, user, offer, customers.Person.of_offer(offer, city=place.place if place else ""))
    return offer


def name_offer(session: so.Session, user: User, offer: Offer, name: str) -> Offer:
    """ "Speichern unter": a draft gets the name (it leaves the drafts); a saved offer under another
    name is saved as a copy beside it (same answers, risk, tariff version and price), the original
    stays as it was. Returns the offer now carrying the name."""
    name = " ".join(name.split())
    if not name:
        raise OfferError("Bitte geben Sie einen Namen für das Angebot ein.")
    if len(name) > 120:
        raise OfferError("Der Name darf höchstens 120 Zeichen lang sein.")
    now = clock.now()
    if offer.name is not None and offer.name != name:
        copy = _copy(session, offer, agency_id=offer.agency_id, owner_id=offer.owner_id, name=name, saved_at=now)
        _record_saved(session, user, copy, copy_of=offer)
        return copy
    offer.name = name
    offer.saved_at = now
    session.flush()
    _record_saved(session, user, offer)
    return offer


def _copy(session: so.Session, offer: Offer, **own: Any) -> Offer:
    """A new offer with the same answers, risk, tariff version, price and customer."""
    copy = Offer(
        product=offer.product,
        client_id=offer.client_id,
        applicant_name=offer.applicant_name,
        form_data={k: list(v) for k, v in offer.form_data.items()},
        risk=dict(offer.risk),
        tariff_version=offer.tariff_version,
        frequency=offer.frequency,
        total=offer.total,
        annual_total=offer.annual_total,
        premium=dict(offer.premium),
        referral_reasons=list(offer.referral_reasons),
        **own,
    )
    session.add(copy)
    session.flush()
    return copy


def copy_offer(session: so.Session, user: User, offer: Offer) -> Offer:
    """ "Angebot kopieren": a draft of the broker's with the offer's answers and price."""
    assert user.agency_id is not None
    copy = _copy(session, offer, agency_id=user.agency_id, owner_id=user.id)
    audit.record(
        session,
        "offer_copied",
        actor=user,
        object_type="offer",
        object_id=copy.public_id,
        details={"copy_of": offer.public_id},
    )
    return copy


def _record_saved(session: so.Session, user: User, offer: Offer, copy_of: Offer | None = None) -> None:
    audit.record(
        session,
        "offer_saved",
        actor=user,
        object_type="offer",
        object_id=offer.public_id,
        details={"name": offer.name, **({"copy_of": copy_of.public_id} if copy_of is not None else {})},
    )


def reprice(catalog: TariffCatalog, offer: Offer) -> Premium:
    """The offer's premium from its pinned tariff version and stored risk (the same price as then)."""
    tariff = catalog.get(offer.tariff_version)
    return price(tariff, risk_from_dict(offer.risk))


def offer_formdata(offer: Offer) -> MultiDict[str, str]:
    data: MultiDict[str, str] = MultiDict()
    for key, values in offer.form_data.items():
        for value in values:
            data.add(key, value)
    return data


def list_offers(
    session: so.Session, user: User, *, status: str, search: str, page: int, size: int
) -> paging.Page[Offer]:
    """Offers the user may see (his own; a manager his agency's): saved, drafts or all, searched by
    name or applicant (% and _ as typed), newest first, one page."""
    stmt = scoped(sa.select(Offer), Offer, user)
    if status == "gespeichert":
        stmt = stmt.where(Offer.name.is_not(None))
    elif status == "entwurf":
        stmt = stmt.where(Offer.name.is_(None))
    if search:
        stmt = stmt.where(
            sa.or_(
                Offer.name.icontains(search, autoescape=True), Offer.applicant_name.icontains(search, autoescape=True)
            )
        )
    return paging.paginate(session, stmt.order_by(Offer.updated_at.desc(), Offer.id.desc()), page, size)
