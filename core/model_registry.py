"""The modules that define tables. Alembic and the app import them all, so metadata is complete.

A feature package that adds tables adds its models module here.
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa

MODEL_MODULES = (
    "core.users",
    "core.audit",
    "core.sessions",
    "core.throttle",
    "core.jobs",
    "core.observability",
    "core.storage",
    "calculator.reference",
    "calculator.models",
    "messaging.models",
    "contracts.models",
    "onboarding.models",
    "agency.models",
    "api.models",
)


def metadata() -> sa.MetaData:
    for name in MODEL_MODULES:
        importlib.import_module(name)
    from core.db import Base

    return Base.metadata
