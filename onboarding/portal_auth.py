"""The portal's guard: pages of the customer portal need a logged-in customer (a staff login is
sent to the customer login) who agreed to the current Nutzungsbedingungen and Datenschutzhinweise
(else the consent page), and `portal_account()` is that customer, typed."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import redirect, url_for
from flask_login import current_user

from onboarding import consent
from onboarding.models import PortalAccount
from onboarding.settings import current as current_settings

F = TypeVar("F", bound=Callable[..., Any])


def customer_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated or not current_user.is_customer:
            return redirect(url_for("onboarding.login"))
        if not consent.is_current(current_user, current_settings()):  # issue #29: a new text asks again
            return redirect(url_for("onboarding.consent_page"))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def portal_account() -> PortalAccount:
    """The logged-in customer (only inside a view guarded by customer_required)."""
    account: PortalAccount = current_user._get_current_object()
    return account
