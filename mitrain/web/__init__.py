"""The web layer: blueprints, login, CSRF, error pages, templates."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from ..db import session as db_session
from ..models import User, UserRole
from .access import enforce_access
from .uploads import INTERRUPTED, body_cut_short

csrf = CSRFProtect()
login_manager = LoginManager()

NAVIGATION: dict[UserRole, list[tuple[str, str]]] = {
    UserRole.PRACTITIONER: [("home.index", "Home"), ("learn.index", "Learn"),
                            ("learn.drills", "Drills"), ("practice.index", "Practice"),
                            ("learn.progress", "My progress")],
    UserRole.TRAINER: [("home.index", "Home"), ("review.index", "Review queue"),
                       ("review.agreement", "Agreement"), ("learn.index", "Course")],
    UserRole.LEAD: [("home.index", "Home"), ("workforce.index", "Workforce skills"),
                    ("learn.index", "Course")],
    UserRole.ADMIN: [("home.index", "Home"), ("admin.users", "Users"), ("admin.teams", "Teams"),
                     ("admin.import_people", "Import"), ("admin.jobs", "Jobs"),
                     ("admin.retention", "Retention"), ("coder_admin.index", "Coder"),
                     ("workforce.index", "Workforce skills")],
}


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    user = db_session().get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


def _inactivity_timeout() -> Any:
    """Log out after the configured minutes without a request (server-enforced)."""
    if not current_user.is_authenticated:
        return None
    from flask import current_app
    now = time.time()
    limit = current_app.config["SESSION_TIMEOUT_MINUTES"] * 60
    seen = session.get("seen")
    if seen is not None and now - float(seen) > limit:
        logout_user()
        session.clear()
        flash("You were signed out after a period of inactivity. Please sign in again.", "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    session["seen"] = now
    return None


def _error_page(code: int, title: str, message: str) -> tuple[str, int]:
    if request.accept_mimetypes.best == "application/json" or request.path.endswith(".json"):
        from flask import jsonify
        return jsonify(error=title, message=message), code  # type: ignore[return-value]
    return render_template("error.html", code=code, title=title, message=message), code


def init_web(app: Flask) -> None:
    """Register extensions, hooks, error pages and blueprints."""
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.session_protection = "strong"

    app.before_request(_inactivity_timeout)
    app.before_request(enforce_access)

    @app.after_request
    def _security_headers(resp: Any) -> Any:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
            "style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'")
        if current_user.is_authenticated:
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.context_processor
    def _navigation() -> dict[str, Any]:
        nav = NAVIGATION.get(current_user.role, []) if current_user.is_authenticated else []
        return {"navigation": nav, "UserRole": UserRole}

    @app.errorhandler(CSRFError)
    def _csrf_error(_e: CSRFError) -> Any:
        # A cut-off upload loses its CSRF field with the rest of the body: say what happened.
        if body_cut_short():
            return _error_page(400, "Upload interrupted", INTERRUPTED)
        return _error_page(400, "This form could not be accepted",
                           "The page was open too long or the form did not come from this "
                           "site. Go back, reload the page and try again.")

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Any:
        messages = {
            403: ("No access", "You do not have access to this page. If you think you should, "
                               "ask your administrator."),
            404: ("Not found", "There is nothing at this address."),
            405: ("Not allowed", "That action is not available here."),
            413: ("File too large", f"The upload is larger than the limit of "
                                    f"{app.config['MAX_UPLOAD_MB']} MB. Nothing was saved."),
        }
        title, message = messages.get(e.code or 500, (e.name, e.description or ""))
        return _error_page(e.code or 500, title, message)

    from .admin import bp as admin_bp
    from .auth import bp as auth_bp
    from .coder_admin import bp as coder_admin_bp
    from .home import bp as home_bp
    from .jobs import bp as jobs_bp
    from .learn import bp as learn_bp
    from .practice import bp as practice_bp
    from .review import bp as review_bp
    from .workforce import bp as workforce_bp
    for bp in (auth_bp, home_bp, admin_bp, jobs_bp, learn_bp, practice_bp, review_bp,
               workforce_bp, coder_admin_bp):
        app.register_blueprint(bp)
