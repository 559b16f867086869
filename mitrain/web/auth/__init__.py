"""Sign in, sign out, set and change passwords."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from ...db import session as db_session
from ...services import ServiceError
from ...services.auth import LoginError, authenticate
from ...services.passwords import verify_password
from ...services.people import set_password
from ..access import public, signed_in
from .forms import ChangePasswordForm, LoginForm, SetPasswordForm
from .tokens import user_for_token

bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: never redirect to another host after login.
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = authenticate(
                db_session(), form.email.data or "", form.password.data or "",
                request.remote_addr or "unknown",
                max_failures=current_app.config["LOGIN_MAX_FAILURES"],
                lockout_minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"])
        except LoginError as exc:
            error = str(exc)
        else:
            next_url = _safe_next(request.args.get("next"))
            session.clear()  # a fresh session at sign-in: no fixation
            login_user(user)
            session["seen"] = time.time()
            return redirect(next_url or url_for("home.index"))
    elif request.method == "POST":
        error = "Enter your email and password."
    return render_template("auth/login.html", form=form, error=error), 401 if error else 200


@bp.route("/logout", methods=["POST"])
@public
def logout() -> Any:
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/set-password/<token>", methods=["GET", "POST"])
@public
def set_password_with_link(token: str) -> Any:
    user, problem = user_for_token(token)
    if user is None:
        return render_template("error.html", code=400, title="Link cannot be used",
                               message=problem), 400
    form = SetPasswordForm()
    error = None
    if form.validate_on_submit():
        try:
            set_password(db_session(), user, form.password.data or "")
        except ServiceError as exc:
            error = str(exc)
        else:
            flash("Your password is saved. You can sign in now.", "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/set_password.html", form=form, error=error, user=user)


@bp.route("/account", methods=["GET", "POST"])
@signed_in
def account() -> Any:
    form = ChangePasswordForm()
    error = None
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current.data or ""):
            error = "Your current password is not right."
        else:
            try:
                set_password(db_session(), current_user, form.password.data or "")
            except ServiceError as exc:
                error = str(exc)
            else:
                flash("Your password has been changed.", "success")
                return redirect(url_for("auth.account"))
    return render_template("auth/account.html", form=form, error=error)
