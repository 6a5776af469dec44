"""Base form: CSRF from Flask-WTF, WTForms' built-in messages in German."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Protocol

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from core.contact import ContactError, EmailAddress, german_mobile, normalize_email

# every date a user types lies in these years (issue #25 item 6: 01.01.0001 or 31.12.9999 overflowed
# the dashboard's date arithmetic); outside them: this message at the field
DATE_YEARS = range(1900, 2101)
DATE_RANGE_MESSAGE = "Bitte ein Datum zwischen dem 01.01.1900 und dem 31.12.2100 eingeben."


def in_date_range(day: date) -> bool:
    return day.year in DATE_YEARS


# C0 control characters and DEL; TAB, LF and CR stay (a text area's lines)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_MESSAGE = "Bitte ohne Steuerzeichen eingeben (sie kommen z. B. aus kopierten Dateien)."


def has_control_characters(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


SELECTED_ID_MAX_LENGTH = 64  # a public id is 22 characters; a number fewer


def selected_ids(form: Any, name: str) -> list[str]:
    """The ids ticked in a list (checkboxes named `name`): only values an id can be — a value with
    NUL or another control character, or longer than any id, names nothing and is left out (it reached
    PostgreSQL as a DataError, a 500: issue #25 item 8, found by the fuzz test)."""
    return [v for v in form.getlist(name) if v and len(v) <= SELECTED_ID_MAX_LENGTH and not has_control_characters(v)]


class ControlCharacterGuard:
    """Every form refuses NUL and the other C0 control characters in one place (issue #25 item 4):
    they are taken out of the field's data at once — so nothing reaches the database even where a
    view reads a field without validating the whole form (PostgreSQL refuses NUL) — and the field
    gets the German message when the form is validated."""

    _controlled: list[str]

    def process(self, *args: Any, **kwargs: Any) -> None:
        super().process(*args, **kwargs)  # type: ignore[misc]
        self._controlled = []
        for field in self:  # type: ignore[attr-defined]
            if isinstance(field.data, str) and has_control_characters(field.data):
                field.data = CONTROL_CHARACTERS.sub("", field.data)
                self._controlled.append(field.name)

    def validate(self, extra_validators: Any = None) -> bool:
        valid: bool = super().validate(extra_validators)  # type: ignore[misc]
        for name in self._controlled:
            field = self[name]  # type: ignore[index]
            field.errors = [*field.errors, CONTROL_MESSAGE]
        return valid and not self._controlled


class Form(ControlCharacterGuard, FlaskForm):
    class Meta:
        locales = ("de_DE", "de")


RULE_TEXT = (
    "Mindestens 8 Zeichen mit mindestens einem Großbuchstaben, einer Zahl und einem Sonderzeichen (z. B. $, %, &)."
)


def new_password_fields(
    label: str = "Passwort",
    missing: str = "Bitte vergeben Sie ein Passwort.",
    not_repeated: str = "Bitte wiederholen Sie das Passwort.",
) -> tuple[PasswordField, PasswordField]:
    """The new password and its repetition (browsers offer to generate and save it)."""
    return (
        PasswordField(
            label,
            description=RULE_TEXT,
            validators=[InputRequired(missing)],
            render_kw={"autocomplete": "new-password"},
        ),
        PasswordField(
            f"{label} wiederholen",
            validators=[InputRequired(not_repeated)],
            render_kw={"autocomplete": "new-password"},
        ),
    )


class NewPasswordFields:
    passwort, passwort2 = new_password_fields()


class NewPasswordForm(NewPasswordFields, Form):
    pass


class ChangePasswordForm(NewPasswordForm):
    aktuelles_passwort = PasswordField(
        "Aktuelles Passwort",
        validators=[InputRequired("Bitte geben Sie Ihr aktuelles Passwort ein.")],
        render_kw={"autocomplete": "current-password"},
    )
    # beside the current one, the new password says so
    passwort, passwort2 = new_password_fields(
        "Neues Passwort", "Bitte vergeben Sie ein neues Passwort.", "Bitte wiederholen Sie das neue Passwort."
    )


# --- contact fields: one e-mail and one mobile field with their German messages (core.contact) ---------


def strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class ContactEmailField(EmailField):
    """An e-mail address checked by core.contact.normalize_email when the form is validated (its
    German message at the field); `normalized` holds the checked, lower-cased address."""

    normalized: EmailAddress | None = None

    def post_validate(self, form: Any, validation_stopped: bool) -> None:
        self.normalized = None
        if validation_stopped or self.errors or not self.data:
            return
        try:
            self.normalized = normalize_email(self.data)
        except ContactError as error:
            self.errors.append(str(error))


class GermanMobileField(StringField):
    """A German mobile number checked by core.contact.german_mobile when the form is validated;
    `e164` holds it as +49…"""

    e164: str | None = None

    def post_validate(self, form: Any, validation_stopped: bool) -> None:
        self.e164 = None
        if validation_stopped or self.errors or not self.data:
            return
        try:
            self.e164 = german_mobile(self.data)
        except ContactError as error:
            self.errors.append(str(error))


def email_field(
    label: str, *, required: str | None = None, description: str | None = None, autocomplete: str = "email"
) -> ContactEmailField:
    """required: the message when it is left empty (None: optional, or required by the form's own
    conditions). autocomplete="off" where the address is somebody else's (the broker types his
    customer's)."""
    validators: list[Any] = [InputRequired(required)] if required else []
    return ContactEmailField(
        label,
        description=description or "",
        filters=[strip],
        validators=[*validators, Length(max=254)],
        render_kw={"autocomplete": autocomplete, "spellcheck": "false", "autocapitalize": "none"},
    )


def mobile_field(
    label: str, *, required: str | None = None, description: str | None = None, autocomplete: str = "tel"
) -> GermanMobileField:
    validators: list[Any] = [InputRequired(required)] if required else []
    return GermanMobileField(
        label,
        description=description or "",
        filters=[strip],
        validators=[*validators, Length(max=30)],
        render_kw={"inputmode": "tel", "autocomplete": autocomplete, "type": "tel"},
    )


class FieldError(Protocol):
    """A service's German error for one form field (field None: for the whole form)."""

    message: str
    field: str | None


def show_error(form: Any, error: FieldError) -> None:
    """Put a service's error where the user looks: at its field, or above the form."""
    if error.field and error.field in form:
        form[error.field].errors = [*form[error.field].errors, error.message]
    else:
        form.form_errors.append(error.message)
