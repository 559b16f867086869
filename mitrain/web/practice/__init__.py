"""Role-play practice: record or upload, follow the coding job, read the coded report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.exceptions import ClientDisconnected

from ...db import session as db_session
from ...jobs import get_queue
from ...models import Recording, RecordingStatus, Scenario, UserRole
from ...services import ServiceError
from ...services import jobs as job_rows
from ...services import recordings as rec_service
from ...services.feedback import suggestions
from ..access import found, require, roles, signed_in
from ..uploads import INTERRUPTED, body_cut_short

bp = Blueprint("practice", __name__, url_prefix="/practice", template_folder="templates")

# Colour class and plain name of every code, for the legend and transcript.
CODE_NAMES = {
    "Q_OPEN": "Open question", "Q_CLOSED": "Closed question", "SR": "Simple reflection",
    "CR": "Complex reflection", "AF": "Affirm", "SEEK": "Seeking collaboration",
    "EMPHASIZE": "Emphasising autonomy", "GI": "Giving information", "PWP":
    "Persuading with permission", "PERSUADE": "Persuading", "CONFRONT": "Confronting",
    "NONE": "No code", "CHANGE": "Change talk", "SUSTAIN": "Sustain talk", "NEUTRAL": "Neutral",
}
SCORE_LABELS = {"rq_ratio": "Reflections to questions", "pct_complex_reflections":
                "% complex reflections", "pct_open_questions": "% open questions",
                "technical": "Technical global (estimate)",
                "relational": "Relational global (estimate)"}


class ActionForm(FlaskForm):
    """A button-only form (CSRF token only)."""


def _recording(recording_id: int) -> Recording:
    recording = found(db_session().get(Recording, recording_id))
    require(rec_service.can_view(current_user, recording))
    assert recording is not None
    return recording


def _recordings_dir() -> Path:
    return Path(current_app.config["RECORDINGS_DIR"])


@bp.route("/")
@roles(UserRole.PRACTITIONER)
def index() -> Any:
    db = db_session()
    scenarios = db.scalars(select(Scenario).where(Scenario.active).order_by(Scenario.title))
    return render_template("practice/index.html", recordings=rec_service.recordings_of(db, current_user),
                           scenarios=list(scenarios))


@bp.route("/scenarios/<slug>")
@signed_in
def scenario(slug: str) -> Any:
    card = found(db_session().scalar(select(Scenario).where(Scenario.slug == slug, Scenario.active)))
    return render_template("practice/scenario.html", scenario=card)


@bp.route("/record", methods=["GET", "POST"])
@roles(UserRole.PRACTITIONER)
def record() -> Any:
    db = db_session()
    scenario_slug = request.values.get("scenario", "")
    card = db.scalar(select(Scenario).where(Scenario.slug == scenario_slug)) if scenario_slug else None
    form = ActionForm()
    wants_json = request.accept_mimetypes.best == "application/json"
    if request.method == "POST":
        error = None
        try:
            form_ok = form.validate_on_submit()
            upload = request.files.get("audio")
        except ClientDisconnected:
            form_ok, upload = False, None
            error = INTERRUPTED
        if error is None and body_cut_short():
            error = INTERRUPTED
        if error is None and not form_ok:
            error = "The form could not be accepted. Reload the page and try again."
        elif error is None and (upload is None or not upload.filename and not upload.mimetype):
            error = "Choose a recording to upload, or record one first."
        recording = None
        if error is None:
            assert upload is not None
            try:
                recording = rec_service.store_upload(
                    db, owner=current_user, stream=upload.stream, filename=upload.filename or "",
                    content_type=upload.mimetype or "", consent=request.form.get("consent") == "yes",
                    title=request.form.get("title", ""), recordings_dir=_recordings_dir(),
                    max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
                    scenario_id=card.id if card else None)
            except ServiceError as exc:
                error = str(exc)
            except ClientDisconnected:
                error = INTERRUPTED
        if error is not None:
            if wants_json:
                return jsonify(error=error), 400
            return render_template("practice/record.html", scenario=card, form=form,
                                   error=error), 400
        assert recording is not None
        job_id = _queue_coding(recording)
        target = url_for("practice.report", recording_id=recording.id)
        if wants_json:
            return jsonify(recording_id=recording.id, job_id=job_id, url=target), 201
        return redirect(target)
    return render_template("practice/record.html", scenario=card, form=form, error=None)


@bp.route("/recordings/<int:recording_id>")
@signed_in
def report(recording_id: int) -> Any:
    db = db_session()
    recording = _recording(recording_id)
    job = rec_service.latest_job(db, recording)
    summary = recording.summary
    return render_template(
        "practice/report.html", recording=recording, job=job,
        active=rec_service.job_is_active(job), summary=summary,
        notice=rec_service.failure_notice(recording, job),
        can_retry=_can_retry(recording),
        tips=suggestions(summary) if summary else [], code_names=CODE_NAMES,
        score_labels=SCORE_LABELS, action=ActionForm(),
        can_swap=rec_service.can_change_roles(current_user, recording),
        feedback=_published_feedback(recording))


def _published_feedback(recording: Recording) -> Any:
    # The review feature supplies signed-off trainer feedback when it is installed.
    try:
        from ...services.review import published_feedback
    except ImportError:
        return None
    return published_feedback(db_session(), recording)


@bp.route("/recordings/<int:recording_id>/audio")
@signed_in
def audio(recording_id: int) -> Any:
    recording = _recording(recording_id)
    path = found(rec_service.audio_path(recording, _recordings_dir()))
    assert path is not None
    resp = send_file(path, mimetype=recording.content_type or None, conditional=True,
                     download_name=f"recording-{recording.id}{path.suffix}")
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.route("/recordings/<int:recording_id>/swap-roles", methods=["POST"])
@signed_in
def swap_roles(recording_id: int) -> Any:
    recording = _recording(recording_id)
    require(rec_service.can_change_roles(current_user, recording) and ActionForm().validate_on_submit())
    try:
        rec_service.swap_roles(db_session(), recording, Path(current_app.config["MODEL_DIR"]))
    except ServiceError as exc:
        flash(str(exc), "error")
    else:
        flash("Practitioner and client swapped; the recording has been re-coded.", "success")
    return redirect(url_for("practice.report", recording_id=recording_id))


def _queue_coding(recording: Recording) -> int:
    """Create the coding job, point the recording at it, then let workers see it."""
    db, queue = db_session(), get_queue()
    job = job_rows.create_job(db, rec_service.JOB_KIND, recording.id,
                              owner_id=recording.owner_id, max_attempts=queue.max_attempts)
    # Before enqueueing: a fast failure must not be overwritten by "processing".
    rec_service.mark_queued(db, recording, job.id)
    queue.enqueue(job.id)
    return job.id


def _can_retry(recording: Recording) -> bool:
    return recording.owner_id == current_user.id or current_user.role is UserRole.ADMIN


@bp.route("/recordings/<int:recording_id>/retry", methods=["POST"])
@signed_in
def retry(recording_id: int) -> Any:
    db = db_session()
    recording = _recording(recording_id)
    require(_can_retry(recording) and ActionForm().validate_on_submit())
    job = rec_service.latest_job(db, recording)
    if rec_service.job_is_active(job) or recording.status is RecordingStatus.CODED:
        flash("This recording does not need another try.", "info")
        return redirect(url_for("practice.report", recording_id=recording_id))
    if recording.audio_file is None:  # deleted under the retention policy: nothing to code
        flash("The audio of this recording has been deleted, so it cannot be coded again. "
              "Record or upload the role-play again if you need a report.", "error")
        return redirect(url_for("practice.report", recording_id=recording_id))
    if job is None:  # the job row is gone (e.g. cleaned up): start a fresh one
        _queue_coding(recording)
    else:
        # The recording first, then the job: a worker may finish before this request does.
        rec_service.mark_queued(db, recording, job.id)
        job_rows.retry(db, job)
        get_queue().enqueue(job.id)
    flash("Trying again: the recording is back in the queue.", "success")
    return redirect(url_for("practice.report", recording_id=recording_id))


@bp.route("/recordings/<int:recording_id>/delete", methods=["POST"])
@signed_in
def delete(recording_id: int) -> Any:
    recording = _recording(recording_id)
    require(recording.owner_id == current_user.id and ActionForm().validate_on_submit())
    rec_service.delete_recording(db_session(), recording, _recordings_dir())
    flash("The recording, its transcript and its audio have been deleted.", "success")
    return redirect(url_for("practice.index"))
