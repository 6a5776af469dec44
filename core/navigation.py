"""Main navigation per role; each feature blueprint registers its own entries."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, request, url_for
from flask_login import current_user

from core.users import Role, User


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    roles: frozenset[Role]
    order: int = 100


def register(app: Flask, label: str, endpoint: str, roles: tuple[Role, ...], order: int = 100) -> None:
    """Add an entry to the main navigation for the given roles."""
    app.extensions.setdefault("navigation", []).append(NavItem(label, endpoint, frozenset(roles), order))


def items_for(app: Flask, user: User) -> list[dict[str, object]]:
    entries = sorted((i for i in app.extensions.get("navigation", []) if user.role in i.roles), key=lambda i: i.order)
    return [{"label": i.label, "url": url_for(i.endpoint), "current": request.endpoint == i.endpoint} for i in entries]


def init_app(app: Flask) -> None:
    @app.context_processor
    def navigation() -> dict[str, object]:
        user = current_user._get_current_object() if current_user else None
        if isinstance(user, User):
            return {"nav_items": items_for(app, user)}
        return {"nav_items": []}
