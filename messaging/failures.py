"""What a failed message's technical error means, in German for the people who act on it (issue #26
item 5): the agency manager's worklist shows only the explanation, the back office's Nachrichten
the explanation with the provider's own words behind a toggle. The stored error stays as the
transport wrote it (messaging.transports), so nothing is lost for a support case."""

from __future__ import annotations

import re

_SMTP = re.compile(r"\bSMTP (\d{3})\b")
_TWILIO = re.compile(r"\btwilio (\d{3})/(\d+)")
# twilio's error codes that mean the number itself (https://www.twilio.com/docs/api/errors)
_TWILIO_NUMBER = {21211, 21212, 21214, 21407, 21408, 21612, 21614, 30003, 30005, 30006}
_TWILIO_BLOCKED = {21610, 30007}


def address_refused(error: str | None) -> bool:
    """The recipient's mail server refused the address for good (SMTP 5xx, not a full mailbox): sending
    again cannot help — the address must be corrected (issue #26 item 22)."""
    smtp = _SMTP.search(error or "")
    return smtp is not None and int(smtp.group(1)) >= 500 and int(smtp.group(1)) != 552


def explain(error: str | None) -> str:
    """One German sentence for a stored delivery error ("" when there is none)."""
    if not error:
        return ""
    if error.startswith("Anlage fehlt"):
        return "Ein Dokument dieser Nachricht fehlt in der Ablage; sie kann so nicht versendet werden."
    smtp = _SMTP.search(error)
    if smtp:
        code = int(smtp.group(1))
        if code == 552:
            return "Das Postfach des Empfängers ist voll. Die Nachricht wird später erneut versucht."
        if code >= 500:
            return (
                "Die E-Mail-Adresse wurde vom Empfänger abgelehnt (Postfach unbekannt oder gesperrt). "
                "Bitte prüfen Sie die Adresse mit dem Kunden."
            )
        return "Der Mailserver des Empfängers hat die Nachricht vorübergehend abgewiesen; sie wird erneut versucht."
    twilio = _TWILIO.search(error)
    if twilio:
        code = int(twilio.group(2))
        if code in _TWILIO_BLOCKED:
            return "Der Empfänger hat SMS von uns abbestellt oder sein Anbieter blockiert sie."
        if code in _TWILIO_NUMBER:
            return (
                "Die Mobilnummer ist ungültig oder kann keine SMS empfangen. "
                "Bitte prüfen Sie die Nummer mit dem Kunden."
            )
        return "Der SMS-Dienst hat die Nachricht nicht angenommen; sie wird erneut versucht."
    if error.startswith(("SMTP-Fehler", "twilio nicht erreichbar", "twilio-Anfrage")):
        return "Der Versanddienst war nicht erreichbar; die Nachricht wird erneut versucht."
    return "Die Nachricht konnte nicht zugestellt werden."
