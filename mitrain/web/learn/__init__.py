"""Course, quizzes, drills, the skills check and the practitioner's progress.

Thin views: the rules live in ``services.learning`` and ``services.drills``.
Practitioners learn and practise; trainers, leads and admins may read the
course in preview (nothing locked, nothing recorded).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import markdown as md
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.exceptions import ClientDisconnected
from werkzeug.routing import BuildError

from ...content import DISCIPLINES
from ...db import session as db_session
from ...models import Course, Discipline, Drill, Lesson, Module, QuizAttempt, SkillsCheck, UserRole
from ...services import ServiceError, learning, speech
from ...services import drills as drill_service
from ..access import found, require, roles, signed_in
from ..uploads import INTERRUPTED, body_cut_short
from .charts import line_chart
from .forms import ActionForm, CheckAnswerForm, DrillAnswerForm, SpokenAnswerForm

bp = Blueprint("learn", __name__, url_prefix="/learn", template_folder="templates")
practitioner = roles(UserRole.PRACTITIONER)


# ------------------------------------------------------------------- helpers

@lru_cache(maxsize=512)
def render_markdown(text: str) -> Markup:
    """Lesson Markdown -> HTML. Lessons are trusted project files (``courses/``),
    never user input; anything a user types is escaped by Jinja instead."""
    return Markup(md.markdown(text, extensions=["extra", "sane_lists", "smarty"],
                              output_format="html"))


def discipline_label(value: str) -> str:
    try:
        return Discipline(value).label
    except ValueError:
        return value.replace("_", " ").capitalize()


@bp.app_template_filter("learn_pct")
def _pct(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


@bp.app_template_filter("learn_discipline")
def _discipline(value: str) -> str:
    return discipline_label(value)


@bp.app_template_filter("learn_date")
def _ukdate(value: Any) -> str:
    return "" if value is None else f"{value.day} {value:%B %Y}"


def _is_practitioner() -> bool:
    return bool(current_user.role is UserRole.PRACTITIONER)


def _sequential() -> bool:
    return bool(current_app.config.get("SEQUENTIAL_MODULES", True))


def _course() -> Course:
    course = learning.current_course(db_session())
    if course is None:
        abort(404)
    return course


def _progress(course: Course) -> learning.CourseProgress:
    user = current_user if _is_practitioner() else None
    return learning.course_progress(db_session(), user, course, sequential=_sequential())


def _module_state(slug: str) -> tuple[learning.CourseProgress, learning.ModuleState]:
    progress = _progress(_course())
    state = progress.module(slug)
    if state is None:  # unknown or retired module
        abort(404)
    return progress, state


def _locked_redirect(state: learning.ModuleState) -> Any:
    names = ", ".join(f"\u201c{m.title}\u201d" for m in state.waiting_for)
    flash(f"This module opens when you have passed the quiz for {names}.", "info")
    return redirect(url_for("learn.module", slug=state.module.slug))


def _recording_url(recording_id: int) -> str | None:
    try:
        return url_for("practice.report", recording_id=recording_id)
    except BuildError:
        return None


# -------------------------------------------------------------------- course

@bp.route("/")
@signed_in
def index() -> Any:
    db = db_session()
    course = learning.current_course(db)
    if course is None:
        return render_template("learn/index.html", course=None, progress=None, check=None)
    progress = _progress(course)
    check = drill_service.skills_check_summary(db, current_user) if _is_practitioner() else None
    return render_template("learn/index.html", course=course, progress=progress, check=check)


@bp.route("/modules/<slug>")
@signed_in
def module(slug: str) -> Any:
    progress, state = _module_state(slug)
    attempts: list[QuizAttempt] = []
    if _is_practitioner():
        attempts = list(db_session().scalars(
            select(QuizAttempt).where(QuizAttempt.user_id == current_user.id,
                                      QuizAttempt.module_id == state.module.id)
            .order_by(QuizAttempt.created_at.desc(), QuizAttempt.id.desc())))
    return render_template("learn/module.html", progress=progress, state=state,
                           attempts=attempts, quiz_count=len(state.module.quiz or []))


def _lesson_in(state: learning.ModuleState, lesson_slug: str) -> tuple[int, Lesson]:
    for i, ls in enumerate(state.lessons):
        if ls.lesson.slug == lesson_slug:
            return i, ls.lesson
    abort(404)


@bp.route("/modules/<slug>/lessons/<lesson_slug>")
@signed_in
def lesson(slug: str, lesson_slug: str) -> Any:
    progress, state = _module_state(slug)
    if state.locked:
        return _locked_redirect(state)
    i, this = _lesson_in(state, lesson_slug)
    body = this.body_markdown or ""
    return render_template(
        "learn/lesson.html", progress=progress, state=state, lesson=this, number=i + 1,
        done=state.lessons[i].done, body=render_markdown(body),
        has_h1=body.lstrip().startswith("# "),
        previous=state.lessons[i - 1].lesson if i > 0 else None,
        next=state.lessons[i + 1].lesson if i + 1 < len(state.lessons) else None,
        form=ActionForm())


@bp.route("/modules/<slug>/lessons/<lesson_slug>/done", methods=["POST"])
@practitioner
def lesson_done(slug: str, lesson_slug: str) -> Any:
    _, state = _module_state(slug)
    if state.locked:
        return _locked_redirect(state)
    i, this = _lesson_in(state, lesson_slug)
    require(ActionForm().validate_on_submit())
    learning.mark_lesson_done(db_session(), current_user, this)
    flash(f"\u201c{this.title}\u201d marked as done.", "success")
    if i + 1 < len(state.lessons):
        nxt = state.lessons[i + 1].lesson
        return redirect(url_for("learn.lesson", slug=slug, lesson_slug=nxt.slug))
    return redirect(url_for("learn.module", slug=slug) + "#quiz")


def _parse_answers(module: Module) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for item in learning.quiz_content(module).items:
        values = []
        for raw in request.form.getlist(f"q-{item.id}"):
            try:
                values.append(int(raw))
            except ValueError:
                values.append(-1)  # reported as "not one of its options"
        out[item.id] = values
    return out


@bp.route("/modules/<slug>/quiz", methods=["GET", "POST"])
@practitioner
def quiz(slug: str) -> Any:
    _, state = _module_state(slug)
    if state.locked:
        return _locked_redirect(state)
    module = state.module
    quiz = learning.quiz_content(module)
    if not quiz.items:
        abort(404)
    chosen: dict[str, list[int]] = {}
    problems: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        require(ActionForm().validate_on_submit())
        chosen = _parse_answers(module)
        try:
            attempt, _ = learning.submit_quiz(db_session(), current_user, module, chosen)
        except ServiceError:
            problems = learning.quiz_problems(quiz, chosen)
            status = 400
        else:
            return redirect(url_for("learn.quiz_result", slug=slug, attempt_id=attempt.id))
    return render_template("learn/quiz.html", state=state, quiz=quiz, chosen=chosen,
                           problems=problems, form=ActionForm()), status


@bp.route("/modules/<slug>/quiz/attempts/<int:attempt_id>")
@practitioner
def quiz_result(slug: str, attempt_id: int) -> Any:
    progress, state = _module_state(slug)
    attempt = found(db_session().get(QuizAttempt, attempt_id))
    require(attempt.user_id == current_user.id
            and attempt.module_id == state.module.id)
    assert attempt is not None
    items = learning.review_attempt(state.module, attempt)
    return render_template("learn/quiz_result.html", progress=progress, state=state,
                           attempt=attempt, items=items,
                           correct=sum(1 for i in items if i.correct),
                           next_module=progress.next_module())


@bp.route("/certificate")
@practitioner
def certificate() -> Any:
    db = db_session()
    course = learning.current_course(db)
    cert = progress = None
    if course is not None:
        cert = learning.certificate(db, current_user, course, sequential=_sequential())
        progress = _progress(course)
    return render_template("learn/certificate.html", course=course, cert=cert,
                           progress=progress)


# -------------------------------------------------------------------- drills

@bp.route("/drills")
@practitioner
def drills() -> Any:
    db = db_session()
    skill = request.args.get("skill") or None
    discipline = request.args.get("discipline") or None
    if skill not in drill_service.SKILL_LABELS:
        skill = None
    if discipline not in DISCIPLINES:
        discipline = None
    items = drill_service.list_drills(db, skill=skill, discipline=discipline)
    return render_template("learn/drills.html", drills=items, skill=skill,
                           discipline=discipline, skills=drill_service.SKILL_LABELS,
                           disciplines=DISCIPLINES,
                           accuracy=drill_service.drill_accuracy(db, current_user))


def _drill(slug: str) -> Drill:
    drill = db_session().scalar(select(Drill).where(Drill.slug == slug, Drill.active.is_(True)))
    if drill is None:
        abort(404)
    return drill


def _next_drill(drill: Drill) -> Drill | None:
    same = drill_service.list_drills(db_session(), skill=drill.skill)
    later = [d for d in same if d.id > drill.id]
    return later[0] if later else (same[0] if same and same[0].id != drill.id else None)


def _drill_page(item: Drill, *, form: DrillAnswerForm | None = None, feedback: Any = None,
                error: str | None = None, spoken_error: str | None = None,
                status: int = 200) -> Any:
    return render_template(
        "learn/drill.html", drill=item, form=form or DrillAnswerForm(formdata=None),
        spoken_form=SpokenAnswerForm(formdata=None), feedback=feedback, error=error,
        spoken_error=spoken_error,
        skill_label=drill_service.SKILL_LABELS.get(item.skill, item.skill),
        how=drill_service.SKILL_HOW.get(item.skill, ""),
        max_chars=drill_service.MAX_ANSWER_CHARS,
        max_clip_seconds=int(speech.MAX_CLIP_SECONDS), next_drill=_next_drill(item)), status


@bp.route("/drills/<slug>", methods=["GET", "POST"])
@practitioner
def drill(slug: str) -> Any:
    item = _drill(slug)
    form = DrillAnswerForm()
    feedback = error = None
    status = 200
    if form.validate_on_submit():
        try:
            _, feedback = drill_service.answer_drill(db_session(), current_user, item,
                                                     form.response.data or "")
        except ServiceError as exc:
            error, status = str(exc), 400
    elif request.method == "POST":
        error, status = "The form could not be read; please try again.", 400
    return _drill_page(item, form=form, feedback=feedback, error=error, status=status)


@bp.route("/drills/<slug>/spoken", methods=["POST"])
@practitioner
def drill_spoken(slug: str) -> Any:
    """A spoken answer: transcribed and coded in this request (see services.speech)."""
    item = _drill(slug)
    # The body is parsed by the CSRF check under the app-wide upload limit (an
    # anonymous, self-deleting temporary file past 500 kB); the clip's own, much
    # smaller limit is enforced while services.speech copies it.
    if body_cut_short():
        return _drill_page(item, status=400, spoken_error=INTERRUPTED)
    try:
        form = SpokenAnswerForm()
        if not form.validate_on_submit():
            raise ServiceError("The form could not be accepted. Reload the page and try again.")
        upload = request.files.get("audio")
        if upload is None or not upload.filename:  # an empty file input sends no name
            raise ServiceError("Record your answer first (or choose a short audio file), "
                               "then press \u201cCheck my spoken answer\u201d.")
        _, feedback = speech.answer_spoken(db_session(), current_user, item, upload.stream,
                                           filename=upload.filename or "",
                                           content_type=upload.mimetype or "")
    except ServiceError as exc:
        return _drill_page(item, spoken_error=str(exc), status=400)
    except ClientDisconnected:
        return _drill_page(item, status=400, spoken_error=INTERRUPTED)
    return _drill_page(item, feedback=feedback)


# -------------------------------------------------------------- skills check

@bp.route("/skills-check")
@practitioner
def skills_check() -> Any:
    summary = drill_service.skills_check_summary(db_session(), current_user)
    return render_template("learn/skills_check.html", summary=summary, form=ActionForm())


@bp.route("/skills-check/<phase>/start", methods=["POST"])
@practitioner
def skills_check_start(phase: str) -> Any:
    require(ActionForm().validate_on_submit())
    if phase not in drill_service.PHASES:
        abort(404)
    try:
        sitting = drill_service.start_skills_check(db_session(), current_user, phase)
    except ServiceError as exc:
        flash(str(exc), "error")
        return redirect(url_for("learn.skills_check"))
    return redirect(url_for("learn.skills_check_item", check_id=sitting.id))


def _sitting(check_id: int) -> SkillsCheck:
    sitting = found(db_session().get(SkillsCheck, check_id))
    require(sitting.user_id == current_user.id)
    assert sitting is not None
    return sitting


@bp.route("/skills-check/<int:check_id>", methods=["GET", "POST"])
@practitioner
def skills_check_item(check_id: int) -> Any:
    db = db_session()
    sitting = _sitting(check_id)
    if sitting.completed_at is not None:
        return redirect(url_for("learn.skills_check_result", check_id=sitting.id))
    form = CheckAnswerForm()
    error = None
    status = 200
    if form.validate_on_submit():
        target = db.scalar(select(Drill).where(Drill.slug == (form.drill.data or "")))
        try:
            if target is None:
                raise ServiceError("That item is not part of the skills check.")
            drill_service.answer_check_item(db, current_user, sitting, target,
                                            form.response.data or "")
        except ServiceError as exc:
            error, status = str(exc), 400
        else:
            if sitting.completed_at is not None:
                return redirect(url_for("learn.skills_check_result", check_id=sitting.id))
            return redirect(url_for("learn.skills_check_item", check_id=sitting.id))
    item = drill_service.next_check_item(db, sitting)
    if item is None:  # items retired mid-sitting: nothing left to answer
        return redirect(url_for("learn.skills_check"))
    if status == 200:
        form.response.data = ""
    form.drill.data = item.drill.slug
    total = len(drill_service.check_items(db))
    return render_template("learn/skills_check_item.html", sitting=sitting, item=item,
                           total=total, form=form, error=error,
                           skill_label=drill_service.SKILL_LABELS.get(item.drill.skill, ""),
                           max_chars=drill_service.MAX_ANSWER_CHARS), status


@bp.route("/skills-check/<int:check_id>/result")
@practitioner
def skills_check_result(check_id: int) -> Any:
    db = db_session()
    sitting = _sitting(check_id)
    if sitting.completed_at is None:
        return redirect(url_for("learn.skills_check_item", check_id=sitting.id))
    return render_template("learn/skills_check_result.html",
                           result=drill_service.check_result(db, sitting),
                           summary=drill_service.skills_check_summary(db, current_user),
                           skills=drill_service.SKILL_LABELS, codes=drill_service.CODE_LABELS)


# ------------------------------------------------------------------ progress

@bp.route("/progress")
@practitioner
def progress() -> Any:
    db = db_session()
    course = learning.current_course(db)
    course_progress = _progress(course) if course is not None else None
    history = learning.miti_history(db, current_user)
    charts = []
    for key, (label, fair, good, unit) in learning.MITI_MEASURES.items():
        series = [(p.at.strftime("%d %b"), p.values.get(key)) for p in history]
        if not any(v is not None for _, v in series):
            continue
        y_max = 5.0 if key in ("relational", "technical") else (100.0 if unit == "%" else None)
        y_min = 1.0 if key in ("relational", "technical") else 0.0
        charts.append({"key": key, "label": label, "fair": fair, "good": good, "unit": unit,
                       "series": series,
                       "chart": line_chart(series, fair=fair, good=good, y_min=y_min,
                                           y_max=y_max)})
    review = learning.latest_feedback(db, current_user)
    return render_template(
        "learn/progress.html", course=course, progress=course_progress,
        accuracy=drill_service.drill_accuracy(db, current_user),
        check=drill_service.skills_check_summary(db, current_user),
        history=history, charts=charts, review=review,
        review_url=_recording_url(review.recording_id) if review else None,
        recording_url=_recording_url)
