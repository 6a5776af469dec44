"""Consent to the portal's Nutzungsbedingungen and Datenschutzhinweise (issue #29 item 7): given at the
self-registration or the activation, asked again after a new version of either text; the portal is
usable only with the current ones (onboarding.portal_auth.customer_required)."""

from __future__ import annotations

import sqlalchemy.orm as so

from core import clock
from onboarding.models import PortalAccount, PortalConsent
from onboarding.settings import OnboardingSettings


def is_current(customer: PortalAccount, settings: OnboardingSettings) -> bool:
    """Has he agreed to the texts as they are now? (no query: the versions are on his account)"""
    return customer.terms_version == settings.terms_version and customer.privacy_version == settings.privacy_version


def record(
    session: so.Session,
    customer: PortalAccount,
    source: str,
    *,
    terms_version: str,
    privacy_version: str,
) -> None:
    """Keep the consent (with the texts' versions and the time) and note it on the account."""
    session.add(
        PortalConsent(
            customer_id=customer.id,
            terms_version=terms_version,
            privacy_version=privacy_version,
            given_at=clock.now(),
            source=source,
        )
    )
    customer.terms_version, customer.privacy_version = terms_version, privacy_version


def record_current(session: so.Session, customer: PortalAccount, source: str, settings: OnboardingSettings) -> None:
    record(session, customer, source, terms_version=settings.terms_version, privacy_version=settings.privacy_version)
