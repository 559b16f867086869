"""Trainer review of coded recordings and agreement figures."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ...models import UserRole
from ..access import roles
from ..placeholder import not_yet

bp = Blueprint("review", __name__, url_prefix="/review", template_folder="templates")


@bp.route("/")
@roles(UserRole.TRAINER)
def index() -> Any:
    return not_yet("Review queue", "The review queue")


@bp.route("/agreement")
@roles(UserRole.TRAINER, UserRole.ADMIN)
def agreement() -> Any:
    return not_yet("Agreement", "Coder and trainer agreement figures")
