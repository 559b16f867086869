"""Workforce leads' view of skills across teams and disciplines."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ...models import UserRole
from ..access import roles
from ..placeholder import not_yet

bp = Blueprint("workforce", __name__, url_prefix="/workforce", template_folder="templates")


@bp.route("/")
@roles(UserRole.LEAD, UserRole.ADMIN)
def index() -> Any:
    return not_yet("Workforce skills", "The workforce dashboard")
