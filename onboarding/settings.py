"""Onboarding's settings, read once from the app's configuration at start-up (SPEC §4 numbers as
defaults, core.config) and passed into the services as an argument: the services run the same way
from a request, the worker, the CLI and a test, with no app context needed for their numbers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from core.crypto import SecretBox, derived_key
from core.passwords import PasswordRule
from core.throttle import LoginLimits


@dataclass(frozen=True)
class OnboardingSettings:
    secret_key: str  # keys the HMAC of access codes
    link_days: int = 30
    code_length: int = 6
    code_minutes: int = 10
    code_max_attempts: int = 5
    resend_seconds: int = 60
    max_sends_per_day: int = 5
    letter_code_length: int = 12
    letter_code_days: int = 30
    letter_code_max_attempts: int = 5
    reset_hours: int = 24
    new_documents_delay_minutes: int = 15
    new_documents_morning_hour: int = 7
    contact_link_hours: int = 24
    totp_issuer: str = "Kunden-Portal"
    totp_free_attempts: int = 5
    totp_delay_seconds: int = 2
    totp_max_delay_seconds: int = 900
    totp_window_hours: int = 24
    totp_login_minutes: int = 5
    recovery_codes: int = 10
    registration_hours: int = 48
    registration_free_per_contract: int = 3
    registration_free_per_email: int = 3
    registration_resend_minutes: int = 15
    registration_letters_per_30_days: int = 3
    contact_free_per_day: int = 10
    terms_version: str = "2026-12-01"
    privacy_version: str = "2026-12-01"
    password: PasswordRule = field(default_factory=PasswordRule)
    login: LoginLimits = field(default_factory=LoginLimits)
    # secrets at rest (the TOTP secrets): SECRETS_KEYS; without it one key derived from secret_key
    secret_box: SecretBox | None = None

    @property
    def box(self) -> SecretBox:
        return self.secret_box or SecretBox([derived_key(self.secret_key)])

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OnboardingSettings:
        return cls(
            secret_key=config["SECRET_KEY"],
            link_days=config["ACCESS_LINK_DAYS"],
            code_length=config["ACCESS_CODE_LENGTH"],
            code_minutes=config["ACCESS_CODE_MINUTES"],
            code_max_attempts=config["ACCESS_CODE_MAX_ATTEMPTS"],
            resend_seconds=config["ACCESS_CODE_RESEND_SECONDS"],
            max_sends_per_day=config["ACCESS_CODE_MAX_SENDS_PER_DAY"],
            letter_code_length=config["LETTER_CODE_LENGTH"],
            letter_code_days=config["LETTER_CODE_DAYS"],
            letter_code_max_attempts=config["LETTER_CODE_MAX_ATTEMPTS"],
            reset_hours=config["PASSWORD_RESET_HOURS"],
            new_documents_delay_minutes=config["NEW_DOCUMENTS_DELAY_MINUTES"],
            new_documents_morning_hour=config["NEW_DOCUMENTS_MORNING_HOUR"],
            contact_link_hours=config["CONTACT_CHANGE_LINK_HOURS"],
            totp_issuer=config["TOTP_ISSUER"],
            totp_free_attempts=config["TOTP_FREE_ATTEMPTS"],
            totp_delay_seconds=config["LOGIN_DELAY_SECONDS"],
            totp_max_delay_seconds=config["TOTP_MAX_DELAY_SECONDS"],
            totp_window_hours=config["LOGIN_FAILURE_WINDOW_HOURS"],
            totp_login_minutes=config["TOTP_LOGIN_MINUTES"],
            recovery_codes=config["TOTP_RECOVERY_CODES"],
            registration_hours=config["REGISTRATION_CONFIRM_HOURS"],
            registration_free_per_contract=config["REGISTRATION_FREE_PER_CONTRACT"],
            registration_free_per_email=config["REGISTRATION_FREE_PER_EMAIL"],
            registration_resend_minutes=config["REGISTRATION_RESEND_MINUTES"],
            registration_letters_per_30_days=config["REGISTRATION_LETTERS_PER_30_DAYS"],
            contact_free_per_day=config["CONTACT_FREE_PER_DAY"],
            terms_version=config["PORTAL_TERMS_VERSION"],
            privacy_version=config["PORTAL_PRIVACY_VERSION"],
            password=PasswordRule(config["PASSWORD_MIN_LENGTH"], config["PASSWORD_MAX_LENGTH"]),
            login=LoginLimits.from_config(config),
            secret_box=SecretBox.from_config(config),
        )

    def max_attempts(self, letter: bool) -> int:
        return self.letter_code_max_attempts if letter else self.code_max_attempts


def current() -> OnboardingSettings:
    """The app's settings, for the edges that have an app (views, signal receivers, worker tasks)."""
    settings: OnboardingSettings = current_app.extensions["onboarding_settings"]
    return settings
