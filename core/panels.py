"""Panels on the staff start pages, contributed by the feature packages (staff renders the pages but
knows none of the packages above it): each registers a template, the roles it is for and a function
that reads its data for the logged-in user."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy.orm as so
from flask import Flask

from core.users import Role, User

PanelData = Callable[[so.Session, User], dict[str, Any]]


@dataclass(frozen=True)
class Panel:
    template: str
    roles: frozenset[Role]
    data: PanelData
    order: int = 100


def register(app: Flask, template: str, roles: tuple[Role, ...], data: PanelData, order: int = 100) -> None:
    app.extensions.setdefault("start_panels", []).append(Panel(template, frozenset(roles), data, order))


def for_user(app: Flask, session: so.Session, user: User) -> list[tuple[str, dict[str, Any]]]:
    """(template, data) of every panel for the user's role, in order."""
    panels = sorted((p for p in app.extensions.get("start_panels", []) if user.role in p.roles), key=lambda p: p.order)
    return [(p.template, p.data(session, user)) for p in panels]
