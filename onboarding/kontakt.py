"""The customer's side of "Kontakt" (issue #29 item 8; the messages themselves: contracts.contact).
How often he may write: per customer a day's free messages, then a growing wait — counted under a row
lock (core.throttle), so exact under parallel posts; per client address Flask-Limiter
(CONTACT_LIMIT_PER_ADDRESS) in front of it. An answer reaches him like a new document: the day's
"Neue Dokumente" e-mail (`on_contact_answered`)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy.orm as so

from contracts import contact
from contracts.claims import Upload, UploadLimits
from contracts.models import ContactMessage, Contract, Delivery
from core import throttle
from onboarding.invitations import announce_new_documents
from onboarding.models import PortalAccount
from onboarding.settings import OnboardingSettings
from onboarding.settings import current as current_settings

BASE_SECONDS = 60
MAX_SECONDS = 3600


def claim(session: so.Session, customer: PortalAccount, settings: OnboardingSettings) -> int:
    """0: he may write (counted); else the seconds to wait. The caller commits."""
    policy = throttle.Policy(settings.contact_free_per_day, BASE_SECONDS, MAX_SECONDS, timedelta(hours=24))
    return throttle.claim(session, {f"contact:{customer.id}": policy})


def wait_message(seconds: int) -> str:
    return (
        "Sie haben heute schon viele Nachrichten geschrieben. Bitte warten Sie "
        f"{throttle.minutes(seconds)}, bevor Sie die nächste senden."
    )


def send(
    session: so.Session,
    customer: PortalAccount,
    contract: Contract,
    subject: str,
    text: str,
    upload: Upload | None,
    settings: OnboardingSettings,
    limits: UploadLimits,
) -> int:
    """His message (ContactError for bad input: nothing stored); 0, or the seconds to wait (the day's
    messages used up: nothing stored). The caller commits (also the count when he must wait)."""
    wait = claim(session, customer, settings)
    if wait:
        return wait
    contact.write(session, contract, subject, text, upload, author=customer.full_name, limits=limits)
    return 0


def on_contact_answered(message: ContactMessage, *, session: so.Session, contract: Contract) -> None:
    """An answer in the portal: the day's "Neue Dokumente" e-mail (no content in it), as for a new
    document — if the customer is in the portal."""
    customer = session.get(PortalAccount, contract.customer_account_id) if contract.customer_account_id else None
    if customer is not None and customer.activated_at is not None and contract.delivery is Delivery.PORTAL:
        announce_new_documents(session, customer, contract, current_settings())
