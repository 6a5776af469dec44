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


class NewPasswordFields:
    passwort = PasswordField(
        "Passwort",
        description=RULE_TEXT,
        validators=[InputRequired("Bitte vergeben Sie ein Passwort.")],
        render_kw={"autocomplete": "new-password"},
    )
    passwort2 = PasswordField(
        "Passwort wiederholen",
        validators=[InputRequired("Bitte wiederholen Sie das Passwort.")],
        render_kw={"autocomplete": "new-password"},
    )


class NewPasswordForm(NewPasswordFields, Form):
    pass


class ChangePasswordForm(NewPasswordForm):
    aktuelles_passwort = PasswordField(
        "Aktuelles Passwort",
        validators=[InputRequired("Bitte geben Sie Ihr aktuelles Passwort ein.")],
        render_kw={"autocomplete": "current-password"},
    )
    # beside the current one, the new password says so
    passwort = PasswordField(
        "Neues Passwort",
        description=RULE_TEXT,
        validators=[InputRequired("Bitte vergeben Sie ein neues Passwort.")],
        render_kw={"autocomplete": "new-password"},
    )
    passwort2 = PasswordField(
        "Neues Passwort wiederholen",
        validators=[InputRequired("Bitte wiederholen Sie das neue Passwort.")],
        render_kw={"autocomplete": "new-password"},
    )
