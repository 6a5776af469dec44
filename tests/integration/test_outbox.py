"""The outbox against a real SMTP server and the real twilio client on a local stand-in."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core import clock
from messaging import outbox, worker
from messaging.models import Kind, OutboxMessage, State
from messaging.outbox import MessageError, PostalAddress
from tests.conftest import TWILIO_FROM
from tests.helpers import with_settings


@pytest.fixture
def s(outbox_app, session):
    """The test's one session (on the test connection), inside the outbox app's context."""
    with outbox_app.app_context():
        yield session


def email(s, n=1, key=None, to="kunde@example.org"):
    return outbox.enqueue_email(
        s,
        key=key or f"test-mail:{n}",
        to=to,
        subject="Ihr Zugang – Grüße",
        template="hello",
        context={"name": f"Jürgen {n}"},
    )


def sms(s, n=1, to="0151 12345678", text="Ihr Zugangs-Code: 123456"):
    return outbox.enqueue_sms(s, key=f"test-sms:{n}", to=to, template="raw", context={"text": text})


def states(s):
    s.expire_all()
    return [m.state for m in s.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id))]


def make_due(s):
    """Skip the backoff wait: every waiting message is due now."""
    s.execute(sa.update(OutboxMessage).values(next_attempt_at=clock.now() - timedelta(seconds=1)))
    s.commit()


def test_message_exists_only_if_the_business_change_commits(outbox_app, s, smtp_server):
    email(s)
    s.rollback()  # the business transaction failed
    assert s.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    assert worker.run(outbox_app, once=True)["sent"] == 0
    assert smtp_server.inbox.messages == []


def test_one_event_enqueues_once(s):
    first = email(s, key="access-link:V-1:1")
    second = email(s, key="access-link:V-1:1")
    s.commit()
    assert first.id == second.id
    assert s.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1


def test_email_goes_out_over_smtp_with_proper_headers(outbox_app, s, smtp_server):
    message = email(s)
    s.commit()
    assert worker.run(outbox_app, once=True)["sent"] == 1
    (mail,) = smtp_server.inbox.messages
    assert mail["Subject"] == "Ihr Zugang – Grüße"  # RFC 2047 on the wire, decoded exactly
    assert mail["From"] == "Vermittler-Rechner <no-reply@rechner.test>"
    assert mail["To"] == "kunde@example.org"
    assert mail["Message-ID"] == message.provider_id
    assert message.provider_id.endswith("@rechner.test>")
    assert mail["Date"]
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Hallo Jürgen 1," in text
    assert "Ihr Link: http://portal.test/anmelden" in text
    assert '<a href="http://portal.test/anmelden">' in html
    s.refresh(message)
    assert message.state is State.SENT
    assert message.attempts == 1
    assert message.sent_at is not None


def test_a_long_email_goes_out_with_crlf_lines(outbox_app, s, smtp_server):
    # regression: bytes handed to smtplib keep their line ends; bare LFs made one over-long line
    outbox.enqueue_email(
        s, key="long", to="kunde@example.org", subject="Lang", template="hello", context={"name": "x" * 3000}
    )
    s.commit()
    assert worker.run(outbox_app, once=True)["sent"] == 1
    (mail,) = smtp_server.inbox.messages
    assert "x" * 3000 in mail.get_body(("plain",)).get_content()


def test_sms_goes_out_through_the_twilio_client(outbox_app, s, twilio_server):
    message = sms(s)
    s.commit()
    worker.run(outbox_app, once=True)
    (received,) = twilio_server.messages
    assert received["To"] == "+4915112345678"  # normalised to E.164
    assert received["From"] == TWILIO_FROM
    assert received["Body"] == "Ihr Zugangs-Code: 123456"
    s.refresh(message)
    assert message.state is State.SENT
    assert message.provider_id == received["sid"]


def test_smtp_outage_delays_and_then_delivers_every_mail_exactly_once(outbox_app, s, smtp_server):
    smtp_server.stop()  # connection refused
    for n in range(3):
        email(s, n)
    s.commit()
    outcome = worker.run(outbox_app, once=True)
    assert outcome == {"sent": 0, "retry": 3, "failed": 0, "skipped": 0}
    s.expire_all()
    for message in s.scalars(sa.select(OutboxMessage)):
        assert message.state is State.PENDING
        assert message.attempts == 1
        assert message.last_error.startswith("SMTP-Verbindung fehlgeschlagen")
        assert message.next_attempt_at > clock.now()  # backoff
    smtp_server.start()
    make_due(s)
    assert worker.run(outbox_app, once=True)["sent"] == 3
    ids = sorted(m["Message-ID"] for m in smtp_server.inbox.messages)
    assert len(ids) == 3
    assert len(set(ids)) == 3
    assert worker.run(outbox_app, once=True)["sent"] == 0  # nothing is sent twice


def test_smtp_timeout_is_retried(outbox_app, s, smtp_server):
    outbox_app.config["MAIL_TIMEOUT_SECONDS"] = 1
    smtp_server.inbox.delay = 1.5  # longer than MAIL_TIMEOUT_SECONDS
    email(s)
    s.commit()
    assert worker.run(outbox_app, once=True)["retry"] == 1
    (message,) = s.scalars(sa.select(OutboxMessage))
    s.refresh(message)
    assert message.state is State.PENDING
    assert "timed out" in message.last_error


@pytest.mark.parametrize(
    ("mode", "state", "error"),
    [("reject", State.FAILED, "Empfänger abgelehnt: SMTP 550"), ("tempfail", State.PENDING, "SMTP 451")],
)
def test_smtp_refusals_are_classified(outbox_app, s, smtp_server, mode, state, error):
    smtp_server.inbox.mode = mode
    email(s)
    s.commit()
    worker.run(outbox_app, once=True)
    (message,) = s.scalars(sa.select(OutboxMessage))
    s.refresh(message)
    assert message.state is state
    assert message.attempts == 1
    assert error in message.last_error


def test_twilio_429_500_and_dropped_connections_retry_then_deliver_once(outbox_app, s, twilio_server):
    twilio_server.fail(("status", 429, 20429), ("status", 500, 20500), ("drop",))
    for n in range(3):
        sms(s, n)
    s.commit()
    first = worker.run(outbox_app, once=True)
    assert first["retry"] == 3
    assert twilio_server.messages == []
    errors = sorted(m.last_error for m in s.scalars(sa.select(OutboxMessage)))
    assert any("429" in e for e in errors)
    assert any("500" in e for e in errors)
    assert any("nicht erreichbar" in e for e in errors)
    make_due(s)
    assert worker.run(outbox_app, once=True)["sent"] == 3
    bodies = [m["To"] for m in twilio_server.messages]
    assert len(bodies) == 3  # each SMS exactly once
    assert set(states(s)) == {State.SENT}


def test_twilio_invalid_number_fails_at_once(outbox_app, s, twilio_server):
    # a number twilio refuses with 21211 (the stand-in refuses Berlin landlines) never succeeds later
    message = OutboxMessage(
        idempotency_key="x", kind=Kind.SMS, recipient="+4930123456", body_text="Hallo", template="raw"
    )
    s.add(message)
    s.commit()
    worker.run(outbox_app, once=True)
    s.refresh(message)
    assert message.state is State.FAILED
    assert message.attempts == 1
    assert message.last_error.startswith("twilio 400/21211")


def test_attempts_run_out_then_failed(outbox_app, s, smtp_server):
    with_settings(outbox_app, "messaging_settings", max_attempts=2)
    smtp_server.stop()
    email(s)
    s.commit()
    worker.run(outbox_app, once=True)
    make_due(s)
    worker.run(outbox_app, once=True)
    (message,) = s.scalars(sa.select(OutboxMessage))
    s.refresh(message)
    assert message.state is State.FAILED
    assert message.attempts == 2


def test_an_expired_lease_is_taken_again_and_a_live_one_is_not(outbox_app, s, smtp_server):
    message = email(s)
    s.commit()
    settings = outbox_app.extensions["messaging_settings"]
    assert worker.claim(s, "dead-worker", settings) == [message.id]
    assert worker.claim(s, "other", settings) == []  # leased
    later = clock.now() + timedelta(seconds=settings.lease_seconds + 1)
    assert worker.claim(s, "other", settings, now=later) == [message.id]  # the dead worker's lease ended
    s.refresh(message)
    assert message.attempts == 2
    assert message.claimed_by == "other"


def test_backoff_is_exponential_with_jitter_and_capped():
    import random

    settings = worker.Settings(8, 30, 3600, 300, 50, 1)
    rng = random.Random(1)
    for attempt, base in [(1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)]:
        delay = worker.backoff(settings, attempt, rng).total_seconds()
        assert base * 0.5 <= delay <= base * 1.5


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: email(s, to="kein-at-zeichen"), "Bitte geben Sie eine gültige E-Mail-Adresse ein."),
        (lambda s: sms(s, to="030 1234567"), "Keine Mobilfunknummer"),
        (lambda s: sms(s, to="12345"), "Keine gültige Telefonnummer"),
        (lambda s: sms(s, text="x" * 161), "zu lang (161 von höchstens 160"),
        (lambda s: sms(s, text="Code 123456 👍"), "nicht darstellbar"),
        (lambda s: sms(s, text="[" * 81), "zu lang (162"),  # extension characters count twice
        (
            lambda s: outbox.enqueue_letter(
                s,
                key="l",
                address=PostalAddress("Max Muster", "", "10115", "Berlin"),
                subject="B",
                template="hello",
                context={"name": "M", "text": "T"},
            ),
            "fehlen Name, Straße oder Ort",
        ),
        (
            lambda s: outbox.enqueue_letter(
                s,
                key="l",
                address=PostalAddress("Max", "Weg 1", "1011", "Berlin"),
                subject="B",
                template="hello",
                context={"name": "M", "text": "T"},
            ),
            "PLZ der Anschrift",
        ),
    ],
)
def test_bad_input_is_refused_at_enqueue_time(s, call, message):
    with pytest.raises(MessageError, match=re.escape(message)):
        call(s)
    assert s.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_gsm7_umlauts_fit_and_160_characters_are_allowed(s):
    text = "Grüße aus Köln: Ihr Zugangs-Code für das Kunden-Portal lautet 123456. " + "ä" * 90
    assert len(text) == 160
    assert sms(s, text=text).body_text == text
