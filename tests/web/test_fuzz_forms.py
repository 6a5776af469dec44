"""Issue #25 item 8, a safety net for the next form: as each role (nobody — half-way through a
two-factor login —, Vermittler, Agenturleiter, Innendienst, a portal customer, one with the two-factor
login on, and the mailbox: the links of every e-mail and SMS sent) the app is crawled from the start
page on the demo data (`flask demo seed` + `flask demo history`) and what a day adds to it (quotes,
applications, claims, one paid, a Kündigung, contact changes, a password reset, a bulk switch upload,
letters rendered and one posted — see _day_work); every form found (and every query string a page links to) is sent
hypothesis-generated values — NUL and other control characters, unicode digits and letters, 100 KiB
strings, extreme numbers and dates, a field twice or missing — and no answer may be a 500. Every
endpoint of the URL map that takes a form must have been reached by the crawl (or be listed below
with its reason), so a new form is fuzzed from the day it is linked. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from core import migrate
from core.app import create_app
from tests.conftest import database_url_for, environ_for, reset_database

PASSWORD = "Demo-Passwort-1!"
STAFF = {
    "vermittler": "vermittler@demo.example",
    "agenturleiter": "agenturleiter@demo.example",
    "innendienst": "innendienst@demo.example",
}
START = {
    "anonym": [
        "/anmelden",
        "/portal/anmelden",
        "/portal/anmelden/code",
        "/portal/passwort-vergessen",
        "/portal/registrieren",
    ],
    "vermittler": ["/vermittler/"],
    "agenturleiter": ["/agentur/"],
    "innendienst": ["/innendienst/"],
    "kunde": ["/portal/dokumente", "/portal/sicherheit"],
    "kunde2fa": ["/portal/sicherheit"],  # a customer with the two-factor login on
    "postfach": [],  # nobody logged in, following the links of the e-mails and SMS sent (see _day_work)
}
LOGOUT = {"staff.logout", "portal.logout"}  # sent last would end the crawl's session: not fuzzed
PAGES_PER_ENDPOINT = 3  # a crawl visits at most this many URLs of one endpoint (e.g. three contracts)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))  # hypothesis examples per role (each: every form)
# endpoints taking a form (POST) that no role's crawl reaches, with the reason (each one is a gap of
# the net: give the crawl the state it needs in _day_work instead; a stale line fails the test)
NOT_CRAWLED: dict[str, str] = {}

NASTY = [
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "\r\nX-Injected: 1",
    "١٢٣٤٥٦",
    "１２３４５６",
    "٣",
    "Ⅻ",
    "9" * 400,
    "-1",
    "0",
    "1e309",
    "-1e309",
    "NaN",
    "Infinity",
    "99999999999999999999",
    "0,001",
    "1.000.000,00",
    "31.12.9999",
    "01.01.0001",
    "00.00.0000",
    "29.02.2023",
    "9999-12-31",
    "0001-01-01",
    "2026-13-45",
    "",
    " ",
    "<script>alert(1)</script>",
    "'; DROP TABLE users; --",
    "ß" * 300,
    "\ud7ff",
    "🚗" * 50,
    "DE00000000000000000000",
    "+49 1",
    "@",
    "a@b",
    "../../etc/passwd",
]
HUGE = "x" * (100 * 1024)


def value_strategy() -> st.SearchStrategy:
    one = st.one_of(
        st.sampled_from(NASTY),
        st.text(max_size=40),  # any code point (hypothesis includes control characters and NUL)
        st.integers(min_value=-(10**40), max_value=10**40).map(str),
        st.dates().map(lambda d: d.strftime("%d.%m.%Y")),
        st.just(HUGE),
    )
    return st.one_of(one, st.lists(one, min_size=2, max_size=3), st.none())  # a value, the field twice, none


@dataclass(frozen=True)
class Form:
    method: str
    action: str
    fields: tuple[str, ...]
    endpoint: str


@dataclass
class _FormParser(HTMLParser):
    base: str
    forms: list[tuple[str, str, list[str]]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    htmx: list[tuple[str, str]] = field(default_factory=list)
    _open: list[tuple[str, str, list[str]]] = field(default_factory=list)
    _htmx_of_form: list[list[tuple[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(urljoin(self.base, a["href"]))
        if tag == "form":
            self._open.append(
                ((a.get("method") or "get").upper(), urljoin(self.base, a.get("action") or self.base), [])
            )
            self._htmx_of_form.append(
                [(v.upper(), urljoin(self.base, a[f"hx-{v}"])) for v in ("get", "post") if a.get(f"hx-{v}")]
            )
        elif tag in {"input", "select", "textarea", "button"} and self._open:
            if a.get("name"):
                self._open[-1][2].append(a["name"])
            if a.get("formaction"):  # a button that sends its form elsewhere (e.g. a PDF of the form)
                method = (a.get("formmethod") or self._open[-1][0]).upper()
                self._htmx_of_form[-1].append((method, urljoin(self.base, a["formaction"])))
        for verb in ("get", "post"):
            if tag != "form" and a.get(f"hx-{verb}"):
                names = list(self._open[-1][2]) if self._open else []
                self.htmx.append((verb.upper(), urljoin(self.base, a[f"hx-{verb}"])))
                if names:
                    self.forms.append((verb.upper(), urljoin(self.base, a[f"hx-{verb}"]), names))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._open:
            method, action, names = self._open.pop()
            self.forms.append((method, action, names))
            # a form that htmx or a button sends elsewhere too (the live premium, a PDF of the form):
            # that endpoint with every field
            self.forms.extend((verb, url, names) for verb, url in self._htmx_of_form.pop())


def _endpoint(app: Flask, url: str, method: str) -> str | None:
    parts = urlsplit(url)
    if parts.netloc not in {"", "localhost"} or parts.path.startswith("/static/"):
        return None
    try:
        endpoint, _ = app.url_map.bind("localhost").match(parts.path, method=method)
    except HTTPException:
        return None
    return endpoint


@dataclass
class Site:
    pages: list[str]
    forms: list[Form]
    query_names: dict[str, set[str]]


def crawl(app: Flask, client: FlaskClient, start: list[str], limit: int = 400) -> Site:
    """Breadth first from the start page over the role's links; at most PAGES_PER_ENDPOINT URLs of
    one endpoint. Collects the forms (fields by name) and the query-string names of the links."""
    queue, seen, per_endpoint = list(start), set(), defaultdict(int)
    forms: dict[tuple, Form] = {}
    query_names: dict[str, set[str]] = defaultdict(set)
    pages = []
    while queue and len(pages) < limit:
        url = queue.pop(0)
        endpoint = _endpoint(app, url, "GET")
        path = urlsplit(url).path
        if url in seen or endpoint is None or endpoint in LOGOUT:
            continue
        seen.add(url)
        query_names[path].update(k for k, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True))
        if per_endpoint[endpoint] >= PAGES_PER_ENDPOINT:
            continue
        per_endpoint[endpoint] += 1
        response = client.get(url)
        assert response.status_code < 500, f"GET {url} as crawled: {response.status_code}"
        if response.status_code != 200 or not response.mimetype.startswith("text/html"):
            continue
        pages.append(url)
        parser = _FormParser(base="http://localhost" + url)
        parser.feed(response.get_data(as_text=True))
        for link in parser.links:
            parts = urlsplit(link)
            if parts.netloc == "localhost":
                queue.append(parts.path + ("?" + parts.query if parts.query else ""))  # no #fragment
        for method, action, names in parser.forms:
            target = _endpoint(app, action, method)
            if target is None or target in LOGOUT:
                continue
            key = (method, target, frozenset(names))
            if key not in forms:
                action_path = urlsplit(action).path
                forms[key] = Form(method, action_path, tuple(dict.fromkeys(names)), target)
    return Site(pages, list(forms.values()), query_names)


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("fuzz")
    url = database_url_for("fuzz", directory)
    reset_database(url)
    app = create_app(environ={**environ_for(url), "DOCUMENT_STORAGE_DIR": str(directory / "documents")})
    migrate.upgrade(app.extensions["database"].engine)
    for command in (["demo", "seed"], ["demo", "history"]):
        result = app.test_cli_runner().invoke(args=command)
        assert result.exit_code == 0, result.output
    yield app
    app.extensions["database"].engine.dispose()


def _broker_work(client: FlaskClient) -> list[str]:
    """What a broker's day leaves besides the demo contracts: a quote (Kfz), an application to the
    portal, one by post and two referrals (Risikoberuf; the back office asks about one) — so their
    forms are fuzzed too."""
    from datetime import timedelta

    from core import clock
    from tests.helpers import ANTRAG_DECLARATIONS, KFZ_ANSWERS, RS_ANSWERS, csrf_token

    antrag = {
        "vertragsbeginn": (clock.now() + timedelta(days=7)).strftime("%d.%m.%Y"),
        "kontoinhaber": "Jürgen Müller",
        "iban": "DE89370400440532013000",
        "sepa_mandat": "y",
        **ANTRAG_DECLARATIONS,
    }
    portal = {"zustellung": "portal", "kunde_email": "k@example.org", "kunde_mobil": "0151 12345678"}
    open_offer: list[str] = []
    for product, answers, delivery in (
        ("kfz", KFZ_ANSWERS, portal),
        ("rs", RS_ANSWERS, {"zustellung": "post"}),
        ("rs", {**RS_ANSWERS, "risikoberuf": "ja"}, {"zustellung": "post"}),
        ("rs", {**RS_ANSWERS, "risikoberuf": "ja", "vorname": "Erika"}, {"zustellung": "post"}),  # asked about
        # the same person at another address: the offer waits for the broker to say which Kunde
        ("kfz", {**KFZ_ANSWERS, "strasse": "Nebenweg 7"}, None),
    ):
        token = csrf_token(client, f"/rechner/{product}/")
        quoted = client.post(f"/rechner/{product}/berechnen", data={"csrf_token": token, **answers})
        assert quoted.status_code == 302, quoted.get_data(as_text=True)
        if not delivery:
            offer = quoted.location.split("?")[0]
            open_offer += [offer, offer + "/antrag", offer + "/bearbeiten", offer + "/varianten"]
        else:
            url = quoted.location.split("?")[0] + "/antrag"
            applied = client.post(url, data={"csrf_token": csrf_token(client, url), **antrag, **delivery})
            assert applied.status_code == 302, applied.get_data(as_text=True)
    return open_offer


def _customer_email(app: Flask, customer: int = 0) -> str:
    """The e-mail of an activated demo customer: the first (0) or the second (1, who switches the
    two-factor login on)."""
    from onboarding.models import PortalAccount

    with app.extensions["database"].sessionmaker() as s:
        email = s.scalar(
            sa.select(PortalAccount.email)
            .where(PortalAccount.password_hash.is_not(None))
            .order_by(PortalAccount.id)
            .offset(customer)
            .limit(1)
        )
    assert email, "the demo history activates customers"
    return email


_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _log_in(app: Flask, client: FlaskClient, role: str, customer: int = 0) -> str:
    """Logs the client in as the role and returns a CSRF token of its session. The anonymous role is
    half-way through the two-factor customer's login (password given, code not yet) when that
    customer exists."""
    if role in ("postfach", "anonym"):
        page, data = "/anmelden", {}
        codes = _days.get(id(app), {}).get("recovery_codes")
        if role == "anonym" and codes:
            page, data = "/portal/anmelden", {"kennung": _customer_email(app, 1), "passwort": PASSWORD}
    elif role in STAFF:
        page, data = "/anmelden", {"email": STAFF[role], "password": PASSWORD}
    else:
        index = 1 if role == "kunde2fa" else customer
        page, data = "/portal/anmelden", {"kennung": _customer_email(app, index), "passwort": PASSWORD}
    token = _TOKEN.search(client.get(page).get_data(as_text=True)).group(1)
    if data:
        response = client.post(page, data={"csrf_token": token, **data})
        assert response.status_code == 302, response.get_data(as_text=True)
        if role == "anonym":
            return _TOKEN.search(client.get("/portal/anmelden/code").get_data(as_text=True)).group(1)
        if role == "kunde2fa":
            second = "/portal/anmelden/code?wiederherstellung=1"
            token = _TOKEN.search(client.get(second).get_data(as_text=True)).group(1)
            code = _days[id(app)]["recovery_codes"][0]
            passed = client.post(second, data={"csrf_token": token, "code": code})
            assert passed.status_code == 302, passed.get_data(as_text=True)
        token = _TOKEN.search(client.get(START[role][0]).get_data(as_text=True)).group(1)
    return token


def _payload(data: st.DataObject, names: tuple[str, ...], token: str) -> list[tuple[str, str]]:
    items = [("csrf_token", token)]
    for name in names:
        if name == "csrf_token":
            continue
        value = data.draw(value_strategy(), label=name)
        if value is None:
            continue
        items.extend((name, v) for v in (value if isinstance(value, list) else [value]))
    return items


ROLES = ["anonym", "vermittler", "agenturleiter", "innendienst", "kunde", "kunde2fa", "postfach"]
_visits: dict[tuple[int, str], tuple[FlaskClient, str, Site]] = {}


_days: dict[int, dict[str, list[str]]] = {}


def _day_work(app: Flask) -> dict[str, list[str]]:
    """What a day leaves besides the demo data, once per app, before any crawl — so the forms that
    only such state shows are fuzzed too: a broker's quotes and applications, a customer's claim, a
    Kündigung, a password reset asked for; then the worker's run (letters rendered for the
    Postausgang, e-mails and SMS in the development mailbox, whose links the "postfach" role
    follows). Returns extra start pages per role."""
    if id(app) in _days:
        return _days[id(app)]
    from messaging import worker
    from messaging.models import OutboxMessage
    from tests.helpers import csrf_token

    broker = app.test_client()
    _log_in(app, broker, "vermittler")
    open_offer = _broker_work(broker)
    contract = _first_link(broker, "/vertraege/", r'href="(/vertraege/[\w-]+)"')
    url = contract + "/kuendigen"
    version = re.search(r'name="version"[^>]*value="(\d+)"', broker.get(url).get_data(as_text=True))
    cancelled = broker.post(
        url,
        data={
            "csrf_token": csrf_token(broker, url),
            "version": version.group(1) if version else "1",
            "grund": "wechsel",
            "eingegangen_am": clock_today(),
            "bemerkung": "",
        },
    )
    assert cancelled.status_code == 302, cancelled.get_data(as_text=True)

    customer = app.test_client()
    _log_in(app, customer, "kunde")
    # claims on a Kfz contract (one paid below, so its Schadenrückkauf can be entered)
    contracts = re.findall(
        r'href="(/portal/vertraege/[\w-]+)"', customer.get("/portal/vertraege").get_data(as_text=True)
    )
    claim_pages = [c + "/schaden" for c in dict.fromkeys(contracts)]
    claim_page = next((c for c in claim_pages if 'value="unfall"' in customer.get(c).get_data(as_text=True)), None)
    assert claim_page, "the demo customer has a Kfz contract"
    for place in ("Parkplatz am Markt", "Hofeinfahrt"):  # one to be paid, one left open
        reported = customer.post(
            claim_page,
            data={
                "csrf_token": csrf_token(customer, claim_page),
                "art": "unfall",
                "datum": clock_today(),
                "ort": place,
                "beschreibung": "Beim Ausparken ein anderes Auto gestreift.",
                "gegner": "",
                "polizei": "nein",
            },
        )
        assert reported.status_code == 302, reported.get_data(as_text=True)

    for url, data in (
        ("/portal/daten/email", {"email": "neu.fuzz@example.org"}),
        ("/portal/daten/mobil", {"mobil": "0151 99887766"}),
    ):
        changed = customer.post(url, data={"csrf_token": csrf_token(customer, url), **data})
        assert changed.status_code == 302, changed.get_data(as_text=True)

    two_factor = _two_factor_customer(app)

    clerk = app.test_client()
    _log_in(app, clerk, "innendienst")
    # a Rückfrage an Vermittler on the referral: the broker's answer form
    from contracts.models import Application, ApplicationState
    from core.users import User

    with app.extensions["database"].sessionmaker() as s:
        referral_id = s.scalar(  # the demo broker's own referral (the fuzzing broker answers it)
            sa.select(Application.public_id)
            .join(User, User.id == Application.owner_id)
            .where(Application.state == ApplicationState.REFERRED, User.email == "vermittler@demo.example")
            .order_by(Application.id.desc())
        )
    assert referral_id, "the broker's day left a referral"
    referral = f"/antraege/{referral_id}"
    ask = f"/innendienst/risikopruefung/{referral_id}/rueckfrage"
    token = csrf_token(clerk, "/innendienst/risikopruefung")
    asked = clerk.post(ask, data={"csrf_token": token, "frage": "Seit wann übt der Kunde den Beruf aus?"})
    assert asked.status_code == 302, asked.get_data(as_text=True)
    claim = _first_link(clerk, "/innendienst/schadenmeldungen", r'href="(/innendienst/schadenmeldungen/[\w-]+)"')
    paid = clerk.post(
        claim,
        data={
            "csrf_token": csrf_token(clerk, claim),
            "status": "reguliert_zahlung",
            "datum": clock_today(),
            "betrag": "1.200,00",
            "bemerkung": "",
        },
    )
    assert paid.status_code == 302, paid.get_data(as_text=True)
    worker.run(app, once=True)  # the letters rendered: one of them is handed to the post
    letter = _first_link(clerk, "/innendienst/postausgang", r'name="brief"[^>]*value="([\w-]+)"')
    posted = clerk.post(
        "/innendienst/postausgang/versendet",
        data={"csrf_token": csrf_token(clerk, "/innendienst/postausgang"), "brief": letter, "bestaetigt": "1"},
    )
    assert posted.status_code == 302

    manager = app.test_client()
    _log_in(app, manager, "agenturleiter")
    a_number = r"<td[^>]*>\s*(?:<a[^>]*>)?(?:<span[^>]*>)?([A-Z]{2,3}-[\w-]+)"
    number = _first_link(manager, "/bestand/?zustellung=post", a_number)
    uploaded = manager.post(
        "/agentur/umstellung",
        data={
            "csrf_token": csrf_token(manager, "/agentur/umstellung"),
            "datei": (io.BytesIO(f"{number};umstellung.fuzz@example.org;0151 11223344\n".encode()), "u.csv"),
        },
    )
    assert uploaded.status_code == 302, uploaded.get_data(as_text=True)
    _api_client_with_a_webhook(app, manager)

    anonymous = app.test_client()
    forgot = "/portal/passwort-vergessen"
    asked = anonymous.post(forgot, data={"csrf_token": csrf_token(anonymous, forgot), "kennung": _customer_email(app)})
    assert asked.status_code == 302
    # two customers register themselves (issue #29): one confirmation link stays unconfirmed, one is confirmed
    register = "/portal/registrieren"
    for number, born in (("BV-4711002", "30.11.1978"), ("BV-4711003", "05.07.1990")):
        email = f"selbst.{number.lower()}@example.org"
        data = {"vertragsnummer": number, "geburtsdatum": born, "email": email, "email2": email}
        data.update(nutzungsbedingungen="y", datenschutz="y", csrf_token=csrf_token(anonymous, register))
        assert anonymous.post(register, data=data).status_code == 200
    # a customer writes through Kontakt: the broker's and the back office's answer forms
    writer = app.test_client()
    _log_in(app, writer, "kunde")
    own = _first_link(writer, "/portal/kontakt", r'<option value="([\w-]{10,})"')
    note = {"vertrag": own, "thema": "sonstiges", "nachricht": "Bitte rufen Sie mich zurück."}
    wrote = writer.post("/portal/kontakt", data={"csrf_token": csrf_token(writer, "/portal/kontakt"), **note})
    assert wrote.status_code == 302, wrote.get_data(as_text=True)

    worker.run(app, once=True)
    with app.extensions["database"].sessionmaker() as s:
        confirmations = s.scalars(
            sa.select(OutboxMessage.body_text).where(OutboxMessage.template == "registration_confirm")
        ).all()
    first, second = (re.search(r"https?://portal\.test(/zugang/[\w-]+)", b).group(1) for b in sorted(confirmations))
    confirmed = anonymous.post(f"{second}/bestaetigen", data={"csrf_token": csrf_token(anonymous, second)})
    assert confirmed.status_code == 302

    worker.run(app, once=True)
    with app.extensions["database"].sessionmaker() as s:
        bodies = s.scalars(sa.select(OutboxMessage.body_text)).all()
        # a customer's server refused an address for good: the clerk's "Adresse korrigieren" form
        bounced = s.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.kind == "email", OutboxMessage.related_type == "contract")
        ).first()
        assert bounced is not None
        bounced.state, bounced.last_error = "failed", "Empfänger abgelehnt: SMTP 550 5.1.1 User unknown"
        s.commit()
    links = sorted({m.group(1) for body in bodies for m in re.finditer(r"https?://portal\.test(/[^\s\"<>]*)", body)})
    sms = [
        m.group(1)
        for body in bodies
        if "per SMS" in body
        for m in re.finditer(r"https?://portal\.test(/zugang/[\w-]+)", body)
    ][:1]
    assert sms, "the portal application's access-link e-mail (code by SMS) is in the mailbox"
    _days[id(app)] = {
        "vermittler": [*open_offer, contract, referral],
        "agenturleiter": [uploaded.location],
        "innendienst": [
            contract,
            claim,
            f"/innendienst/zwei-faktor?kennung={_customer_email(app, 1)}",
            "/innendienst/nachrichten?status=failed",
        ],
        "kunde": ["/portal/daten/mobil/code"],
        "kunde2fa": ["/portal/sicherheit"],
        # first the link pages with forms of their own (at most three of an endpoint are crawled): the new
        # customer's (SMS code), the self-registrations' (confirmed, not yet)
        "postfach": [*dict.fromkeys([*sms, second, first, *links])],
        "recovery_codes": two_factor,
    }
    return _days[id(app)]


def _api_client_with_a_webhook(app: Flask, manager: FlaskClient) -> None:
    """The manager creates an API client on his page (issue #30); the integrator registers a
    webhook and an event waits for it, so the page's "Widerrufen" and the delivery log's "Erneut
    senden" are crawled too."""
    import sqlalchemy as sa

    from api import webhooks
    from api.models import ApiClient
    from core import db
    from core.users import User
    from tests.helpers import csrf_token

    page = "/agentur/api-zugaenge/"
    created = manager.post(
        page, data={"csrf_token": csrf_token(manager, page), "name": "MVP", "vermittler": "", "scopes": "quotes"}
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    with app.app_context():
        s = db.session()
        client = s.scalar(sa.select(ApiClient).where(ApiClient.name == "MVP"))
        assert client is not None
        user = s.scalar(sa.select(User).where(User.id == client.acting_user_id))
        webhooks.register(s, client, user, "http://127.0.0.1:9/hook", ["contract.policed"], insecure_allowed=True)
        client.scopes = ["quotes", "contracts:read"]
        sent = webhooks.emit(s, "contract.policed", "fuzz", agency_id=client.agency_id, owner_id=0, data={"a": 1})
        assert sent == 1
        s.commit()


def _two_factor_customer(app: Flask) -> list[str]:
    """The second activated demo customer switches the two-factor login on (the authenticator app's
    code computed from the secret the page shows); returns his recovery codes, with which the
    "kunde2fa" role logs in."""
    import pyotp

    from tests.helpers import csrf_token

    client = app.test_client()
    _log_in(app, client, "kunde", customer=1)
    url = "/portal/sicherheit/einrichten"
    secret = re.search(r'<code class="secret">([^<]+)</code>', client.get(url).get_data(as_text=True))
    assert secret, "the set-up page shows the secret"
    code = pyotp.TOTP(secret.group(1).replace(" ", "")).now()
    page = client.post(url, data={"csrf_token": csrf_token(client, url), "code": code}).get_data(as_text=True)
    codes = re.findall(r"<li><code>([\w-]+)</code></li>", page)
    assert codes, page
    return codes


def clock_today() -> str:
    from core import clock
    from core.formatting import TIMEZONE

    return clock.now().astimezone(TIMEZONE).strftime("%d.%m.%Y")


def _first_link(client: FlaskClient, page: str, pattern: str) -> str:
    found = re.search(pattern, client.get(page).get_data(as_text=True))
    assert found, f"no link like {pattern} on {page}"
    return found.group(1)


def _visit(app: Flask, role: str) -> tuple[FlaskClient, str, Site]:
    """The role's logged-in client, its CSRF token and its crawl — every role's once per app, shared
    by the fuzz and the coverage test (whichever of them runs first crawls)."""
    if (id(app), role) not in _visits:
        extra = _day_work(app)
        for each in ROLES:  # every role crawls before any is fuzzed: a fuzzed form changes the state
            client = app.test_client()
            token = _log_in(app, client, each)
            _visits[id(app), each] = (client, token, crawl(app, client, [*extra.get(each, []), *START[each]]))
    return _visits[id(app), role]


@pytest.mark.parametrize("role", ROLES)
def test_no_form_or_query_of_the_role_answers_500(demo_app: Flask, role: str) -> None:
    """Issue #25 item 8 (36 of 970 fuzzed requests were 500 before items 4–7)."""
    client, token, site = _visit(demo_app, role)
    assert len(site.pages) > (1 if role in ("anonym", "postfach") else 5), site.pages
    queries = [Form("GET", path, tuple(sorted(names)), "") for path, names in site.query_names.items() if names]
    targets = site.forms + queries

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        # no shrinking: the failure names its request already, and shrinking over every form of a role
        # took ten minutes
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        for form in targets:
            items = _payload(data, form.fields, token)
            if form.method == "GET":
                response = client.get(form.action, query_string=MultiDict([i for i in items if i[0] != "csrf_token"]))
            else:
                response = client.post(form.action, data=MultiDict(items))
            shown = [(k, v[:60]) for k, v in items if k != "csrf_token"]
            assert response.status_code < 500, f"{form.method} {form.action} as {role} with {shown}"

    fuzz()


def test_every_form_endpoint_was_fuzzed(demo_app: Flask) -> None:
    """The net has no hole: each endpoint that takes a POST was reached by some role's crawl (or is
    listed in NOT_CRAWLED with its reason)."""
    reached = {f.endpoint for role in ROLES for f in _visit(demo_app, role)[2].forms if f.method == "POST"}
    # the JSON API (/api/v1) takes no forms: schemathesis sends it bad input (tests/api/test_schemathesis.py)
    posts = {
        r.endpoint
        for r in demo_app.url_map.iter_rules()
        if "POST" in (r.methods or ()) and not r.endpoint.startswith("api.")
    }
    missing = sorted(posts - reached - set(NOT_CRAWLED) - LOGOUT)
    assert not missing, f"endpoints taking a form that no crawl reached: {missing}"
    stale = sorted(set(NOT_CRAWLED) & reached)
    assert not stale, f"reached now, drop them from NOT_CRAWLED: {stale}"
