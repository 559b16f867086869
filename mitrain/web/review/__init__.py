"""Trainer review of coded recordings and agreement figures.

Thin controllers: every rule lives in ``services.review`` / ``services.agreement``.
Object checks on every route: a trainer reaches only recordings of their teams
(or assigned to them) and only their own review. Audio is served by
``practice.audio`` (access-checked there); the practitioner sees signed-off
feedback on ``practice.report`` through ``review/_feedback.html``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from ...db import session as db_session
from ...models import Recording, Review, User, UserRole
from ...services import ServiceError
from ...services import agreement as agreement_svc
from ...services import review as svc
from ..access import found, require, roles

bp = Blueprint("review", __name__, url_prefix="/review", template_folder="templates")
trainer_only = roles(UserRole.TRAINER)


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        flash(f"'{raw}' is not a date (use YYYY-MM-DD); that filter was ignored.", "error")
        return None


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    return int(raw) if raw.isdigit() else None


def _recording_for_trainer(recording_id: int) -> Recording:
    db = db_session()
    rec = found(db.get(Recording, recording_id))
    require(svc.can_review(db, current_user, rec))
    assert rec is not None
    return rec


def _own_review(review_id: int) -> Review:
    review = found(db_session().get(Review, review_id))
    require(review.trainer_id == current_user.id)
    assert review is not None
    return review


# ------------------------------------------------------------------ queue
@bp.route("/")
@trainer_only
def index() -> Any:
    status = request.args.get("status", "todo")
    if status not in (*svc.QUEUE_STATUSES, "todo", "all"):
        status = "todo"
    team_id, practitioner_id = _int_arg("team"), _int_arg("practitioner")
    filters = {"team": team_id, "practitioner": practitioner_id,
               "status": status, "from": request.args.get("from", ""),
               "to": request.args.get("to", "")}
    queue = svc.review_queue(db_session(), current_user, team_id=team_id,
                             practitioner_id=practitioner_id,
                             status=None if status == "all" else status,
                             date_from=_date_arg("from"), date_to=_date_arg("to"))
    return render_template("review/queue.html", queue=queue, filters=filters)


# ------------------------------------------------------------------ workspace
@bp.route("/recordings/<int:recording_id>")
@trainer_only
def workspace(recording_id: int) -> Any:
    db = db_session()
    rec = _recording_for_trainer(recording_id)
    review = svc.open_review(db, current_user, rec)
    rows = svc.utterance_rows(db, review)
    return render_template(
        "review/workspace.html", recording=rec, review=review, rows=rows,
        summary=svc.live_summary(db, review), estimates=svc.machine_globals(db, rec),
        globals=[(g, svc.GLOBAL_LABELS[g]) for g in svc.GLOBALS],
        code_keys=svc.CODE_KEYS, code_labels=svc.CODE_LABELS,
        low_confidence=svc.LOW_CONFIDENCE, missing=svc.missing_globals(review),
        structure_locked_by=svc.structure_locked_by(db, review),
        second_choices=svc.second_coder_choices(db, review) if not review.blind else [],
        others=[r for r in rec.reviews if r.id != review.id and not review.blind
                and not r.blind],
        blind_assigned=[r for r in rec.reviews if r.blind and r.id != review.id])


def _json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(Response(json.dumps({"ok": False, "error": "Send a JSON object."}), 400,
                       mimetype="application/json"))
    return data


def _version(data: dict[str, Any]) -> int | None:
    v = data.get("version")
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _error(exc: ServiceError) -> tuple[Response, int]:
    return jsonify(ok=False, error=str(exc)), 409 if isinstance(exc, svc.StaleError) else 400


OPS = ("code", "comment", "speaker", "text", "split", "merge")


@bp.route("/reviews/<int:review_id>/utterances/<int:utterance_id>/<any(" + ",".join(OPS)
          + "):op>", methods=["POST"])
@trainer_only
def change_utterance(review_id: int, utterance_id: int, op: str) -> Any:
    """Autosave endpoint: one change to one utterance; JSON in, JSON out."""
    db = db_session()
    review = _own_review(review_id)
    data = _json_body()
    version = _version(data)
    try:
        if op == "code":
            code = data.get("code")
            if code is not None and not isinstance(code, str):
                raise ServiceError("The code must be text, e.g. \"SR\".")
            change = svc.set_code(db, review, utterance_id, code or None, version)
        elif op == "comment":
            change = svc.set_comment(db, review, utterance_id, str(data.get("comment") or ""),
                                     version)
        elif op == "speaker":
            change = svc.set_speaker(db, review, utterance_id, str(data.get("speaker") or ""),
                                     version)
        elif op == "text":
            change = svc.edit_text(db, review, utterance_id, str(data.get("text") or ""), version)
        elif op == "split":
            at = data.get("at")
            if not isinstance(at, int) or isinstance(at, bool):
                raise ServiceError("Say where to split: a character position in the text.")
            change = svc.split_utterance(db, review, utterance_id, at, version)
        else:
            change = svc.merge_with_next(db, review, utterance_id, version)
    except ServiceError as exc:
        db.rollback()
        return _error(exc)
    return jsonify(change.to_dict())


@bp.route("/reviews/<int:review_id>/globals", methods=["POST"])
@trainer_only
def set_global(review_id: int) -> Any:
    db = db_session()
    review = _own_review(review_id)
    data = _json_body()
    value = data.get("value")
    try:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        ratings = svc.set_global(db, review, str(data.get("name") or ""),
                                 None if value in (None, "") else value)
    except ServiceError as exc:
        db.rollback()
        return _error(exc)
    return jsonify(ok=True, globals=ratings, missing=svc.missing_globals(review))


@bp.route("/reviews/<int:review_id>/note", methods=["POST"])
@trainer_only
def set_note(review_id: int) -> Any:
    db = db_session()
    review = _own_review(review_id)
    try:
        svc.set_note(db, review, str(_json_body().get("note") or ""))
    except ServiceError as exc:
        db.rollback()
        return _error(exc)
    return jsonify(ok=True)


@bp.route("/reviews/<int:review_id>/sign-off", methods=["POST"])
@trainer_only
def sign_off(review_id: int) -> Any:
    db = db_session()
    review = _own_review(review_id)
    try:
        svc.sign_off(db, review)
    except ServiceError as exc:
        db.rollback()
        flash(str(exc), "error")
    else:
        flash("Signed off." + ("" if review.blind else
                               " The practitioner can now see your codes and feedback."),
              "success")
    return redirect(url_for("review.workspace", recording_id=review.recording_id))


@bp.route("/reviews/<int:review_id>/reopen", methods=["POST"])
@trainer_only
def reopen(review_id: int) -> Any:
    db = db_session()
    review = _own_review(review_id)
    try:
        svc.reopen(db, review)
    except ServiceError as exc:
        flash(str(exc), "error")
    else:
        flash("Reopened as a draft: the practitioner no longer sees it until you sign off "
              "again.", "success")
    return redirect(url_for("review.workspace", recording_id=review.recording_id))


@bp.route("/reviews/<int:review_id>/assign", methods=["POST"])
@trainer_only
def assign(review_id: int) -> Any:
    db = db_session()
    review = _own_review(review_id)
    second = db.get(User, int(request.form.get("trainer", "0") or 0)) \
        if (request.form.get("trainer") or "").isdigit() else None
    if second is None:
        flash("Choose a trainer to assign.", "error")
    else:
        try:
            svc.assign_second(db, review, second)
        except ServiceError as exc:
            flash(str(exc), "error")
        else:
            flash(f"{second.name} will code this recording blind to your review.", "success")
    return redirect(url_for("review.workspace", recording_id=review.recording_id))


@bp.route("/recordings/<int:recording_id>/history")
@trainer_only
def history(recording_id: int) -> Any:
    db = db_session()
    rec = _recording_for_trainer(recording_id)
    review = svc.open_review(db, current_user, rec)
    return render_template("review/history.html", recording=rec, review=review,
                           events=svc.review_events(db, review))


@bp.route("/recordings/<int:recording_id>/coding.<any(csv,json):fmt>")
@trainer_only
def export(recording_id: int, fmt: str) -> Any:
    db = db_session()
    rec = _recording_for_trainer(recording_id)
    mine = next((r for r in rec.reviews if r.trainer_id == current_user.id), None)
    data = svc.coding_export(db, rec, mine)
    name = f"recording-{rec.id}-coding.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "json":
        return Response(json.dumps(data, indent=2, default=str), mimetype="application/json",
                        headers=headers)
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=svc.EXPORT_COLUMNS)
    w.writeheader()
    for row in data["utterances"]:
        w.writerow({**row, "recoded": "yes" if row["recoded"] else "no"})
    return Response(out.getvalue(), mimetype="text/csv", headers=headers)


# ------------------------------------------------------------------ agreement
def _agreement_filter() -> agreement_svc.AgreementFilter:
    return agreement_svc.AgreementFilter(trainer_id=_int_arg("trainer"), team_id=_int_arg("team"),
                                         date_from=_date_arg("from"), date_to=_date_arg("to"))


@bp.route("/agreement")
@roles(UserRole.TRAINER, UserRole.ADMIN)
def agreement() -> Any:
    db = db_session()
    f = _agreement_filter()
    report = agreement_svc.agreement_report(db, current_user, f)
    return render_template("review/agreement.html", report=report, f=f,
                           choices=agreement_svc.filter_choices(db, current_user),
                           scores=agreement_svc.SCORES)


@bp.route("/agreement.csv")
@roles(UserRole.TRAINER, UserRole.ADMIN)
def agreement_csv() -> Any:
    report = agreement_svc.agreement_report(db_session(), current_user, _agreement_filter())
    return Response(agreement_svc.agreement_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="agreement.csv"'})
