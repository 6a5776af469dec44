"""Letters in the Postausgang, the back office's Nachrichten page, the dev mailbox."""

import io
import re
import time

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from core.users import Role
from messaging import outbox, worker
from messaging.models import Kind, OutboxMessage, State
from messaging.outbox import PostalAddress
from tests.helpers import csrf_token, login

MM = 25.4 / 72  # millimetres per PDF point


@pytest.fixture
def s(session):
    """The test's one session. No app context stays open: requests must not share `g` with the test."""
    return session


_current: list = []


def current_test_app():
    return _current[-1]


@pytest.fixture(autouse=True)
def _remember_app(outbox_app):
    _current.append(outbox_app)
    yield
    _current.pop()


@pytest.fixture
def office(outbox_app, make_user):
    client = outbox_app.test_client()
    login(client, make_user(Role.BACKOFFICE).email)
    return client


def letter(s, n=1, name="Jürgen Müller"):
    with current_test_app().app_context():
        return _letter(s, n, name)


def _letter(s, n, name):
    return outbox.enqueue_letter(
        s,
        key=f"letter:{n}",
        address=PostalAddress(name, "Hauptstraße 1", "10115", "Berlin"),
        subject="Ihr Zugangs-Code für das Kunden-Portal",
        template="hello",
        context={"name": name, "text": f"Ihr Code lautet ABCD-EFGH-{n}."},
        related=("contract", f"V-{n}"),
    )


def positions(pdf: bytes) -> dict[str, tuple[float, float]]:
    """Text → (x from the left edge, baseline from the top edge) in mm."""
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    height = float(page.mediabox.height)
    found: dict[str, tuple[float, float]] = {}

    def visit(text, cm, tm, font, size):
        if text.strip():
            x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
            y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
            found.setdefault(" ".join(text.split()), (x * MM, (height - y) * MM))

    page.extract_text(visitor_text=visit)
    return found


def test_a_batch_of_letters_renders_together_and_a_broken_one_fails_alone(outbox_app, s):
    """The worker renders the letters of a batch at once (on all cores): each still gets its own PDF
    with its own text, and one whose attachment is missing fails without holding up the others."""
    letters = [letter(s, n, f"Kundin {n}") for n in range(4)]
    letters[2].attachments = ["missing/versicherungsschein.pdf"]
    s.commit()
    outcome = worker.run(outbox_app, once=True)
    assert (outcome["sent"], outcome["failed"] + outcome["retry"]) == (3, 1)
    for n, message in enumerate(letters):
        s.refresh(message)
        if n == 2:
            assert message.state is State.FAILED
            assert message.last_error.startswith("Anlage fehlt")
            continue
        assert message.state is State.READY
        pdf = s.scalar(sa.select(OutboxMessage.pdf).where(OutboxMessage.id == message.id))
        text = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
        assert f"Kundin {n}" in text
        assert f"ABCD-EFGH-{n}" in text


def test_letter_pdf_puts_the_address_in_the_din_5008_window(outbox_app, s):
    message = letter(s)
    s.commit()
    assert worker.run(outbox_app, once=True)["sent"] == 1
    s.refresh(message)
    assert message.state is State.READY
    pdf = s.scalar(sa.select(OutboxMessage.pdf).where(OutboxMessage.id == message.id))
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    where = positions(pdf)
    # window: 20 mm from the left, 45–90 mm from the top; the first 5 mm hold the return address
    for line in ("Jürgen Müller", "Hauptstraße 1", "10115 Berlin"):
        x, baseline = where[line]
        assert 19.5 <= x <= 21, (line, x)
        assert 50 <= baseline <= 90, (line, baseline)
    assert where["Jürgen Müller"][1] < where["Hauptstraße 1"][1] < where["10115 Berlin"][1]
    _return_x, return_y = next(v for k, v in where.items() if k.startswith("Demo Versicherung · Postfach"))
    assert 45 <= return_y <= 50
    text = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert "Ihr Zugangs-Code für das Kunden-Portal" in text
    assert "ABCD-EFGH-1" in text
    assert "Zeichen: V-1" in text


def test_postausgang_prints_a_batch_as_one_pdf_and_marks_it_posted(outbox_app, s, office):
    for n in range(3):
        letter(s, n, name=f"Kundin {n}")
    s.commit()
    worker.run(outbox_app, once=True)
    page = office.get("/innendienst/postausgang").get_data(as_text=True)
    ids = re.findall(r'name="brief" value="([^"]+)"', page)
    assert len(ids) == 3
    assert "Kundin 2" in page
    assert " checked" not in page.split('id="alle-briefe"')[1]  # nothing is pre-ticked
    token = csrf_token(office, "/innendienst/postausgang")
    batch = office.post("/innendienst/postausgang/drucken", data={"csrf_token": token, "brief": ids[:2]})
    assert batch.status_code == 200
    assert batch.mimetype == "application/pdf"
    assert batch.headers["Cache-Control"] == "private, no-store"
    pages = PdfReader(io.BytesIO(batch.data)).pages
    assert len(pages) == 2
    assert "Kundin 0" in " ".join(pages[0].extract_text().split())
    assert "Kundin 1" in " ".join(pages[1].extract_text().split())

    # marking asks first, naming the count and the letter that was not printed
    confirm = office.post("/innendienst/postausgang/versendet", data={"csrf_token": token, "brief": ids})
    assert confirm.status_code == 200
    question = confirm.get_data(as_text=True)
    assert "3 Briefe als zur Post gegeben markieren?" in question
    assert "1 Brief wurde noch nicht als PDF heruntergeladen" in question
    s.expire_all()
    assert {m.state for m in s.scalars(sa.select(OutboxMessage))} == {State.READY}  # nothing changed yet

    done = office.post(
        "/innendienst/postausgang/versendet", data={"csrf_token": token, "brief": ids[:2], "bestaetigt": "1"}
    )
    assert done.status_code == 302
    assert "2 Briefe als zur Post gegeben markiert." in office.get(done.location).get_data(as_text=True)
    s.expire_all()
    by_state = {m.recipient: m.state for m in s.scalars(sa.select(OutboxMessage))}
    assert by_state == {"Kundin 0": State.POSTED, "Kundin 1": State.POSTED, "Kundin 2": State.READY}
    nothing = office.post("/innendienst/postausgang/drucken", data={"csrf_token": token})
    assert nothing.status_code == 302  # nothing selected: back with a message

    # undo: back into the Postausgang, printable again
    back = office.post(f"/innendienst/postausgang/{ids[0]}/zurueck", data={"csrf_token": token})
    assert "Der Brief an Kundin 0 ist zurück im Postausgang." in office.get(back.location).get_data(as_text=True)
    s.expire_all()
    assert s.scalar(sa.select(OutboxMessage.state).where(OutboxMessage.public_id == ids[0])) is State.READY


def test_a_posted_code_letter_is_kept_until_its_code_expires(outbox_app, s, office, time_machine):
    from datetime import timedelta

    from core import clock

    with outbox_app.app_context():
        message = _letter(s, 1, "Kundin 1")
        message.sensitive = True
        message.retain_until = clock.now() + timedelta(days=30)
    s.commit()
    worker.run(outbox_app, once=True)
    token = csrf_token(office, "/innendienst/postausgang")
    office.post(
        "/innendienst/postausgang/versendet",
        data={"csrf_token": token, "brief": [message.public_id], "bestaetigt": "1"},
    )
    worker.run(outbox_app, once=True)  # the purge task runs: the code is still valid, the letter stays
    assert s.scalar(sa.select(OutboxMessage.pdf.is_not(None)).where(OutboxMessage.id == message.id))
    today = clock.now()
    time_machine.move_to(today + timedelta(days=31), tick=False)
    worker.run(outbox_app, once=True)
    time_machine.move_to(today)  # back to today for the office's session
    s.expire_all()
    assert s.scalar(sa.select(OutboxMessage.pdf.is_(None)).where(OutboxMessage.id == message.id))
    page = office.get("/innendienst/postausgang").get_data(as_text=True)
    assert "Brief gelöscht" in page
    refused = office.post(f"/innendienst/postausgang/{message.public_id}/zurueck", data={"csrf_token": token})
    assert "kann nicht mehr zurückgeholt werden" in office.get(refused.location).get_data(as_text=True)


def test_nachrichten_counts_filters_and_retry(outbox_app, s, office, smtp_server):
    smtp_server.inbox.mode = "reject"
    with outbox_app.app_context():
        outbox.enqueue_email(s, key="m1", to="weg@example.org", subject="A", template="hello", context={"name": "A"})
        outbox.enqueue_sms(s, key="s1", to="015112345678", template="raw", context={"text": "Hallo"})
    s.commit()
    worker.run(outbox_app, once=True)
    page = office.get("/innendienst/nachrichten").get_data(as_text=True)
    # issue #26 item 5: the German explanation first, the server's own words behind a toggle
    assert "Die E-Mail-Adresse wurde vom Empfänger abgelehnt" in page
    assert re.search(r"<details[^>]*><summary>Technische Meldung</summary><code>Empfänger abgelehnt: SMTP 550 ", page)
    assert '<a href="/innendienst/nachrichten?art=email&amp;status=failed">1</a>' in page
    failed_only = office.get("/innendienst/nachrichten?status=failed").get_data(as_text=True)
    assert "weg@example.org" in failed_only
    assert "+4915112345678" not in failed_only
    assert "+4915112345678" in office.get("/innendienst/nachrichten?q=4915").get_data(as_text=True)

    smtp_server.inbox.mode = "ok"
    failed = s.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == Kind.EMAIL))
    # issue #26 item 22: the address was refused for good (550) — no "Erneut senden", which could only
    # fail again, but "Adresse korrigieren"; a forged retry is refused
    assert f"/innendienst/nachrichten/{failed.public_id}/adresse" in failed_only
    assert f"/innendienst/nachrichten/{failed.public_id}/erneut" not in failed_only
    response = office.post(
        f"/innendienst/nachrichten/{failed.public_id}/erneut",
        data={"csrf_token": csrf_token(office, "/innendienst/nachrichten")},
    )
    assert "erneutes Senden hilft nicht" in office.get(response.location).get_data(as_text=True)
    s.refresh(failed)
    assert failed.state is State.FAILED
    url = f"/innendienst/nachrichten/{failed.public_id}/adresse"
    same = office.post(url, data={"csrf_token": csrf_token(office, url), "email": "Weg@Example.org"})
    assert same.status_code == 422
    assert "Das ist die abgelehnte Adresse" in same.get_data(as_text=True)
    bad = office.post(url, data={"csrf_token": csrf_token(office, url), "email": "weg@"})
    assert bad.status_code == 422
    assert 'value="weg@"' in bad.get_data(as_text=True)  # kept as typed
    done = office.post(url, data={"csrf_token": csrf_token(office, url), "email": "Richtig@Example.org"})
    assert done.status_code == 302
    s.refresh(failed)
    assert (failed.state, failed.attempts, failed.recipient) == (State.PENDING, 0, "richtig@example.org")
    worker.run(outbox_app, once=True)
    assert [m["To"] for m in smtp_server.inbox.messages] == ["richtig@example.org"]


@pytest.mark.parametrize("url", ["/innendienst/nachrichten", "/innendienst/postausgang"])
def test_back_office_pages_are_refused_to_agency_staff(outbox_app, make_user, agency, url):
    for role in (Role.BROKER, Role.MANAGER):
        client = outbox_app.test_client()
        login(client, make_user(role, agency).email)
        assert client.get(url).status_code == 403
    client = outbox_app.test_client()
    login(client, make_user(Role.BROKER, agency).email)
    token = csrf_token(client, "/vermittler/")
    assert client.post("/innendienst/postausgang/versendet", data={"csrf_token": token}).status_code == 403


def test_dev_mailbox_exists_only_in_development(outbox_app, client):
    assert client.get("/dev/postfach").status_code == 404


def test_embedded_worker_delivers_in_development_without_a_second_process(tmp_path):
    from core import migrate
    from core.app import create_app

    app = create_app(
        environ={
            "APP_ENV": "development",
            "DATABASE_URL": f"sqlite:///{tmp_path}/dev.sqlite3",
            "SECRET_KEY": "d" * 40,
            "OUTBOX_POLL_SECONDS": "0",
        }
    )
    assert app.config["OUTBOX_EMBEDDED_WORKER"] is True
    migrate.upgrade(app.extensions["database"].engine)
    with app.app_context():
        s = app.extensions["database"].sessionmaker()
        outbox.enqueue_sms(s, key="dev-1", to="0151 12345678", template="test", context={})
        outbox.enqueue_email(s, key="dev-2", to="kunde@example.org", subject="Test", template="test", context={})
        s.commit()
    client = app.test_client()
    try:
        page = client.get("/dev/postfach")  # the first request starts the embedded worker
        assert page.status_code == 200, page.get_data(as_text=True)[-1500:]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with app.extensions["database"].sessionmaker() as s:
                if {m.state for m in s.scalars(sa.select(OutboxMessage))} == {State.SENT}:
                    break
            time.sleep(0.05)
        page = client.get("/dev/postfach").get_data(as_text=True)
        assert "SMS an +4915112345678" in page
        assert "Der SMS-Versand funktioniert." in page
        assert "E-Mail an kunde@example.org: Test" in page
        html = client.get(re.search(r'href="(/dev/postfach/[^"]+\.html)"', page).group(1))
        assert "sandbox" in html.headers["Content-Security-Policy"]
    finally:
        app.extensions["outbox_stop"].set()
        app.extensions["database"].engine.dispose()


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:x",
    ],
)
def test_retry_follows_only_same_site_paths(outbox_app, s, office, target):
    with outbox_app.app_context():
        message = outbox.enqueue_email(
            s, key="m1", to="a@example.org", subject="A", template="hello", context={"name": "A"}
        )
    s.commit()
    url = f"/innendienst/nachrichten/{message.public_id}/erneut"
    token = csrf_token(office, "/innendienst/nachrichten")
    response = office.post(url, data={"csrf_token": token, "next": target})
    assert response.location == "/innendienst/nachrichten"
    local = office.post(url, data={"csrf_token": token, "next": "/innendienst/nachrichten?status=failed"})
    assert local.location == "/innendienst/nachrichten?status=failed"


def test_postausgang_filters_by_kind_and_age(outbox_app, s, office, time_machine):
    """Issue #26 item 24: the Postausgang filters by the kind of letter and its age; a value not
    offered is no filter."""
    from datetime import timedelta

    from core import clock

    now = clock.now()
    time_machine.move_to(now - timedelta(days=5), tick=False)
    with outbox_app.app_context():
        outbox.enqueue_letter(
            s,
            key="old-test",
            address=PostalAddress("Herrn Alt Brief", "Hauptstraße 1", "10115", "Berlin"),
            subject="Testbrief",
            template="test",
            context={},
        )
    s.commit()
    time_machine.move_to(now, tick=False)
    letter(s, 1, name="Frau Neu Brief")
    s.commit()
    worker.run(outbox_app, once=True)

    def shown(query=""):
        page = office.get(f"/innendienst/postausgang{query}").get_data(as_text=True)
        return [name for name in ("Herrn Alt Brief", "Frau Neu Brief") if name in page]

    assert shown() == ["Herrn Alt Brief", "Frau Neu Brief"]
    assert shown("?art=test") == ["Herrn Alt Brief"]
    assert shown("?alter=3") == ["Herrn Alt Brief"]
    assert shown("?alter=7") == []
    assert shown("?art=unbekannt&alter=99") == ["Herrn Alt Brief", "Frau Neu Brief"]
    assert "Brief an Herrn Alt Brief auswählen" in office.get("/innendienst/postausgang").get_data(as_text=True)
