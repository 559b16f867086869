"""Administration: users, teams, bulk import, background jobs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from ...db import session as db_session
from ...jobs import get_queue
from ...models import Discipline, Job, JobStatus, Team, User, UserRole
from ...services import ServiceError
from ...services import jobs as job_rows
from ...services.imports import COLUMNS, import_people
from ...services.people import (
    assign_trainer,
    create_team,
    create_user,
    list_teams,
    list_users,
    set_active,
)
from ..access import found, require, roles
from ..auth.tokens import MAX_AGE_SECONDS, make_token
from .forms import ActionForm, ImportForm, TeamForm, TrainerTeamsForm, UserForm

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
admin_only = roles(UserRole.ADMIN)


def _team_choices() -> list[tuple[int, str]]:
    return [(0, "— no team —")] + [(t.id, t.name) for t in list_teams(db_session())]


@bp.route("/users", methods=["GET", "POST"])
@admin_only
def users() -> Any:
    db = db_session()
    form = UserForm()
    form.team.choices = _team_choices()
    error = None
    if form.validate_on_submit():
        try:
            user = create_user(db, name=form.name.data or "", email=form.email.data or "",
                               role=UserRole(form.role.data),
                               discipline=Discipline(form.discipline.data),
                               team=db.get(Team, form.team.data) if form.team.data else None)
        except ServiceError as exc:
            error = str(exc)
        else:
            flash(f"Created {user.name}. Give them a set-password link from their page.",
                  "success")
            return redirect(url_for("admin.user", user_id=user.id))
    return render_template("admin/users.html", users=list_users(db), form=form, error=error)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_only
def user(user_id: int) -> Any:
    db = db_session()
    person = found(db.get(User, user_id))
    teams_form = TrainerTeamsForm(prefix="teams")
    teams_form.teams.choices = [(t.id, t.name) for t in list_teams(db)]
    if person.role is UserRole.TRAINER and teams_form.validate_on_submit():
        teams = [t for i in teams_form.teams.data or [] if (t := db.get(Team, i)) is not None]
        assign_trainer(db, person, teams)
        flash("Teams saved.", "success")
        return redirect(url_for("admin.user", user_id=user_id))
    teams_form.teams.data = [t.id for t in person.trained_teams]
    return render_template("admin/user.html", person=person, teams_form=teams_form,
                           action=ActionForm(), link=None)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@admin_only
def toggle_active(user_id: int) -> Any:
    db = db_session()
    person = found(db.get(User, user_id))
    require(ActionForm().validate_on_submit())
    try:
        set_active(db, person, not person.active, acting=current_user)
    except ServiceError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{person.name} is now {'active' if person.active else 'deactivated'}.", "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<int:user_id>/link", methods=["POST"])
@admin_only
def password_link(user_id: int) -> Any:
    db = db_session()
    person = found(db.get(User, user_id))
    require(ActionForm().validate_on_submit())
    link = url_for("auth.set_password_with_link", token=make_token(person), _external=True)
    teams_form = TrainerTeamsForm(prefix="teams")
    teams_form.teams.choices = [(t.id, t.name) for t in list_teams(db)]
    teams_form.teams.data = [t.id for t in person.trained_teams]
    return render_template("admin/user.html", person=person, teams_form=teams_form,
                           action=ActionForm(), link=link, link_hours=MAX_AGE_SECONDS // 3600)


@bp.route("/teams", methods=["GET", "POST"])
@admin_only
def teams() -> Any:
    db = db_session()
    form = TeamForm()
    error = None
    if form.validate_on_submit():
        try:
            team = create_team(db, form.name.data or "")
        except ServiceError as exc:
            error = str(exc)
        else:
            flash(f"Created team {team.name}.", "success")
            return redirect(url_for("admin.teams"))
    return render_template("admin/teams.html", teams=list_teams(db), form=form, error=error)


@bp.route("/import", methods=["GET", "POST"], endpoint="import_people")
@admin_only
def import_people_page() -> Any:
    form = ImportForm()
    report, error = None, None
    if form.validate_on_submit():
        try:
            report = import_people(db_session(), form.file.data.read())
        except ServiceError as exc:
            error = str(exc)
    return render_template("admin/import.html", form=form, report=report, error=error,
                           columns=COLUMNS)



@bp.route("/jobs")
@admin_only
def jobs() -> Any:
    rows = db_session().scalars(select(Job).order_by(Job.id.desc()).limit(200))
    return render_template("admin/jobs.html", jobs=list(rows), action=ActionForm(),
                           backend=get_queue().backend)


@bp.route("/jobs/<int:job_id>/retry", methods=["POST"])
@admin_only
def retry_job(job_id: int) -> Any:
    db = db_session()
    job = found(db.get(Job, job_id))
    require(ActionForm().validate_on_submit())
    if job.status is not JobStatus.FAILED:
        flash("Only failed jobs can be retried.", "error")
    else:
        job_rows.retry(db, job)
        get_queue().enqueue(job.id)
        flash(f"Job {job.id} is queued again.", "success")
    return redirect(url_for("admin.jobs"))


from . import retention  # noqa: F401  (registers the retention routes on bp)
