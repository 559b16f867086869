import re
import time

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mitrain.models import LoginAttempt, UserRole
from mitrain.services.auth import BAD_CREDENTIALS

from ..factories import make_user


def test_login_success_redirects_home_and_shows_role_navigation(client, auth, db) -> None:
    user = make_user(db, UserRole.TRAINER)
    resp = auth.login(user)
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Review queue" in page and user.name in page
    db.refresh(user)
    assert user.last_login_at is not None


def test_wrong_password_and_unknown_user_get_the_same_clear_message(client, auth, db) -> None:
    user = make_user(db)
    wrong = auth.login(user, "not the password")
    unknown = client.post("/auth/login", data={"email": "nobody@example.org", "password": "x"})
    for resp in (wrong, unknown):
        assert resp.status_code == 401
        assert BAD_CREDENTIALS in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still signed out


def test_inactive_user_cannot_sign_in(client, auth, db) -> None:
    user = make_user(db, active=False)
    resp = auth.login(user)
    assert resp.status_code == 401
    assert "deactivated" in resp.get_data(as_text=True)


def test_deactivated_user_is_signed_out_at_next_request(client, auth, db) -> None:
    user = make_user(db)
    auth.login(user)
    assert client.get("/").status_code == 200
    user.active = False
    db.commit()
    assert client.get("/").status_code == 302


def test_session_is_regenerated_at_login(client, auth, db) -> None:
    user = make_user(db)
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    auth.login(user)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["_user_id"] == str(user.id)


def test_logout_ends_the_session(client, auth, db) -> None:
    auth.login(make_user(db))
    resp = auth.logout()
    assert resp.status_code == 302
    assert client.get("/").status_code == 302
    with client.session_transaction() as sess:
        assert "_user_id" not in sess


def test_inactivity_timeout_signs_out(client, auth, db, app: Flask) -> None:
    auth.login(make_user(db))
    with client.session_transaction() as sess:
        sess["seen"] = time.time() - app.config["SESSION_TIMEOUT_MINUTES"] * 60 - 5
    resp = client.get("/")
    assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "inactivity" in page


def test_login_is_throttled_after_repeated_failures(client, auth, db, app: Flask) -> None:
    user = make_user(db)
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert auth.login(user, "wrong").status_code == 401
    assert db.scalar(select(func.count()).select_from(LoginAttempt)) == limit
    blocked = auth.login(user)  # even the right password is held back
    assert blocked.status_code == 401
    assert "Too many failed attempts" in blocked.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_successful_login_clears_earlier_failures(client, auth, db: Session) -> None:
    user = make_user(db)
    auth.login(user, "wrong")
    assert auth.login(user).status_code == 302
    assert db.scalar(select(func.count()).select_from(LoginAttempt)) == 0


def test_next_parameter_only_redirects_within_the_site(client, auth, db) -> None:
    user = make_user(db, UserRole.ADMIN)
    resp = client.post("/auth/login?next=//evil.example/x",
                       data={"email": user.email, "password": "correct horse battery staple"})
    assert resp.headers["Location"] == "/"
    auth.logout()
    resp = client.post("/auth/login?next=/admin/users",
                       data={"email": user.email, "password": "correct horse battery staple"})
    assert resp.headers["Location"] == "/admin/users"


def test_session_cookie_flags(client, auth, db) -> None:
    resp = auth.login(make_user(db))
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookie_flag_when_configured(tmp_path) -> None:
    from ..conftest import build_app
    app = build_app(tmp_path, SECURE_COOKIES=True)
    with app.app_context():
        from mitrain.db import get_db
        user = make_user(get_db(app).session())
    resp = app.test_client().post("/auth/login", data={
        "email": user.email, "password": "correct horse battery staple"})
    assert "Secure" in resp.headers["Set-Cookie"]


def test_set_password_link_works_once(client, db, app: Flask) -> None:
    from mitrain.web.auth.tokens import make_token
    user = make_user(db)
    with app.test_request_context():
        token = make_token(user)
    weak = client.post(f"/auth/set-password/{token}", data={"password": "short", "confirm": "short"})
    assert "at least 12 characters" in weak.get_data(as_text=True)
    new = "a much longer passphrase 42"
    ok = client.post(f"/auth/set-password/{token}", data={"password": new, "confirm": new})
    assert ok.status_code == 302
    again = client.get(f"/auth/set-password/{token}")
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)
    assert client.post("/auth/login", data={"email": user.email, "password": new}).status_code == 302


def test_forged_set_password_link_is_refused(client) -> None:
    resp = client.get("/auth/set-password/not-a-real-token")
    assert resp.status_code == 400 and "not valid" in resp.get_data(as_text=True)


def test_change_password_needs_the_current_one(client, auth, db) -> None:
    user = make_user(db)
    auth.login(user)
    new = "another strong passphrase 7"
    bad = client.post("/auth/account", data={"current": "wrong", "password": new, "confirm": new})
    assert "current password is not right" in bad.get_data(as_text=True)
    good = client.post("/auth/account", data={"current": "correct horse battery staple",
                                              "password": new, "confirm": new})
    assert good.status_code == 302
    auth.logout()
    assert auth.login(user, new).status_code == 302


def test_oversize_request_gets_a_clear_message(tmp_path) -> None:
    from ..conftest import build_app
    app = build_app(tmp_path, MAX_UPLOAD_MB=1)
    resp = app.test_client().post("/auth/login", data={"email": "a" * (2 * 1024 * 1024)})
    assert resp.status_code == 413
    assert "larger than the limit of 1 MB" in resp.get_data(as_text=True)


def test_csrf_token_is_required_when_enabled(tmp_path) -> None:
    from ..conftest import build_app
    app = build_app(tmp_path, WTF_CSRF_ENABLED=True)
    with app.app_context():
        from mitrain.db import get_db
        user = make_user(get_db(app).session())
    client: FlaskClient = app.test_client()
    forged = client.post("/auth/login", data={"email": user.email,
                                              "password": "correct horse battery staple"})
    assert forged.status_code == 400
    assert "did not come from this site" in forged.get_data(as_text=True)
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    ok = client.post("/auth/login", data={"email": user.email, "csrf_token": token,
                                          "password": "correct horse battery staple"})
    assert ok.status_code == 302
