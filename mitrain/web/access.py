"""Access rules, enforced on the server for every route.

Each view declares who may use it with ``@roles(...)`` or ``@public``. A
``before_request`` hook checks the declaration for every request; a view
without one is refused (fail closed), and a test checks every route has one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

from ..models import UserRole

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
PUBLIC = frozenset({"*public*"})
ANY_USER = frozenset(UserRole)
STAFF = frozenset({UserRole.TRAINER, UserRole.LEAD, UserRole.ADMIN})


def roles(*allowed: UserRole) -> Callable[[F], F]:
    """Allow only signed-in users with one of these roles."""
    def mark(view: F) -> F:
        view._mitrain_access = frozenset(allowed)  # type: ignore[attr-defined]
        return view
    return mark


def signed_in(view: F) -> F:
    """Allow any signed-in user."""
    view._mitrain_access = ANY_USER  # type: ignore[attr-defined]
    return view


def public(view: F) -> F:
    """Allow anyone, signed in or not."""
    view._mitrain_access = PUBLIC  # type: ignore[attr-defined]
    return view


def access_rule(endpoint: str) -> frozenset[Any] | None:
    """The declared rule of an endpoint (None: undeclared)."""
    if endpoint == "static":
        return PUBLIC
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "_mitrain_access", None)


def enforce_access() -> Any:
    """before_request: apply the route's rule."""
    if request.endpoint is None:  # 404/405 are handled by Flask
        return None
    rule = access_rule(request.endpoint)
    if rule is None:
        current_app.logger.error("route %s has no access rule; refused", request.endpoint)
        abort(403)
    if rule is PUBLIC:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if current_user.role not in rule:
        abort(403)
    return None


def found(obj: T | None) -> T:
    """``obj``, or the same refusal as :func:`require` when it is None: a missing id
    and a forbidden one look alike, so ids reveal nothing."""
    if obj is None:
        abort(403)
    return obj


def require(condition: bool) -> None:
    """Object-level check inside a view: refuse unless ``condition`` holds."""
    if not condition:
        abort(403)
