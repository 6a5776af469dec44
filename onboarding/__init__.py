"""Customer onboarding (issue #6 builds the e-mail, SMS and portal on top of the records here)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Nothing to register yet: policing writes OnboardingStart records that #6 will consume."""
