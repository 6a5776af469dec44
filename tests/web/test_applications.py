"""Antrag → policing: delivery choice, SEPA, documents, referral, rights, idempotency."""

import io
import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from contracts.models import Application, ApplicationState, Contract, Document
from core import clock
from core.formatting import eur
from core.storage import DirectoryStore
from core.users import Role
from messaging import worker
from messaging.models import Kind, OutboxMessage, State
from onboarding.models import OnboardingStart
from tests.helpers import ANTRAG_DECLARATIONS, KFZ_ANSWERS, POLICING_DOCUMENTS, RS_ANSWERS, csrf_token, login

pytestmark = pytest.mark.usefixtures("demo_reference")
START = (clock.now() + timedelta(days=14)).strftime("%d.%m.%Y")
PORTAL = {
    "vertragsbeginn": START,
    "kontoinhaber": "Jürgen Müller",
    "iban": "DE89 3704 0044 0532 0130 00",
    "sepa_mandat": "y",
    **ANTRAG_DECLARATIONS,
    "zustellung": "portal",
    "kunde_email": "Juergen.Mueller@Example.org",
    "kunde_mobil": "0151 12345678",
}
POST = {**PORTAL, "zustellung": "post", "kunde_email": "", "kunde_mobil": ""}


def quote(client, answers=KFZ_ANSWERS, product="kfz"):
    response = client.post(
        f"/rechner/{product}/berechnen", data={"csrf_token": csrf_token(client, f"/rechner/{product}/"), **answers}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    return response.location.rsplit("/", 1)[1]


def apply(client, offer_id, data):
    url = f"/angebote/{offer_id}/antrag"
    return client.post(url, data={"csrf_token": csrf_token(client, url), **data})


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages)


def test_antrag_page_has_the_seed_labels(broker_client):
    page = broker_client.get(f"/angebote/{quote(broker_client)}/antrag").get_data(as_text=True)
    for text in (
        "ausschließlich online im Kunden-Portal",
        "per Post",
        "E-Mail des Kunden",
        "Mobilnummer des Kunden",
        "Zurück",
        "Online beantragen",
        "inkl. 19% Vers.-Steuer",
        "Es erfolgt keine Nutzung zu werblichen Zwecken!",
        "SEPA-Lastschriftmandat",
    ):
        assert text in page, text


def test_portal_delivery_polices_with_documents_and_records_the_onboarding_start(
    broker_client, manager_client, session
):
    offer_id = quote(broker_client)
    response = apply(broker_client, offer_id, PORTAL)
    assert response.status_code == 302
    page = broker_client.get(response.location).get_data(as_text=True)
    assert "policiert" in page
    contract = session.scalar(sa.select(Contract))
    assert re.fullmatch(r"VR-\d{4}-\d{7}-\d", contract.number)
    assert contract.customer_email == "juergen.mueller@example.org"
    assert contract.customer_mobile == "+4915112345678"
    start = session.scalar(sa.select(OnboardingStart))
    assert (start.contract_id, start.email, start.mobile, start.code_channel.value) == (
        contract.id,
        "juergen.mueller@example.org",
        "+4915112345678",
        "sms",
    )
    # no letter: the eVB-Nummer and the access link, both by e-mail
    messages = session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(m.kind, m.template, m.recipient) for m in messages] == [
        (Kind.EMAIL, "evb", "juergen.mueller@example.org"),
        (Kind.EMAIL, "access_link", "juergen.mueller@example.org"),
    ]

    view = broker_client.get(f"/vertraege/{contract.public_id}").get_data(as_text=True)
    assert "Versicherungsschein" in view
    assert "Beitragsrechnung" in view
    assert "Vertrag policiert" in view
    assert "Antrag online gestellt" in view
    documents = session.scalars(sa.select(Document).order_by(Document.id)).all()
    total = view.split("Beitrag</dt><dd>")[1].split(" (inkl.")[0].split(": ")[1]
    for client in (broker_client, manager_client):  # the broker and his agency manager, at once
        policy = client.get(f"/dokumente/{documents[0].public_id}")
        assert policy.status_code == 200
        assert policy.mimetype == "application/pdf"
    policy_text = pdf_text(broker_client.get(f"/dokumente/{documents[0].public_id}").data)
    invoice_text = pdf_text(broker_client.get(f"/dokumente/{documents[1].public_id}").data)
    for text in (policy_text, invoice_text):
        assert contract.number in text
        assert "Jürgen Müller-Lüdenscheidt" in text
        assert "Versicherungsteuer 19 %" in text
        assert f"Gesamtbeitrag monatlich (inkl. 19% Vers.-Steuer) {total}" in text.replace(
            "\xa0", " "
        ) or f"(inkl. 19% Vers.-Steuer) {total}".replace("\xa0", " ") in text.replace("\xa0", " ")
    assert "Versicherungsschein" in policy_text
    assert "Beitragsrechnung" in invoice_text
    assert "DE89 **** **** **** **30 00" in invoice_text
    assert "Mandatsreferenz" in invoice_text


def test_post_delivery_sends_the_documents_as_a_letter(app, broker_client, session, outbox_app):
    offer_id = quote(broker_client)
    assert apply(broker_client, offer_id, POST).status_code == 302
    letter = session.scalar(sa.select(OutboxMessage))
    assert letter.kind is Kind.LETTER
    assert len(letter.attachments) == POLICING_DOCUMENTS
    # DIN 5008: the address line in the accusative ("Herrn"), also as "Brief an Herrn …" (issue #26 item 24)
    assert letter.address == ["Herrn Jürgen Müller-Lüdenscheidt", "Hauptstraße 1", "10115 Berlin"]
    assert session.scalar(sa.select(sa.func.count()).select_from(OnboardingStart)) == 0
    worker.run(outbox_app, once=True)
    session.refresh(letter)
    assert letter.state is State.READY
    pdf = session.scalar(sa.select(OutboxMessage.pdf).where(OutboxMessage.id == letter.id))
    reader = PdfReader(io.BytesIO(pdf))
    # cover letter, then the Versicherungsschein, the Beitragsrechnung, the Antrag and the
    # Vertragsinformationen, in this order
    page_texts = [" ".join(p.extract_text().split()) for p in reader.pages]
    assert "Ihre Vertragsunterlagen" in page_texts[0]
    assert "Versicherungsschein" in page_texts[1]
    heads = ["Berlin Versicherungsschein", "Berlin Beitragsrechnung", "Berlin Antrag – Kfz", "Allgemeine Bedingungen"]
    heads += ["Informationsblatt zu Versicherungsprodukten", "Verbraucherinformationen"]
    starts = [next(i for i, t in enumerate(page_texts) if h in t[:200]) for h in heads]
    assert starts == sorted(starts)
    text = pdf_text(pdf)
    assert "Ihre Vertragsunterlagen zum Vertrag VR-" in text
    assert "Sehr geehrter Herr Müller-Lüdenscheidt" in text


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"iban": "DE89 3704 0044 0532 0130 01"}, "iban", "Die IBAN ist ungültig."),
        ({"kunde_mobil": "030 1234567"}, "kunde_mobil", "Bitte geben Sie eine deutsche Mobilfunknummer ein"),
        ({"kunde_mobil": "0168 1234567"}, "kunde_mobil", "Bitte geben Sie eine deutsche Mobilfunknummer ein"),
        ({"kunde_email": "juergen@@example"}, "kunde_email", "Bitte geben Sie eine gültige E-Mail-Adresse ein."),
        ({"vertragsbeginn": "01.01.2020"}, "vertragsbeginn", "darf nicht in der Vergangenheit liegen"),
        ({"sepa_mandat": ""}, "sepa_mandat", "Ohne SEPA-Lastschriftmandat"),
        ({"zustellung": ""}, "zustellung", "Bitte wählen Sie, wie Ihr Kunde"),
    ],
)
def test_bad_input_gets_a_german_field_error_and_keeps_what_was_typed(broker_client, session, changes, field, message):
    response = apply(broker_client, quote(broker_client), {**PORTAL, **changes})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(rf'id="{field}-error">[^<]*{re.escape(message)}', page), page[:200]
    assert 'value="Jürgen Müller"' in page  # nothing typed is lost
    typed = changes.get(field) or PORTAL.get(field)
    if typed and field not in ("sepa_mandat", "zustellung"):
        assert f'value="{typed}"' in page
    assert session.scalar(sa.select(sa.func.count()).select_from(Application)) == 0


def test_after_online_beantragen_the_vertragsnummer_and_the_evb_come_first(broker_client, session):
    """Issue #26 item 6: a success banner at the top with the Vertragsnummer and, for Kfz, the
    eVB-Nummer with a copy button (both were below the fold, the eVB line read "gültig, gültig bis")."""
    done = apply(broker_client, quote(broker_client), PORTAL)
    assert done.status_code == 302
    assert done.location.endswith("?neu=1")
    page = broker_client.get(done.location).get_data(as_text=True)
    contract = session.scalar(sa.select(Contract))
    banner = page[page.index('class="notice notice--success application-done"') :]
    banner = banner[: banner.index("</div>")]
    assert "Antrag angenommen." in banner
    assert f'Vertragsnummer <strong class="nowrap">{contract.number}</strong>' in banner
    assert f'<strong class="evb__inline">{contract.evb.code}</strong>, gültig bis' in banner
    assert f'data-copy="{contract.evb.code}"' in banner
    assert page.index("application-done") < page.index("<h2")  # before everything else of the page
    assert "gültig, gültig bis" not in page
    assert f"gültig bis {contract.evb.valid_until:%d.%m.%Y}" in page
    # opened again later (or by the back office): no banner
    again = broker_client.get(done.location.split("?")[0]).get_data(as_text=True)
    assert "application-done" not in again


def test_the_contract_page_shows_what_is_insured_the_portal_state_and_the_kunde(broker_client, session):
    """Issue #26 item 7: the vehicle, cover, deductibles and SF-Klassen, the portal state, a link to
    the Kunde; a contract that has not begun says "beginnt am", not "aktiv"."""
    from calculator.models import CustomerRecord

    apply(broker_client, quote(broker_client), PORTAL)
    contract = session.scalar(sa.select(Contract))
    page = broker_client.get(f"/vertraege/{contract.public_id}").get_data(as_text=True)
    umfang = page[page.index('id="umfang-title"') :]
    umfang = umfang[: umfang.index("</section>")]
    assert "<dt>Fahrzeug</dt><dd>VOLKSWAGEN-VW GOLF" in umfang
    assert "(HSN 0603, TSN BPM)" in umfang
    assert "Haftpflicht + Vollkasko" in umfang
    assert "150 €" in umfang  # Selbstbeteiligung Teilkasko
    assert "500 €" in umfang  # Selbstbeteiligung Vollkasko
    assert "<dt>SF-Klassen</dt><dd>KH 12, VK 10" in page
    assert f"beginnt am {START}" in page
    assert "aktiv," not in page
    assert "<dt>Kunden-Portal</dt><dd>eingeladen (Link versendet)</dd>" in page
    client = session.scalar(sa.select(CustomerRecord).where(CustomerRecord.id == contract.client_id))
    assert f'<a href="/kunden/{client.public_id}">{contract.customer_name}</a>' in page


def test_a_referred_antrag_says_it_went_to_the_risikopruefung(broker_client):
    from tests.helpers import RS_ANSWERS

    done = apply(broker_client, quote(broker_client, {**RS_ANSWERS, "risikoberuf": "ja"}, "rs"), POST)
    page = broker_client.get(done.location).get_data(as_text=True)
    assert "Antrag eingereicht.</strong> Er geht in die Risikoprüfung" in page


def test_a_resent_form_creates_no_second_application(broker_client, session):
    offer_id = quote(broker_client)
    first = apply(broker_client, offer_id, PORTAL)
    second = broker_client.post(
        f"/angebote/{offer_id}/antrag", data={"csrf_token": csrf_token(broker_client, "/vermittler/"), **PORTAL}
    )
    assert second.status_code == 302
    assert second.location == first.location.split("?")[0]  # the same Antrag (without the banner of a new one)
    assert session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 1


def test_referral_then_back_office_accepts_in_a_batch_or_declines(app, broker_client, backoffice_client, session):
    offers = [quote(broker_client, {**RS_ANSWERS, "risikoberuf": "ja"}, "rs") for _ in range(3)]
    for offer_id in offers:
        response = apply(broker_client, offer_id, PORTAL)
        assert "in Risikoprüfung" in broker_client.get(response.location).get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 0
    queue = backoffice_client.get("/innendienst/risikopruefung").get_data(as_text=True)
    ids = list(dict.fromkeys(re.findall(r'name="antrag" value="([^"]+)"', queue)))  # checkbox and row button
    assert len(ids) == 3
    assert "Antragsteller gehört einer Risiko-Berufsgruppe an." in queue
    answer = backoffice_client.get(f"/antraege/{ids[0]}").get_data(as_text=True)
    assert "<dt>Risiko-Berufsgruppe (Antragsteller)</dt><dd>ja</dd>" in answer  # the answer named in full

    token = csrf_token(backoffice_client, "/innendienst/risikopruefung")
    refused = backoffice_client.post(
        f"/innendienst/risikopruefung/{ids[2]}/ablehnen", data={"csrf_token": token, "grund": "  "}
    )
    assert refused.status_code == 422
    assert "Bitte geben Sie einen Grund für die Ablehnung an." in refused.get_data(as_text=True)
    assert (
        backoffice_client.post(
            f"/innendienst/risikopruefung/{ids[2]}/ablehnen", data={"csrf_token": token, "grund": "Risiko zu hoch"}
        ).status_code
        == 302
    )
    accepted = backoffice_client.post(
        "/innendienst/risikopruefung/annehmen", data={"csrf_token": token, "antrag": ids[:2]}
    )
    assert "2 Anträge angenommen und policiert" in backoffice_client.get(accepted.location).get_data(as_text=True)
    session.expire_all()
    states = sorted(a.state.value for a in session.scalars(sa.select(Application)))
    assert states == ["declined", "policed", "policed"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Document)) == 2 * POLICING_DOCUMENTS
    declined = session.scalar(sa.select(Application).where(Application.state == ApplicationState.DECLINED))
    assert "Risiko zu hoch" in broker_client.get(f"/antraege/{declined.public_id}").get_data(as_text=True)


def test_other_agencies_and_other_brokers_cannot_open_contracts_or_documents(
    app, broker_client, broker, make_user, make_agency, session
):
    apply(broker_client, quote(broker_client), PORTAL)
    contract = session.scalar(sa.select(Contract))
    document = session.scalar(sa.select(Document))
    urls = [
        f"/vertraege/{contract.public_id}",
        f"/dokumente/{document.public_id}",
        f"/antraege/{contract.application.public_id}",
        f"/vertraege/{contract.public_id}/aenderung",
        f"/vertraege/{contract.public_id}/kuendigen",
    ]
    for user in (
        make_user(Role.BROKER, make_agency("Süd")),
        make_user(Role.MANAGER, make_agency("West")),
        make_user(Role.BROKER, broker.agency),
    ):
        client = app.test_client()
        login(client, user.email)
        for url in urls:
            assert client.get(url).status_code == 404, (user.role, url)
        for url in urls[-2:]:  # changing it is refused as well, and nothing changes
            token = csrf_token(client, "/vertraege/")
            data = {"csrf_token": token, "strasse": "Fremdweg 1", "grund": "kunde"}
            assert client.post(url, data=data).status_code == 404, (user.role, url)
        assert contract.number not in client.get("/vertraege/").get_data(as_text=True)
    session.refresh(contract)
    assert (contract.customer["street"], contract.ends_on) == ("Hauptstraße 1", None)


def test_concurrent_submits_over_http_create_exactly_one_application(cli_app, tmp_path):
    """Eight requests for the same offer at the same moment (a double click, two tabs) on a live server."""
    import requests
    from werkzeug.serving import make_server

    runner = cli_app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    cli_app.extensions["document_store"] = DirectoryStore(tmp_path / "docs")
    server = make_server("127.0.0.1", 0, cli_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    web = requests.Session()
    token = lambda path: re.search(r'name="csrf_token"[^>]*value="([^"]+)"', web.get(base + path).text).group(1)  # noqa: E731
    try:
        web.post(
            base + "/anmelden",
            data={"csrf_token": token("/anmelden"), "email": "vermittler@demo.example", "password": "Demo-Passwort-1!"},
        )
        offer = (
            web.post(
                base + "/rechner/kfz/berechnen",
                data={"csrf_token": token("/rechner/kfz/"), **KFZ_ANSWERS},
                allow_redirects=False,
            )
            .headers["Location"]
            .rsplit("/", 1)[1]
        )
        form = {"csrf_token": token(f"/angebote/{offer}/antrag"), **PORTAL}
        barrier, results = threading.Barrier(8), []

        def submit():
            barrier.wait()
            results.append(web.post(f"{base}/angebote/{offer}/antrag", data=form, allow_redirects=False))

        threads = [threading.Thread(target=submit) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert [r.status_code for r in results] == [302] * 8
        assert len({r.headers["Location"].split("?")[0] for r in results}) == 1  # all land on the same application
        with cli_app.app_context():
            from core.db import session as db_session

            s = db_session()
            assert s.scalar(sa.select(sa.func.count()).select_from(Application)) == 1
            assert s.scalar(sa.select(sa.func.count()).where(Contract.application_id.is_not(None))) == 1
            assert s.scalar(sa.select(sa.func.count()).select_from(Document)) == POLICING_DOCUMENTS
            assert s.scalar(sa.select(sa.func.count()).select_from(OnboardingStart)) == 1
    finally:
        server.shutdown()


def test_the_underwriter_sees_everything_she_needs_on_the_antrag_page_and_decides_there(
    broker_client, backoffice_client, session
):
    answers = {
        **KFZ_ANSWERS,
        "vv_gekuendigt_durch": "versicherer",  # a referral reason
        "vv_versicherer": "Beispiel-Versicherung AG",
        "vv_schaeden": "3",
    }
    offer_id = quote(broker_client, answers)
    response = apply(broker_client, offer_id, PORTAL)
    application = session.scalar(sa.select(Application))
    assert application.state is ApplicationState.REFERRED
    page = backoffice_client.get(f"/antraege/{application.public_id}").get_data(as_text=True)
    for expected in (
        "Jürgen",  # applicant
        "Müller-Lüdenscheidt",
        "29.02.1972",
        "Hauptstraße 1",
        "Kfz",  # product
        "VOLKSWAGEN-VW GOLF",  # vehicle
        "Beispiel-Versicherung AG",  # referral answers
        "Vorversicherer",
        "Gesamtbeitrag monatlich",  # premium
        "Annehmen und policieren",  # she decides here
        "Ablehnungsgrund",
    ):
        assert expected in page, expected
    assert "DE89 •••• •••• •••• 3000" in page  # the account, not the whole IBAN
    # the broker sees the same page without the decision
    broker_page = broker_client.get(response.location).get_data(as_text=True)
    assert "VOLKSWAGEN-VW GOLF" in broker_page
    assert "Annehmen und policieren" not in broker_page
    token = csrf_token(backoffice_client, f"/antraege/{application.public_id}")
    backoffice_client.post(
        "/innendienst/risikopruefung/annehmen", data={"csrf_token": token, "antrag": [application.public_id]}
    )
    session.expire_all()
    assert session.scalar(sa.select(Application.state)) is ApplicationState.POLICED


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"kunde_mobil": "+44 7700 900123"}, "kunde_mobil", "Bitte geben Sie eine deutsche Mobilfunknummer ein"),
        ({"kunde_email": "jürgen@example.org"}, "kunde_email", "E-Mail-Adressen enthalten keine Umlaute"),
    ],
)
def test_the_antrag_checks_contact_data_as_the_switch_does(broker_client, changes, field, message):
    """Issue #26 item 18: one place for the contact checks (core.contact), the same German message."""
    offer_id = quote(broker_client)
    response = apply(broker_client, offer_id, {**PORTAL, **changes})
    assert response.status_code == 422
    assert f'id="{field}-error">{message}' in response.get_data(as_text=True)


def test_the_risikopruefung_shows_each_case_decides_per_row_and_asks_the_broker(
    app, broker_client, broker, backoffice_client, session, outbox_app
):
    """Issue #26 item 21: Sparte, Beitrag and the referral reason per row; accept or decline per row
    (the reason typed is kept with its message); "Rückfrage an Vermittler": the broker gets it by
    e-mail, the application waits, his answer shows on the application and in the queue."""
    from messaging.models import OutboxMessage

    offer_id = quote(broker_client, {**RS_ANSWERS, "risikoberuf": "ja"}, "rs")
    apply(broker_client, offer_id, PORTAL)
    application = session.scalar(sa.select(Application))
    queue = backoffice_client.get("/innendienst/risikopruefung").get_data(as_text=True)
    assert "<dt>Sparte</dt><dd>Rechtsschutz</dd>" in queue
    assert f"<strong>{eur(application.offer.total)}</strong>" in queue
    assert "Antragsteller gehört einer Risiko-Berufsgruppe an." in queue

    url = "/innendienst/risikopruefung"
    token = csrf_token(backoffice_client, url)
    empty = backoffice_client.post(
        f"{url}/{application.public_id}/rueckfrage", data={"csrf_token": token, "frage": " "}
    )
    assert empty.status_code == 422
    assert "Bitte geben Sie Ihre Frage an den Vermittler ein." in empty.get_data(as_text=True)
    question = "Seit wann übt der Kunde den Beruf aus?"
    asked = backoffice_client.post(
        f"{url}/{application.public_id}/rueckfrage", data={"csrf_token": token, "frage": question}
    )
    assert asked.status_code == 302
    mail = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.template == "application_question"))
    assert mail.recipient == broker.email
    assert question in mail.body_text
    session.refresh(application)
    assert application.state is ApplicationState.REFERRED  # it waits
    again = backoffice_client.post(
        f"{url}/{application.public_id}/rueckfrage", data={"csrf_token": token, "frage": "?"}
    )
    assert again.status_code == 422  # one open question at a time
    assert "wartet auf die Antwort des Vermittlers" in backoffice_client.get(url).get_data(as_text=True)

    page_url = f"/antraege/{application.public_id}"
    page = broker_client.get(page_url).get_data(as_text=True)
    assert question in page
    answer_url = f"{page_url}/antwort"
    missing = broker_client.post(answer_url, data={"csrf_token": csrf_token(broker_client, page_url), "antwort": ""})
    assert missing.status_code == 422
    assert "Bitte geben Sie Ihre Antwort ein." in missing.get_data(as_text=True)
    answered = broker_client.post(
        answer_url, data={"csrf_token": csrf_token(broker_client, page_url), "antwort": "Seit 2019, angestellt."}
    )
    assert answered.status_code == 302
    assert backoffice_client.post(answer_url, data={"csrf_token": token, "antwort": "x"}).status_code == 403
    queue = backoffice_client.get(url).get_data(as_text=True)
    assert "Seit 2019, angestellt." in queue
    assert "Seit 2019, angestellt." in backoffice_client.get(page_url).get_data(as_text=True)

    kept = backoffice_client.post(
        f"{url}/{application.public_id}/ablehnen", data={"csrf_token": token, "grund": "zu\x00hoch"}
    )
    assert kept.status_code == 422
    declined = backoffice_client.post(
        f"{url}/{application.public_id}/ablehnen", data={"csrf_token": token, "grund": "Risiko zu hoch"}
    )
    assert declined.status_code == 302
    session.refresh(application)
    assert application.state is ApplicationState.DECLINED
