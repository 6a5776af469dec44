"""Staff's settings, read once from the app's configuration at start-up (core.config defaults) and
passed into the staff use cases as arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from core.passwords import PasswordRule
from core.throttle import LoginLimits


@dataclass(frozen=True)
class StaffSettings:
    login: LoginLimits = field(default_factory=LoginLimits)
    password: PasswordRule = field(default_factory=PasswordRule)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StaffSettings:
        return cls(
            login=LoginLimits.from_config(config),
            password=PasswordRule(config["PASSWORD_MIN_LENGTH"], config["PASSWORD_MAX_LENGTH"]),
        )


def current() -> StaffSettings:
    """The app's settings, for the edges (views, CLI commands)."""
    settings: StaffSettings = current_app.extensions["staff_settings"]
    return settings
