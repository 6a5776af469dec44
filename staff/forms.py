from __future__ import annotations

from wtforms import EmailField, PasswordField
from wtforms.validators import InputRequired, Length

from core.forms import Form


class LoginForm(Form):
    email = EmailField(
        "E-Mail-Adresse",
        validators=[InputRequired("Bitte geben Sie Ihre E-Mail-Adresse ein."), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false"},
    )
    password = PasswordField(
        "Passwort",
        validators=[InputRequired("Bitte geben Sie Ihr Passwort ein."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
