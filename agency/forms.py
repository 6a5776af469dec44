"""The agency's forms: the switch of one contract to the customer portal."""

from __future__ import annotations

from core.forms import Form, email_field, mobile_field


class PortalSwitchForm(Form):
    """Vertragsdaten ändern → "Auf Kunden-Portal umstellen": the customer's e-mail address and
    German mobile number, each checked at its field (core.forms)."""

    email = email_field(
        "E-Mail des Kunden", required="Bitte geben Sie die E-Mail-Adresse des Kunden ein.", autocomplete="off"
    )
    mobile = mobile_field(
        "Mobilnummer des Kunden", required="Bitte geben Sie die Mobilnummer des Kunden ein.", autocomplete="off"
    )

    def field_errors(self) -> dict[str, str]:
        return {name: self[name].errors[0] for name in ("email", "mobile") if self[name].errors}
