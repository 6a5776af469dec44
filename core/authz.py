"""The one authorization helper every view uses: role checks and object scope.

Scope rule (SPEC §1): a broker sees his own objects, an agency manager his agency's, the back office
all. An object is scoped by two columns, named by the class attributes ``__scope_agency__`` (default
``agency_id``) and ``__scope_owner__`` (default ``owner_id``: the broker who owns it).
Foreign objects answer 404, so ids of other agencies' objects cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import abort, current_app
from flask_login import current_user

from core.users import Role, User

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M")


def _scope_columns(model: type[Any]) -> tuple[str, str]:
    return getattr(model, "__scope_agency__", "agency_id"), getattr(model, "__scope_owner__", "owner_id")


def can_see(user: User, obj: Any) -> bool:
    """May this staff user see (and act on) this object?"""
    if not user.is_active:
        return False
    agency_col, owner_col = _scope_columns(type(obj))
    if user.role is Role.BACKOFFICE:
        return True
    if user.role is Role.MANAGER:
        return user.agency_id is not None and getattr(obj, agency_col) == user.agency_id
    if user.role is Role.BROKER:
        return (
            user.agency_id is not None
            and getattr(obj, agency_col) == user.agency_id
            and getattr(obj, owner_col) == user.id
        )
    return False


def scoped(stmt: sa.Select[Any], model: type[Any], user: User) -> sa.Select[Any]:
    """Restrict a SELECT over ``model`` to the rows the user may see."""
    agency_col, owner_col = _scope_columns(model)
    if user.role is Role.BACKOFFICE:
        return stmt
    if user.role is Role.MANAGER:
        return stmt.where(getattr(model, agency_col) == user.agency_id)
    if user.role is Role.BROKER:
        return stmt.where(getattr(model, agency_col) == user.agency_id, getattr(model, owner_col) == user.id)
    return stmt.where(sa.false())


def get_visible_or_404(session: so.Session, model: type[M], user: User, **criteria: Any) -> M:
    """Load one object by its criteria (e.g. public_id=...) within the user's scope, else 404."""
    stmt = scoped(sa.select(model).filter_by(**criteria), model, user)
    obj = session.scalar(stmt)
    if obj is None:
        abort(404)
    return obj


def staff_user() -> User:
    """The logged-in staff user of this request (behind roles_required: never a customer)."""
    user = current_user._get_current_object()
    assert isinstance(user, User), "staff_user() behind roles_required only"
    return user


def roles_required(*roles: Role) -> Callable[[F], F]:
    """View decorator: the logged-in staff user must have one of the roles (else 403)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if not isinstance(current_user._get_current_object(), User) or current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


# Who may use which area: a manager does everything a broker does, for his agency (SPEC §1).
BROKER_AREA = (Role.BROKER, Role.MANAGER)
MANAGER_AREA = (Role.MANAGER,)
BACKOFFICE_AREA = (Role.BACKOFFICE,)
