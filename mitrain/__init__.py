"""mitrain: Motivational Interviewing practice and MITI coding for family safeguarding teams."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from .config import load_settings, resolve_paths

__version__ = "0.1.0"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config defaults, then ``MITRAIN_*`` env, then ``config``."""
    settings = load_settings(config)
    instance = settings.pop("INSTANCE_PATH", None)
    app = Flask(__name__, instance_path=str(Path(instance).resolve()) if instance else None,
                instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    settings = resolve_paths(settings, Path(app.instance_path))
    app.config.update(settings)
    app.config.update(
        MAX_CONTENT_LENGTH=settings["MAX_UPLOAD_MB"] * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings["SECURE_COOKIES"]),
        SESSION_COOKIE_NAME="mitrain_session",
        REMEMBER_COOKIE_SECURE=bool(settings["SECURE_COOKIES"]),
        WTF_CSRF_TIME_LIMIT=None,  # the session's own timeout bounds the token
    )
    Path(app.config["RECORDINGS_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)

    from .db import Database
    Database(app.config["DATABASE_URL"]).init_app(app)

    from .jobs import JobQueue
    JobQueue(app)
    from .jobs import tasks  # noqa: F401  (registers the job handlers)
    from .web import init_web
    init_web(app)
    return app
