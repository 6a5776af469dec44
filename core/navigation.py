"""Main navigation per role; each feature blueprint registers its own entries."""

from __future__ import annotations

from collections.abc import Sequence
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


def _within(path: str, section: str) -> bool:
    return path == section or path.startswith(section.rstrip("/") + "/")


def current_marks(path: str, endpoint: str | None, items: Sequence[tuple[str, str, tuple[str, ...]]]) -> list[str]:
    """aria-current for each (endpoint, url, further sections) of a navigation: "page" on the item's
    own page, "true" on a page within its section — the item whose URL (or further section) is the
    longest prefix of the path, so /agentur/kennzahlen marks Kennzahlen, not the start page /agentur/."""
    best, best_length = -1, 0
    for index, (_, url, sections) in enumerate(items):
        for section in (url, *sections):
            if _within(path, section) and len(section) > best_length:
                best, best_length = index, len(section)
    marks = ["page" if endpoint == own else "" for own, _, _ in items]
    if best >= 0 and not any(marks):
        marks[best] = "true"
    return marks


def items_for(app: Flask, user: User) -> list[dict[str, object]]:
    entries = sorted((i for i in app.extensions.get("navigation", []) if user.role in i.roles), key=lambda i: i.order)
    urls = [(i.endpoint, url_for(i.endpoint), ()) for i in entries]
    marks = current_marks(request.path, request.endpoint, urls)
    return [
        {"label": item.label, "url": url, "current": mark}
        for item, (_, url, _), mark in zip(entries, urls, marks, strict=True)
    ]


def register_customer(app: Flask, label: str, endpoint: str, sections: tuple[str, ...] = ()) -> None:
    """Add an entry to the customer portal's navigation; `sections`: further URL prefixes whose pages
    belong to it (e.g. the security pages to "Meine Daten")."""
    app.extensions.setdefault("customer_navigation", []).append((endpoint, label, sections))


def customer_items(app: Flask) -> list[dict[str, object]]:
    entries: list[tuple[str, str, tuple[str, ...]]] = app.extensions.get("customer_navigation", [])
    urls = [(endpoint, url_for(endpoint), sections) for endpoint, _, sections in entries]
    marks = current_marks(request.path, request.endpoint, urls)
    return [
        {"endpoint": endpoint, "label": label, "url": url, "current": mark}
        for (endpoint, label, _), (_, url, _), mark in zip(entries, urls, marks, strict=True)
    ]


def init_app(app: Flask) -> None:
    @app.context_processor
    def navigation() -> dict[str, object]:
        user = current_user._get_current_object() if current_user else None
        if isinstance(user, User):
            return {"nav_items": items_for(app, user)}
        if user is not None and getattr(user, "is_customer", False):
            return {"nav_items": customer_items(app)}
        return {"nav_items": []}
