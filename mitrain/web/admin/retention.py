"""Admin: the audio-retention policy, what it has deleted and will delete, and a run-now button."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, flash, redirect, render_template, url_for

from ...db import session as db_session
from ...models import utcnow
from ...services import ServiceError
from ...services import retention as service
from ..access import require
from . import admin_only, bp
from .forms import ActionForm


def _recordings_dir() -> Path:
    return Path(current_app.config["RECORDINGS_DIR"])


@bp.route("/retention")
@admin_only
def retention() -> Any:
    db = db_session()
    try:
        policy = service.Policy.from_config(current_app.config)
    except ServiceError as exc:
        return render_template("admin/retention.html", error=str(exc), policy=None,
                               action=ActionForm())
    return render_template(
        "admin/retention.html", error=None, policy=policy, counts=service.counts(db),
        upcoming=service.upcoming(db, policy), recent=service.recently_deleted(db),
        orphans=len(service.orphan_files(db, _recordings_dir(), utcnow())),
        reasons=service.REASON_TEXT, daily_at=service.DAILY_AT_UTC, now=utcnow(),
        action=ActionForm())


@bp.route("/retention/run", methods=["POST"])
@admin_only
def run_retention() -> Any:
    require(ActionForm().validate_on_submit())
    try:
        policy = service.Policy.from_config(current_app.config)
        result = service.sweep(db_session(), _recordings_dir(), policy)
    except ServiceError as exc:
        flash(str(exc), "error")
    else:
        flash(result.summary(), "success" if not result.failed else "warning")
    return redirect(url_for("admin.retention"))
