"""Administration of the MITI coder: versions, metrics, retraining, rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ...db import session as db_session
from ...jobs import get_queue
from ...models import CoderTraining, Job, UserRole
from ...services import ServiceError
from ...services.retraining import model_versions, request_retrain, rollback, training_runs
from ..access import found, roles

bp = Blueprint("coder_admin", __name__, url_prefix="/admin/coder", template_folder="templates")
admin_only = roles(UserRole.ADMIN)


def _model_dir() -> Path:
    return Path(current_app.config["MODEL_DIR"])


@bp.route("/")
@admin_only
def index() -> Any:
    db = db_session()
    error = None
    try:
        versions = model_versions(db, _model_dir())
    except Exception as exc:  # noqa: BLE001 - a broken model dir must not take the page down
        versions, error = [], f"Cannot read the model directory: {exc}"
    runs = training_runs(db)
    active = None
    job_id = request.args.get("job", "")
    if job_id.isdigit():
        job = db.get(Job, int(job_id))
        active = job.id if job is not None and job.kind == "coder.retrain" else None
    return render_template("coder_admin/index.html", versions=versions, runs=runs, error=error,
                           active_job=active, model_dir=_model_dir(),
                           annomi=current_app.config.get("ANNOMI_CSV"))


@bp.route("/retrain", methods=["POST"])
@admin_only
def retrain() -> Any:
    db = db_session()
    run = request_retrain(db, current_user)
    job_id = get_queue().submit("coder.retrain", run.id, owner_id=current_user.id)
    flash("Retraining is queued. It takes a few minutes; the report appears below when done.",
          "success")
    return redirect(url_for("coder_admin.index", job=job_id))


@bp.route("/runs/<int:run_id>")
@admin_only
def run(run_id: int) -> Any:
    training = found(db_session().get(CoderTraining, run_id))
    return render_template("coder_admin/run.html", run=training)


@bp.route("/current", methods=["POST"])
@admin_only
def make_current() -> Any:
    version = request.form.get("version", "")
    try:
        rollback(db_session(), _model_dir(), version, current_user)
    except ServiceError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Coder {version} is now current. New recordings will be coded with it; "
              "recordings already coded keep the version that coded them.", "success")
    return redirect(url_for("coder_admin.index"))
