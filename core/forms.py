"""Base form: CSRF from Flask-WTF, WTForms' built-in messages in German."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import InputRequired


class Form(FlaskForm):
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
