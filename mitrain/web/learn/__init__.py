"""Course, quizzes, drills and the practitioner's progress."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from ...models import UserRole
from ..access import roles, signed_in
from ..placeholder import not_yet

bp = Blueprint("learn", __name__, url_prefix="/learn", template_folder="templates")


@bp.route("/")
@signed_in
def index() -> Any:
    return not_yet("Course", "The MI course")


@bp.route("/drills")
@roles(UserRole.PRACTITIONER)
def drills() -> Any:
    return not_yet("Drills", "Quick-response drills")


@bp.route("/progress")
@roles(UserRole.PRACTITIONER)
def progress() -> Any:
    return not_yet("My progress", "Your progress page")
