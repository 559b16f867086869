"""One-time set-password links (for imported people and password resets)."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ...db import session as db_session
from ...models import User

MAX_AGE_SECONDS = 72 * 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="set-password")


def _fingerprint(user: User) -> str:
    # The link stops working once the password changes: it is bound to the old hash.
    return (user.password_hash or "none")[-16:]


def make_token(user: User) -> str:
    return _serializer().dumps({"u": user.id, "f": _fingerprint(user)})


def user_for_token(token: str) -> tuple[User | None, str | None]:
    """The user a link is for, or None with the reason it cannot be used."""
    try:
        data = _serializer().loads(token, max_age=MAX_AGE_SECONDS)
    except SignatureExpired:
        return None, "This link has expired. Ask your administrator for a new one."
    except BadSignature:
        return None, "This link is not valid. Check it was copied whole."
    user = db_session().get(User, data.get("u"))
    if user is None or not user.active or data.get("f") != _fingerprint(user):
        return None, "This link has already been used or is no longer valid."
    return user, None
