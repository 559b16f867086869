"""The start page of each role."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user

from ..access import signed_in

bp = Blueprint("home", __name__, template_folder="templates")


@bp.route("/")
@signed_in
def index() -> Any:
    return render_template("home/index.html", role=current_user.role)
