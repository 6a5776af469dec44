from __future__ import annotations

from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from core.forms import Form

RULE_TEXT = (
    "Mindestens 8 Zeichen mit mindestens einem Großbuchstaben, einer Zahl und einem Sonderzeichen (z. B. $, %, &)."
)


class AccessFields:
    """E-mail address and access code (declared first: fields keep their declaration order)."""

    email = EmailField(
        "E-Mail-Adresse",
        validators=[InputRequired("Bitte geben Sie Ihre E-Mail-Adresse ein."), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )
    zugangscode = StringField(
        "Zugangs-Code",
        validators=[InputRequired("Bitte geben Sie den Zugangs-Code ein."), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false"},
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


class ActivationForm(AccessFields, NewPasswordFields, Form):
    pass


class CustomerLoginForm(Form):
    kennung = StringField(
        "E-Mail-Adresse oder Vertragsnummer",
        validators=[InputRequired("Bitte geben Sie Ihre E-Mail-Adresse oder Vertragsnummer ein."), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )
    passwort = PasswordField(
        "Passwort",
        validators=[InputRequired("Bitte geben Sie Ihr Passwort ein."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )


class ForgotForm(Form):
    kennung = StringField(
        "E-Mail-Adresse oder Vertragsnummer",
        validators=[InputRequired("Bitte geben Sie Ihre E-Mail-Adresse oder Vertragsnummer ein."), Length(max=254)],
    )


class NewPasswordForm(NewPasswordFields, Form):
    pass


class ChangePasswordForm(NewPasswordForm):
    aktuelles_passwort = PasswordField(
        "Aktuelles Passwort",
        validators=[InputRequired("Bitte geben Sie Ihr aktuelles Passwort ein.")],
        render_kw={"autocomplete": "current-password"},
    )
