"""Delivery of one message: SMTP, twilio, the dev mailbox, and letter PDFs for the Postausgang.

Each transport raises TransientError (retry later) or PermanentError (fail now). A transport object
lives for one worker batch, so the SMTP connection and twilio's HTTP session are reused.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import logging
import smtplib
import socket
from collections.abc import Callable, Sequence
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from flask import render_template
from pypdf import PdfWriter
from standardwebhooks.webhooks import Webhook

from core import clock, storage
from core.pdf import PdfError, render_each
from messaging.models import Kind, OutboxMessage

log = logging.getLogger(__name__)

SMTP_POLICY = compat32.clone(linesep="\r\n")

# twilio error codes that will not change on a retry (invalid/unreachable number, opted out, …)
TWILIO_PERMANENT_CODES = {21211, 21212, 21408, 21610, 21612, 21614, 21617, 30003, 30005, 30006}


class DeliveryError(Exception):
    """Delivery did not work; the message (no content, no codes) goes into last_error."""


class TransientError(DeliveryError):
    """Try again later (outage, timeout, rate limit, 4xx from SMTP, 5xx/429 from twilio)."""


class ConnectionFailed(TransientError):
    """The provider could not be reached at all: the rest of the batch for it waits too."""


class PermanentError(DeliveryError):
    """Will not work on a retry (recipient rejected, invalid number)."""


class Transport(Protocol):
    def send(self, message: OutboxMessage) -> str | None:
        """Deliver; return the provider's id (or None to keep the one set at enqueue)."""

    def close(self) -> None: ...


# --- e-mail ------------------------------------------------------------------------------------------


def build_email(message: OutboxMessage, sender: str) -> MIMEMultipart:
    """Multipart text + HTML with Message-ID, Date and From with display name (RFC 2047 where needed).
    The compat32 MIME classes: a third of the cost of EmailMessage, the same bytes on the wire."""
    name, address = parseaddr(sender)
    name = message.sender_name or name
    body = MIMEMultipart("alternative")
    mail = MIMEMultipart("mixed") if message.attachments else body
    mail["From"] = formataddr((name, address), charset="utf-8") if name else address
    if message.reply_to:
        mail["Reply-To"] = message.reply_to
    mail["To"] = message.recipient
    mail["Subject"] = Header(message.subject, "utf-8").encode()
    mail["Date"] = format_datetime(clock.now())
    mail["Message-ID"] = message.provider_id or ""
    mail["Auto-Submitted"] = "auto-generated"
    body.attach(MIMEText(message.body_text, "plain", "utf-8"))
    body.attach(MIMEText(message.body_html, "html", "utf-8"))
    if message.attachments:
        mail.attach(body)
        names = message.attachment_names or []
        for i, key in enumerate(message.attachments):
            part = MIMEApplication(storage.load(key), "pdf")
            part.add_header("Content-Disposition", "attachment", filename=names[i] if i < len(names) else f"{key}.pdf")
            mail.attach(part)
    return mail


class SmtpTransport:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        if self.connection is not None:
            return self.connection
        c = self.config
        try:
            connection = smtplib.SMTP(c["MAIL_SERVER"], c["MAIL_PORT"], timeout=c["MAIL_TIMEOUT_SECONDS"])
            if c["MAIL_USE_TLS"]:
                connection.starttls()
            if c["MAIL_USERNAME"]:
                connection.login(c["MAIL_USERNAME"], c["MAIL_PASSWORD"])
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionFailed(f"SMTP-Verbindung fehlgeschlagen: {type(exc).__name__}: {exc}") from exc
        self.connection = connection
        return connection

    def send(self, message: OutboxMessage) -> str | None:
        mail = build_email(message, self.config["MAIL_DEFAULT_SENDER"])
        sender = parseaddr(self.config["MAIL_DEFAULT_SENDER"])[1]
        connection = self._connect()
        try:
            # CRLF line ends: smtplib leaves bytes as they are, and a message of bare LFs is one
            # over-long line to the server (refused beyond 1,000 octets, RFC 5321 4.5.3.1.6)
            connection.sendmail(sender, [message.recipient], mail.as_bytes(policy=SMTP_POLICY))
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            self._drop()
            said = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
            error = PermanentError if code >= 500 else TransientError
            raise error(f"Empfänger abgelehnt: SMTP {code} {said}"[:500]) from exc
        except smtplib.SMTPResponseException as exc:
            self._drop()
            error = PermanentError if 500 <= exc.smtp_code < 600 and exc.smtp_code != 552 else TransientError
            raise error(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop()
            raise TransientError(f"SMTP-Fehler: {type(exc).__name__}: {exc}") from exc
        return message.provider_id

    def _drop(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.connection.quit()
            self._drop()


# --- SMS ---------------------------------------------------------------------------------------------


class TwilioTransport:
    def __init__(self, config: dict[str, Any]) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        self.from_number = config["TWILIO_FROM_NUMBER"]
        self.client = Client(
            config["TWILIO_ACCOUNT_SID"],
            config["TWILIO_AUTH_TOKEN"],
            http_client=TwilioHttpClient(timeout=config["TWILIO_TIMEOUT_SECONDS"]),
        )
        if config["TWILIO_API_BASE_URL"]:
            self.client.api.base_url = config["TWILIO_API_BASE_URL"].rstrip("/")

    def send(self, message: OutboxMessage) -> str | None:
        from twilio.base.exceptions import TwilioRestException

        try:
            sent = self.client.messages.create(to=message.recipient, from_=self.from_number, body=message.body_text)
        except TwilioRestException as exc:
            status, code = exc.status, exc.code
            transient = status == 429 or status >= 500 or status in (401, 403)
            if code in TWILIO_PERMANENT_CODES or not transient:
                raise PermanentError(f"twilio {status}/{code}: {exc.msg}") from exc
            raise TransientError(f"twilio {status}/{code}: {exc.msg}") from exc
        except requests.ConnectionError as exc:
            raise ConnectionFailed(f"twilio nicht erreichbar: {type(exc).__name__}") from exc
        except requests.RequestException as exc:
            raise TransientError(f"twilio-Anfrage fehlgeschlagen: {type(exc).__name__}") from exc
        return str(sent.sid)

    def close(self) -> None:
        pass


# --- development: the dev mailbox ----------------------------------------------------------------------


class DevMailboxTransport:
    """Nothing leaves the machine: the message stays in the outbox, shown on the dev mailbox page."""

    def send(self, message: OutboxMessage) -> str | None:
        # recipient and subject only: bodies may hold access codes, which never go to logs
        log.info("dev mailbox: %s to %s %s", message.kind.value, message.recipient, message.subject)
        return message.provider_id or f"dev-{message.public_id}"

    def close(self) -> None:
        pass


# --- letters -----------------------------------------------------------------------------------------


def render_letter_pdfs(
    messages: Sequence[OutboxMessage], workers: int | None = None
) -> dict[int, bytes | DeliveryError]:
    """Letters of a batch: cover letters rendered on all cores at once (a wkhtmltopdf process each),
    then each followed by its attached documents (e.g. Versicherungsschein, Rechnung). Per message id
    the PDF, or the error that message failed with (the others are not held up by it)."""
    created = clock.now()
    done: dict[int, bytes | DeliveryError] = {}
    htmls: list[str] = []
    for message in list(messages):
        try:
            htmls.append(render_template("documents/letter.html", message=message, created=created))
        except Exception as error:  # a bug in one letter must not stop the others: retried with backoff
            log.exception("outbox: letter %s could not be laid out", message.public_id)
            done[message.id] = TransientError(f"{type(error).__name__}: {error}")
    messages = [m for m in messages if m.id not in done]
    for message, cover in zip(messages, render_each(htmls, letter=True, workers=workers), strict=True):
        if isinstance(cover, PdfError):
            done[message.id] = TransientError(f"PDF-Erzeugung fehlgeschlagen: {cover}")
            continue
        try:
            done[message.id] = _with_attachments(cover, message.attachments)
        except PermanentError as error:
            done[message.id] = error
    return done


def _with_attachments(cover: bytes, attachments: list[str]) -> bytes:
    if not attachments:
        return cover
    writer = PdfWriter()
    writer.append(io.BytesIO(cover))
    for key in attachments:
        try:
            writer.append(io.BytesIO(storage.load(key)))
        except storage.StorageError as exc:
            raise PermanentError(f"Anlage fehlt: {exc}") from exc
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- webhooks ------------------------------------------------------------------------------------------

# the endpoint's signing secret by the endpoint's id (message.related_id); None: the endpoint is gone
# or disabled. Registered by the package that owns endpoints (the API), as app.extensions[SECRETS].
SecretLookup = Callable[[str], "str | None"]
WEBHOOK_SECRETS = "webhook_secrets"


def unsafe_address(host: str) -> bool:
    """A host that resolves to a loopback, private, link-local or otherwise non-public address: a
    webhook there would let a client reach our own network (SSRF)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return True
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            return True
    return False


class WebhookTransport:
    """POST the event's JSON with the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
    `webhook-signature: v1,<HMAC-SHA256>`). 2xx: delivered; 408, 429, 5xx, timeouts and connection
    errors: tried again with backoff; any other answer: failed (the log offers "erneut senden")."""

    def __init__(self, config: dict[str, Any], secrets: SecretLookup | None) -> None:
        self.secrets = secrets
        self.timeout = config["API_WEBHOOK_TIMEOUT_SECONDS"]
        self.insecure = config["API_WEBHOOK_ALLOW_INSECURE"]
        self.session = requests.Session()

    def send(self, message: OutboxMessage) -> str | None:
        secret = self.secrets(message.related_id or "") if self.secrets is not None else None
        if secret is None:
            raise PermanentError("Webhook-Endpunkt gelöscht oder deaktiviert")
        url = urlsplit(message.recipient)
        if not self.insecure and (url.scheme != "https" or unsafe_address(url.hostname or "")):
            raise PermanentError("Webhook-Adresse nicht erlaubt (nur HTTPS an öffentliche Adressen)")
        event_id = message.provider_id or message.public_id
        now = clock.now()
        headers = {
            "content-type": "application/json",
            "user-agent": "Vermittlerrechner-Webhooks/1",
            "webhook-id": event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(event_id, now, message.body_text),
        }
        try:
            answer = self.session.post(
                message.recipient,
                data=message.body_text.encode(),
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise TransientError(f"Webhook: keine Antwort in {self.timeout} s") from exc
        except requests.ConnectionError as exc:
            raise TransientError(f"Webhook nicht erreichbar: {type(exc).__name__}") from exc
        except requests.RequestException as exc:
            raise TransientError(f"Webhook-Anfrage fehlgeschlagen: {type(exc).__name__}") from exc
        status = answer.status_code
        answer.close()
        if 200 <= status < 300:
            return event_id
        if status in (408, 429) or status >= 500:
            raise TransientError(f"Webhook-Empfänger antwortete {status}")
        raise PermanentError(f"Webhook-Empfänger antwortete {status}")

    def close(self) -> None:
        self.session.close()


def transports_for(config: dict[str, Any], extensions: dict[str, Any] | None = None) -> dict[Kind, Transport]:
    mail: Transport = SmtpTransport(config) if config["MAIL_BACKEND"] == "smtp" else DevMailboxTransport()
    sms: Transport = TwilioTransport(config) if config["SMS_BACKEND"] == "twilio" else DevMailboxTransport()
    hooks = WebhookTransport(config, (extensions or {}).get(WEBHOOK_SECRETS))
    return {Kind.EMAIL: mail, Kind.SMS: sms, Kind.WEBHOOK: hooks}
