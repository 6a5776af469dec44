"""Bestand and switching existing contracts to the customer portal."""

import dataclasses
import io
import re

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from agency.models import SwitchJob
from contracts.models import Contract, Delivery
from core.storage import DirectoryStore
from core.users import Role
from demo.seed import DEMO_EXISTING
from messaging.models import Kind, OutboxMessage
from onboarding.models import AccessLink
from tests.helpers import SHIPPED_TARIFFS, csrf_token, login, with_settings


@pytest.fixture
def bestand(session, manager, broker, outbox_app):
    """The demo's existing contracts, re-homed to the test agency's broker and manager."""
    from contracts.imports import import_contracts

    data = DEMO_EXISTING.replace("vermittler@demo.example", broker.email).replace(
        "agenturleiter@demo.example", manager.email
    )
    import_contracts(session, data.encode(), SHIPPED_TARIFFS)
    session.commit()
    return {c.number: c for c in session.scalars(sa.select(Contract))}


@pytest.fixture
def mgr(outbox_app, manager):
    client = outbox_app.test_client()
    login(client, manager.email)
    return client


def upload(client, content: bytes, name="umstellung.csv"):
    import io

    return client.post(
        "/agentur/umstellung",
        data={"csrf_token": csrf_token(client, "/agentur/umstellung"), "datei": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def test_bestand_shows_delivery_and_state_scoped_per_role(outbox_app, bestand, mgr, broker):
    page = mgr.get("/bestand/").get_data(as_text=True)
    for number in ("BV-4711001", "BV-4711002", "BV-4711003", "BV-4711004"):
        assert number in page
    assert page.count('<td data-label="Unterlagen">Post</td>') >= 4
    own = outbox_app.test_client()
    login(own, broker.email)
    broker_page = own.get("/bestand/").get_data(as_text=True)
    assert "BV-4711001" in broker_page
    assert "BV-4711004" not in broker_page
    assert "BV-4711002" in mgr.get("/bestand/?q=krüger").get_data(as_text=True)
    assert "BV-4711002" not in mgr.get("/bestand/?q=brandt").get_data(as_text=True)


def test_switch_one_contract_then_back_and_resend(outbox_app, bestand, mgr, session, smtp_server):
    contract = bestand["BV-4711003"]
    url = f"/vertraege/{contract.public_id}/zustellweg"
    bad = mgr.post(
        url,
        data={
            "csrf_token": csrf_token(mgr, url),
            "email": "oemer@example.org",
            "mobile": "030 1234567",
            "aktion": "portal",
        },
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert 'id="mobile-error">Bitte geben Sie eine deutsche Mobilfunknummer ein' in page
    assert 'value="oemer@example.org"' in page
    assert 'value="030 1234567"' in page

    done = mgr.post(
        url,
        data={
            "csrf_token": csrf_token(mgr, url),
            "email": "oemer@example.org",
            "mobile": "0151 12345678",
            "aktion": "portal",
        },
    )
    assert done.status_code == 302
    session.refresh(contract)
    assert contract.delivery is Delivery.PORTAL
    assert contract.customer_mobile == "+4915112345678"
    kinds = sorted((m.kind.value, m.template) for m in session.scalars(sa.select(OutboxMessage)))
    assert kinds == [("email", "access_link"), ("letter", "access_code")]  # link by e-mail, code by post
    # the letter lies in the Postausgang until the back office posts it (issue #26 item 17)
    assert '<td data-label="Portal-Status">Code-Brief im Postausgang</td>' in mgr.get("/bestand/?q=yilmaz").get_data(
        as_text=True
    )

    mgr.post(url, data={"csrf_token": csrf_token(mgr, url), "aktion": "einladung"})
    links = session.scalars(sa.select(AccessLink).order_by(AccessLink.id)).all()
    assert len(links) == 2
    assert links[0].revoked_at is not None
    assert links[1].revoked_at is None
    mgr.post(url, data={"csrf_token": csrf_token(mgr, url), "aktion": "post"})
    session.refresh(contract)
    assert contract.delivery is Delivery.POST
    trail = mgr.get(f"/vertraege/{contract.public_id}").get_data(as_text=True)
    for label in (
        "Auf Kunden-Portal umgestellt",
        "Zugangslink versendet",
        "Zugangs-Code versendet",
        "Einladung erneut versendet",
        "Auf Postversand umgestellt",
    ):
        assert label in trail


def test_csv_rows_are_checked_previewed_switched_and_not_switched_twice(
    outbox_app, bestand, mgr, session, make_agency, make_user
):
    other = make_user(Role.BROKER, make_agency("Fremd"))
    from contracts.imports import import_contracts

    import_contracts(
        session,
        (
            "vertragsnummer;vermittler;sparte;anrede;vorname;name;strasse;plz;ort;beginn;beitrag;"
            f"zahlweise;email;mobilnummer\nFR-1;{other.email};rs;Herr;A;B;Weg 1;10115;Berlin;"
            "01.01.2020;10,00;jaehrlich;;\n"
        ).encode(),
        SHIPPED_TARIFFS,
    )
    session.commit()
    content = (
        "\ufeffVertragsnummer;E-Mail;Mobilnummer\n"
        "BV-4711001;helga.brandt@example.org;0151 23456789\n"
        "bv-4711002;stefan@example.org;+49 170 9876543\n"
        "BV-0000000;x@example.org;0151 11111111\n"
        "FR-1;a@example.org;0151 11111112\n"
        "BV-4711003;kein-at;0151 11111113\n"
        "BV-4711004;petra@example.org;030 1234567\n"
        "BV-4711001;helga@example.org;0151 23456780\n"
    ).encode()
    preview = upload(mgr, content)
    assert preview.status_code == 302
    page = mgr.get(preview.location).get_data(as_text=True)
    assert page.count("Vertrag nicht gefunden oder nicht in Ihrer Agentur") == 2  # unknown and foreign alike
    for message in (
        "E-Mail-Adresse ungültig",
        "keine deutsche Mobilfunknummer",
        "doppelte Zeile (wie Zeile 2)",
    ):
        assert message in page, message
    assert "2 Verträge jetzt umstellen" in page
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0  # preview changes nothing

    job_url = preview.location
    mgr.post(f"{job_url}/start", data={"csrf_token": csrf_token(mgr, job_url)})
    done = mgr.get(job_url).get_data(as_text=True)
    assert "Abgeschlossen: 2 umgestellt, 5 nicht umgestellt." in done
    session.expire_all()
    portal = {c.number for c in session.scalars(sa.select(Contract).where(Contract.delivery == Delivery.PORTAL))}
    assert portal == {"BV-4711001", "BV-4711002"}
    report = mgr.get(f"{job_url}/bericht.csv").get_data(as_text=True)
    assert report.startswith("\ufeffZeile;Vertragsnummer")
    assert "BV-4711002;stefan@example.org" in report
    assert ";umgestellt;" in report
    assert "Vertrag nicht gefunden oder nicht in Ihrer Agentur" in report
    assert "einer anderen Agentur" not in page + report

    again = upload(mgr, content)  # the same file once more
    page = mgr.get(again.location).get_data(as_text=True)
    assert page.count("bereits auf das Kunden-Portal umgestellt") == 2
    assert "0 Verträge jetzt umstellen" in page
    assert session.scalar(sa.select(sa.func.count()).where(OutboxMessage.kind == Kind.EMAIL)) == 2


def test_csv_encodings_and_wrong_separators(outbox_app, bestand, mgr):
    windows = "Vertragsnummer;E-Mail;Mobilnummer\nBV-4711003;müller@example.org;0151 11111113\n".encode("cp1252")
    page = mgr.get(upload(mgr, windows).location).get_data(as_text=True)
    assert "als Windows-1252 gelesen" in page
    assert "müller@example.org" in page
    commas = upload(mgr, b"Vertragsnummer,E-Mail,Mobilnummer\nBV-4711003,a@example.org,0151 1\n")
    assert commas.status_code == 422
    assert "mit Kommas getrennt" in commas.get_data(as_text=True)
    assert "Die Datei ist leer." in upload(mgr, b"  \n").get_data(as_text=True)
    binary = upload(mgr, b"\x81\x8d\xff\xfe")  # neither UTF-8 nor Windows-1252
    assert binary.status_code == 422
    assert "weder UTF-8 noch Windows-1252" in binary.get_data(as_text=True)


def test_brokers_cannot_bulk_switch_and_other_agencies_are_invisible(
    outbox_app, bestand, broker, make_agency, make_user
):
    own = outbox_app.test_client()
    login(own, broker.email)
    assert own.get("/agentur/umstellung").status_code == 403
    token = csrf_token(own, "/bestand/")
    assert own.post("/agentur/umstellung/auswahl", data={"csrf_token": token}).status_code == 403
    stranger = outbox_app.test_client()
    login(stranger, make_user(Role.MANAGER, make_agency("Süd")).email)
    assert "BV-4711001" not in stranger.get("/bestand/").get_data(as_text=True)
    assert stranger.get(f"/vertraege/{bestand['BV-4711001'].public_id}/zustellweg").status_code == 404


def test_selection_switches_contracts_with_contact_data_on_file(outbox_app, bestand, mgr, session):
    ids = [bestand["BV-4711001"].public_id, bestand["BV-4711004"].public_id]  # 004 has no e-mail on file
    response = mgr.post(
        "/agentur/umstellung/auswahl", data={"csrf_token": csrf_token(mgr, "/bestand/"), "vertrag": ids}
    )
    page = mgr.get(response.location).get_data(as_text=True)
    assert "1 Vertrag jetzt umstellen" in page
    assert "keine E-Mail-Adresse beim Vertrag hinterlegt" in page
    assert "E-Mail-Adresse ungültig" not in page


def test_an_active_portal_customer_is_not_onboarded_again(outbox_app, bestand, mgr, session):
    from core import clock
    from onboarding.models import PortalAccount

    session.add(
        PortalAccount(
            email="helga.brandt@example.org", full_name="Helga Brandt", password_hash="x", activated_at=clock.now()
        )
    )
    session.commit()
    url = f"/vertraege/{bestand['BV-4711001'].public_id}/zustellweg"
    response = mgr.post(
        url,
        data={
            "csrf_token": csrf_token(mgr, url),
            "email": "helga.brandt@example.org",
            "mobile": "0151 23456789",
            "aktion": "portal",
        },
    )
    assert "bereits aktiv" in mgr.get(response.location).get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(AccessLink)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_large_files_run_in_the_background_with_progress(cli_app, tmp_path):
    """More rows than BULK_SWITCH_SYNC_ROWS (lowered to 20 here: each row renders a code letter):
    queued, not switched within the request; progress is polled until done."""
    from contracts.imports import import_contracts

    runner = cli_app.test_cli_runner()
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    cli_app.extensions["document_store"] = DirectoryStore(tmp_path)
    bulk = dataclasses.replace(cli_app.extensions["agency_settings"].bulk, sync_rows=20)
    with_settings(cli_app, "agency_settings", bulk=bulk)
    rows = "".join(
        f"GR-{n:05d};agenturleiter@demo.example;rs;Frau;K{n};N;Weg 1;10115;Berlin;01.01.2020;9,90;monatlich;;\n"
        for n in range(26)
    )
    with cli_app.app_context():
        from core.db import session as db_session

        import_contracts(db_session(), (DEMO_EXISTING.split("\n")[0] + "\n" + rows).encode(), SHIPPED_TARIFFS)
        db_session().commit()
    client = cli_app.test_client()
    client.post(
        "/anmelden",
        data={
            "csrf_token": csrf_token(client, "/anmelden"),
            "email": "agenturleiter@demo.example",
            "password": "Demo-Passwort-1!",
        },
    )
    content = "".join(f"GR-{n:05d};k{n}@example.org;0151 {n:08d}\n" for n in range(26)).encode()
    job_url = upload(client, content).location
    client.post(f"{job_url}/start", data={"csrf_token": csrf_token(client, job_url)})
    first = client.get(f"{job_url}/status").get_data(as_text=True)
    assert "Fortschritt:" in first  # the request only queued it: nothing runs in the web process
    assert 'hx-trigger="every 1s"' in first  # htmx keeps polling while it runs
    with cli_app.app_context():
        assert db_session().scalar(sa.select(SwitchJob.processed)) == 0
    from messaging import worker

    worker.run(cli_app, once=True)  # the worker process's loop: job steps between deliveries
    status = client.get(f"{job_url}/status").get_data(as_text=True)
    assert "Abgeschlossen: 26 umgestellt, 0 nicht umgestellt." in status
    with cli_app.app_context():
        s = db_session()
        assert s.scalar(sa.select(sa.func.count()).where(OutboxMessage.template == "access_link")) == 26
        assert s.scalar(sa.select(sa.func.count()).where(OutboxMessage.template == "access_code")) == 26
        assert s.scalar(sa.select(SwitchJob.processed)) == 26


def test_contracts_import_command_is_idempotent_and_refuses_bad_lines(cli_app, tmp_path):
    runner = cli_app.test_cli_runner()
    runner.invoke(args=["demo", "seed"])
    path = tmp_path / "bestand.csv"
    path.write_text(DEMO_EXISTING.replace("BV-47110", "NEU-"), encoding="utf-8")
    first = runner.invoke(args=["contracts", "import", str(path)])
    assert "Verträge: 4 übernommen, 0 bereits vorhanden" in first.output
    assert (
        "Verträge: 0 übernommen, 4 bereits vorhanden" in runner.invoke(args=["contracts", "import", str(path)]).output
    )
    path.write_text(
        DEMO_EXISTING.split("\n")[0] + "\nVR-2026-0000001-4;vermittler@demo.example;rs;;A;B;W;10115;B;"
        "01.01.2020;1,00;jaehrlich;;\n",
        encoding="utf-8",
    )
    bad = runner.invoke(args=["contracts", "import", str(path)])
    assert bad.exit_code != 0
    assert "issued by the calculator itself" in bad.output


def test_bestand_pages_and_keeps_its_filters(outbox_app, bestand, mgr, session, manager):
    from contracts.imports import import_contracts

    rows = "".join(
        f"PG-{n:03d};{manager.email};rs;Frau;K{n};N;Weg 1;10115;Berlin;01.01.2020;9,90;monatlich;;\n" for n in range(30)
    )
    import_contracts(session, (DEMO_EXISTING.split("\n")[0] + "\n" + rows).encode(), SHIPPED_TARIFFS)
    session.commit()
    first = mgr.get("/bestand/?sparte=rs").get_data(as_text=True)
    assert "Seite 1 von 2 (32 Verträge)" in first  # 30 new + 2 demo contracts of the Sparte rs
    assert re.search(r'href="/bestand/\?seite=2&amp;[^"]*sparte=rs', first)
    second = mgr.get("/bestand/?sparte=rs&seite=2").get_data(as_text=True)
    assert "Seite 2 von 2" in second
    assert "« zurück" in second
    assert "weiter »" not in second
    assert second.count("Vertragsdaten ändern</a>") == 7


def test_report_cells_that_a_spreadsheet_would_run_are_escaped(outbox_app, bestand, mgr):
    content = (
        b"Vertragsnummer;E-Mail;Mobilnummer\n"
        b'=HYPERLINK("http://evil.example");@SUMME(1);+49 151 23456789\n'
        b"-1+1;x@example.org;=1+2\n"
    )
    job_url = upload(mgr, content).location
    report = mgr.get(f"{job_url}/bericht.csv")
    assert report.headers["Cache-Control"] == "private, no-store"
    lines = report.get_data(as_text=True).splitlines()
    assert lines[1].startswith('2;"\'=HYPERLINK(""http://evil.example"")";\'@SUMME(1);\'+49 151 23456789;')
    assert lines[2].startswith("3;'-1+1;x@example.org;'=1+2;")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # old Mac exports end lines with CR only
        (
            b"Vertragsnummer;E-Mail;Mobilnummer\rBV-4711001;helga@example.org;0151 23456789\r"
            b"BV-4711003;a@b.de;0151 1\r",
            None,
        ),
        (b"BV-4711001;" + b"a" * (200 * 1024) + b";0151 23456789\n", "kein gültiges CSV"),
        (b"BV-4711001;" + b"a" * 300 + b"@example.org;0151 23456789\n", "Feld zu lang"),
        (b'BV-4711001;"offen;0151 23456789\n', "Zeile unvollständig"),
    ],
)
def test_odd_csv_files_get_a_german_message_not_a_500(outbox_app, bestand, mgr, content, expected):
    response = upload(mgr, content)
    assert response.status_code in (302, 422)
    page = (mgr.get(response.location) if response.status_code == 302 else response).get_data(as_text=True)
    if expected is None:
        assert "BV-4711001" in page
        assert "BV-4711003" in page  # both lines read: CR alone ends a line
    else:
        assert expected in page


def test_file_size_and_row_count_are_limited(outbox_app, bestand, mgr):
    limits = outbox_app.extensions["agency_settings"].bulk  # built from BULK_SWITCH_MAX_BYTES/_ROWS at start-up
    assert (limits.max_bytes, limits.max_rows) == (
        outbox_app.config["BULK_SWITCH_MAX_BYTES"],
        outbox_app.config["BULK_SWITCH_MAX_ROWS"],
    )
    with_settings(outbox_app, "agency_settings", bulk=dataclasses.replace(limits, max_rows=3))
    rows = "".join(f"BV-{n};a{n}@example.org;0151 1234567{n % 10}\n" for n in range(4)).encode()
    too_many = upload(mgr, rows)
    assert too_many.status_code == 422
    assert "Höchstens 3 Zeilen je Datei" in too_many.get_data(as_text=True)
    with_settings(outbox_app, "agency_settings", bulk=dataclasses.replace(limits, max_bytes=1024))
    too_big = upload(mgr, b"BV-1;a@example.org;0151 12345678\n" * 100)
    assert too_big.status_code == 422
    assert "Die Datei ist zu groß: höchstens 1 KB" in too_big.get_data(as_text=True)


def test_a_customer_name_longer_than_a_letter_line_is_wrapped_not_a_500(outbox_app, bestand, mgr, session):
    from messaging import worker

    contract = bestand["BV-4711001"]
    long_name = "Maria-Magdalena Henriette Charlotte Freifrau von und zu Hohenlohe-Langenburg-Schillingsfürst"
    contract.customer = {**contract.customer, "first_name": "", "last_name": long_name}
    contract.customer_name = long_name[:250]
    session.commit()
    url = f"/vertraege/{contract.public_id}/zustellweg"
    response = mgr.post(
        url,
        data={
            "csrf_token": csrf_token(mgr, url),
            "email": "maria@example.org",
            "mobile": "0151 23456789",
            "aktion": "portal",
        },
    )
    assert response.status_code == 302
    letter = session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == Kind.LETTER))
    assert all(len(line) <= 40 for line in letter.address[:3])
    assert " ".join(letter.address).startswith("Frau Maria-Magdalena")
    worker.run(outbox_app, once=True)
    session.refresh(letter)
    text = " ".join(PdfReader(io.BytesIO(letter.pdf)).pages[0].extract_text().split())
    assert "Freifrau von und zu Hohenlohe- Langenburg-Schillingsfürst Lindenallee 3 50667 Köln" in text


def test_bestand_search_takes_percent_and_underscore_literally(outbox_app, bestand, mgr):
    everything = mgr.get("/bestand/?q=%25").get_data(as_text=True)
    assert "BV-4711001" not in everything  # "%" is not a wildcard: no contract has it in number or name
    assert "BV-4711001" in mgr.get("/bestand/?q=4711001").get_data(as_text=True)


def test_the_contract_list_pages_instead_of_stopping_at_a_fixed_count(outbox_app, session, broker, manager):
    from contracts.imports import import_contracts

    rows = "".join(
        f"PG-{n:05d};{broker.email};rs;Frau;K{n};N;Weg 1;10115;Berlin;01.01.2020;9,90;monatlich;;\n" for n in range(30)
    )
    import_contracts(session, (DEMO_EXISTING.split("\n")[0] + "\n" + rows).encode(), SHIPPED_TARIFFS)
    session.commit()
    client = outbox_app.test_client()
    login(client, broker.email)
    first = client.get("/vertraege/").get_data(as_text=True)
    second = client.get("/vertraege/?seite=2").get_data(as_text=True)
    assert "Seite 1 von 2" in first
    assert first.count("PG-") + second.count("PG-") == 30
    assert client.get("/vertraege/?seite=99999999999999999999").status_code == 200
    assert "Seite 1 von 1" not in client.get("/antraege/").get_data(as_text=True)  # no applications: no pager


@pytest.mark.parametrize(
    ("email", "mobile", "field", "message"),
    [
        ("oemer@example.org", "+44 7700 900123", "mobile", "Bitte geben Sie eine deutsche Mobilfunknummer ein"),
        ("ömer@example.org", "0151 12345678", "email", "E-Mail-Adressen enthalten keine Umlaute"),
        ("oemer@exämple.org", "0151 12345678", "email", "E-Mail-Adressen enthalten keine Umlaute"),
    ],
)
def test_the_switch_checks_contact_data_as_the_form_says(bestand, mgr, session, email, mobile, field, message):
    """Issue #26 item 18: where a "deutsche Mobilfunknummer" is asked a valid foreign one is refused;
    umlauts in an e-mail address are refused as seed 000 says — the same check as the Antrag's."""
    contract = bestand["BV-4711003"]
    url = f"/vertraege/{contract.public_id}/zustellweg"
    data = {"csrf_token": csrf_token(mgr, url), "email": email, "mobile": mobile, "aktion": "portal"}
    refused = mgr.post(url, data=data)
    assert refused.status_code == 422
    assert f'id="{field}-error">{message}' in refused.get_data(as_text=True)
    session.refresh(contract)
    assert contract.delivery is Delivery.POST


def test_the_csv_switch_refuses_the_same_contact_data(bestand, manager, session):
    """Issue #26 item 18, the CSV upload: the preview names a foreign mobile and an umlaut address."""
    from agency import bulk
    from agency.models import SwitchRow

    rows = bulk.validate_rows(
        session,
        manager,
        [
            SwitchRow(1, "BV-4711003", "oemer@example.org", "+44 7700 900123"),
            SwitchRow(2, "BV-4711002", "krüger@example.org", "0151 12345678"),
            SwitchRow(3, "BV-4711001", "helga@example.org", "0151 12345678"),
        ],
    )
    assert [(r.status, r.message) for r in rows] == [
        ("error", "keine deutsche Mobilfunknummer"),
        ("error", "E-Mail-Adresse mit Umlaut"),
        ("ok", "wird umgestellt"),
    ]
