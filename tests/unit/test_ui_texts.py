"""German texts for what the user sees: a failed message explained (issue #26 item 5), numbers kept
on one line (item 1), counts in the singular or plural (item 19)."""

import pytest

from messaging.failures import explain


@pytest.mark.parametrize(
    ("error", "meaning"),
    [
        (None, ""),
        ("Empfänger abgelehnt: SMTP 550 5.1.1 <a@b.de>: Recipient address rejected", "vom Empfänger abgelehnt"),
        ("SMTP 552: b'5.2.2 Mailbox full'", "Postfach des Empfängers ist voll"),
        ("Empfänger abgelehnt: SMTP 450 4.2.0 greylisted", "vorübergehend abgewiesen"),
        ("twilio 400/21614: 'To' number is not a valid mobile number", "Mobilnummer ist ungültig"),
        ("twilio 400/21610: Attempt to send to unsubscribed recipient", "abbestellt"),
        ("twilio 429/20429: Too Many Requests", "SMS-Dienst hat die Nachricht nicht angenommen"),
        ("SMTP-Fehler: TimeoutError: timed out", "nicht erreichbar"),
        ("twilio nicht erreichbar: ConnectError", "nicht erreichbar"),
        ("Anlage fehlt: policy.pdf", "Dokument dieser Nachricht fehlt"),
        ("something nobody foresaw", "konnte nicht zugestellt werden"),
    ],
)
def test_a_delivery_error_is_explained_in_german(error, meaning):
    assert meaning in explain(error)
    assert "Recipient" not in explain(error)


def test_numbers_with_hyphens_are_kept_on_one_line_and_the_rest_is_escaped():
    """Issue #26 item 1: a Vertragsnummer or Schadennummer never ends a line at one of its hyphens."""
    from core.formatting import numbers_together

    shown = str(numbers_together("Schadenmeldung SN-2026-0000001 zu VR-2026-0000005-5 <b>"))
    assert shown == (
        'Schadenmeldung <span class="nowrap">SN-2026-0000001</span> zu '
        '<span class="nowrap">VR-2026-0000005-5</span> &lt;b&gt;'
    )
    assert str(numbers_together("Müller-Lüdenscheidt")) == "Müller-Lüdenscheidt"  # a name is no number


@pytest.mark.parametrize(
    ("n", "shown"), [(0, "0 Verträge"), (1, "1 Vertrag"), (2, "2 Verträge"), (1234, "1.234 Verträge")]
)
def test_counts_say_one_or_many_in_german(n, shown):
    """Issue #26 item 19: "Bestand: 1 Verträge", "Antrag/Anträge", "Dokument(e)" are gone."""
    from core.formatting import count

    assert count(n, "Vertrag", "Verträge") == shown
