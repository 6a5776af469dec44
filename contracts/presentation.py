"""What a contract's documents state about the insured risk: for Kfz the vehicle, cover, SF-Klassen,
deductibles, Rabattschutz and the Typ-/Regionalklassen it was priced with; for Rechtsschutz the
modules, cover and deductible — taken from the offer the contract was made from, with the
calculator's German labels. They come from the contract's own answers and risk (kept current by
changes and renewals; for contracts policed before those columns, from the offer). Imported existing
contracts have neither: they state what was imported."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
import sqlalchemy.orm as so

from calculator import presentation
from calculator.tariffs import Product, TariffCatalog
from contracts.models import Contract
from core import clock
from core.formatting import date_de
from messaging.models import Kind, OutboxMessage
from messaging.models import State as MessageState

# the answers a Versicherungsschein names, per product (in the calculator's section order)
SCOPE_FIELDS = {
    Product.KFZ: (
        "kfz_deckung",
        "sf_kh",
        "sf_vk",
        "sb_tk",
        "sb_vk",
        "rabattschutz",
        "fahrerkreis",
        "juengster_fahrer",
        "fahrleistung",
        "nutzung",
        "abstellplatz",
        "erstzulassung",
    ),
    Product.RS: ("bausteine", "deckung", "taetigkeit", "selbstbeteiligung"),
}


def policy_scope(session: so.Session, catalog: TariffCatalog, contract: Contract, today: date) -> dict[str, Any]:
    """vehicle (or None), scope: [(label, value)] of the insured cover, classes: [(label, value)]."""
    application = contract.application
    answers, risk = contract.answers, contract.risk
    if (answers is None or risk is None) and application is not None:
        answers, risk = application.offer.form_data, application.offer.risk
    if answers is None or risk is None:
        return {"vehicle": None, "scope": [], "classes": []}
    product = Product(contract.product)
    form, vehicle = presentation.answers_form(session, product, answers, today)
    scope = [
        (presentation.SUMMARY_LABELS.get(name, form[name].label.text), presentation.display(form[name]))
        for name in SCOPE_FIELDS[product]
        if form.relevant(name) and presentation.display(form[name])
    ]
    classes = []
    if product is Product.KFZ:
        names = ("KH", "TK", "VK")
        for label, values in (
            ("Typklassen", risk.get("type_classes") or []),
            ("Regionalklassen", risk.get("region_classes") or []),
        ):
            shown = [f"{n} {v}" for n, v in zip(names, values, strict=False) if v is not None]
            if shown:
                classes.append((label, ", ".join(shown)))
    return {"vehicle": vehicle, "scope": scope, "classes": classes}


# --- the portal state of a contract (its onboarding columns, kept current by onboarding) -----------------

SELF_REGISTERED = "Selbst registriert"
STATE_LABELS = {
    "post": "Post",
    "link_sent": "Link versendet",
    "code_sent": "Code versendet",
    "active": "aktiviert",
    # a customer's own registration (onboarding.registration): confirmation e-mail sent; confirmed, code by letter
    "self_sent": f"{SELF_REGISTERED}: Bestätigung gesendet",
    "self_code": f"{SELF_REGISTERED}: Code versendet",
}
OPEN = ("link_sent", "code_sent")  # a broker's invitation on its way (portal delivery)
SELF_OPEN = ("self_sent", "self_code")  # a self-registration on its way (still post delivery)
CODE_STATES = ("code_sent", "self_code")


def state_label(contract: Contract, now: datetime | None = None, letter: CodeLetter | None = None) -> str:
    """Post; Link versendet; Code versendet; aktiviert; abgelaufen — and for a code that went by
    letter (code_letters) "Code-Brief im Postausgang" until the back office posted it, then
    "Code-Brief versandt am TT.MM.JJJJ". No further queries."""
    now = now or clock.now()
    expires = contract.onboarding_expires_at
    if contract.onboarding_state in (*OPEN, *SELF_OPEN) and expires is not None and expires <= now:
        return "abgelaufen"
    if contract.onboarding_state in CODE_STATES and letter is not None:
        prefix = f"{SELF_REGISTERED}: " if contract.onboarding_state == "self_code" else ""
        if letter.posted_at is None:
            return prefix + CODE_LETTER_UNPOSTED
        return f"{prefix}Code-Brief versandt am {date_de(letter.posted_at)}"
    return STATE_LABELS.get(contract.onboarding_state, "Post")


CODE_LETTER_UNPOSTED = "Code-Brief im Postausgang"


def code_letter_unposted() -> sa.ColumnElement[bool]:
    """SQL: the contract's access-code letter still lies in the Postausgang (not yet posted)."""
    return sa.exists(
        sa.select(OutboxMessage.id).where(
            OutboxMessage.related_id == Contract.public_id,
            OutboxMessage.related_type == "contract",
            OutboxMessage.template == "access_code",
            OutboxMessage.kind == Kind.LETTER,
            OutboxMessage.state.in_((MessageState.PENDING, MessageState.SENDING, MessageState.READY)),
        )
    )


class CodeLetter(NamedTuple):
    """The latest access-code letter of a contract: when it was made, when it was posted (None: it
    still lies in the Postausgang)."""

    created_at: datetime
    posted_at: datetime | None


def code_letters(session: so.Session, contracts: list[Contract]) -> dict[int, CodeLetter]:
    """The latest access-code letter of each contract whose code went by post (one indexed query for
    a page of contracts)."""
    ids = {c.public_id: c.id for c in contracts if c.onboarding_state in CODE_STATES}
    if not ids:
        return {}
    rows = session.execute(
        sa.select(OutboxMessage.related_id, OutboxMessage.created_at, OutboxMessage.state, OutboxMessage.sent_at)
        .where(
            OutboxMessage.related_id.in_(list(ids)),
            OutboxMessage.related_type == "contract",
            OutboxMessage.template == "access_code",
            OutboxMessage.kind == Kind.LETTER,
        )
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    ).all()
    latest: dict[int, CodeLetter] = {}
    for related_id, created_at, state, sent_at in rows:  # the newest wins
        latest[ids[str(related_id)]] = CodeLetter(created_at, sent_at if state is MessageState.POSTED else None)
    return latest


GEFAHRFRAGE_PRIOR = (
    "Bestehen oder bestanden für den Versicherungsnehmer und/oder eine mitversicherte Person Vorversicherungen?"
)
WHO_CANCELLED = {"vn": "Versicherungsnehmer", "versicherer": "Vorversicherer", "ungekuendigt": "noch nicht gekündigt"}


def risk_questions(product: Product, answers: dict[str, list[str]]) -> list[tuple[str, str]]:
    """Every Gefahrfrage (§ 19 VVG) with the answer given, worded as it was asked (seed 003)."""
    from calculator.forms.risk import RISK_PROFESSION_QUESTION, RISK_PROFESSIONS

    def first(name: str) -> str:
        return (answers.get(name) or [""])[0]

    prior = first("vorversicherung")
    if prior == "ja":
        details = [f"Versicherer {first('vv_versicherer')}"]
        if first("vv_vertragsnummer"):
            details.append(f"Vertragsnummer {first('vv_vertragsnummer')}")
        details.append(f"gekündigt durch: {WHO_CANCELLED.get(first('vv_gekuendigt_durch'), '–')}")
        details.append(f"Schäden in den letzten 5 Jahren: {first('vv_schaeden') or '–'}")
        prior_answer = "ja – " + ", ".join(details)
    else:
        prior_answer = "nein" if prior == "keine" else "nicht beantwortet"
    questions = [(GEFAHRFRAGE_PRIOR, prior_answer)]
    if product is Product.RS:
        professions = f"{RISK_PROFESSION_QUESTION} ({'; '.join(RISK_PROFESSIONS)})"
        questions.append((f"{professions} – Antragsteller", first("risikoberuf") or "nicht beantwortet"))
        if first("deckung") in ("paar", "familie"):
            questions.append(
                (
                    f"{professions} – mitversicherter Ehe- bzw. Lebenspartner",
                    first("risikoberuf_partner") or "nicht beantwortet",
                )
            )
    return questions
