"""Role-play recordings and their coded feedback reports."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ...models import UserRole
from ..access import roles
from ..placeholder import not_yet

bp = Blueprint("practice", __name__, url_prefix="/practice", template_folder="templates")


@bp.route("/")
@roles(UserRole.PRACTITIONER)
def index() -> Any:
    return not_yet("Practice", "Role-play recording and coded feedback")
