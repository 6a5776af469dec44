from __future__ import annotations

from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from core.forms import ChangePasswordForm, Form, NewPasswordFields, NewPasswordForm

__all__ = ["ChangePasswordForm", "NewPasswordForm"]


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
