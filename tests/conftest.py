"""Shared fixtures: ``app``, ``client``, ``db``, ``auth`` (see DESIGN.md, Conventions)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from mitrain import create_app
from mitrain.db import get_db
from mitrain.migrate import upgrade
from mitrain.models import User, UserRole

from .factories import PASSWORD, make_team, make_user

REPO = Path(__file__).resolve().parent.parent
# One coder model directory for the whole run: the default coder trains once
# (on first use) instead of once per test.
SHARED = {"model_dir": REPO / ".pytest_models"}


@pytest.fixture(scope="session", autouse=True)
def _shared_model_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    SHARED["model_dir"] = tmp_path_factory.mktemp("models")


def build_app(tmp_path: Path, **overrides: Any) -> Flask:
    """A migrated app in its own instance folder (coder models shared by the run)."""
    config = {"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True,
              "WTF_CSRF_ENABLED": False, "MODEL_DIR": str(SHARED["model_dir"])}
    config.update(overrides)
    app = create_app(config)
    upgrade(get_db(app).engine)
    return app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    # No app context is held open: each test request gets its own, as in production.
    app = build_app(tmp_path)
    yield app
    get_db(app).engine.dispose()


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """The test's own session (separate from the per-request ones, like another process)."""
    with Session(get_db(app).engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Auth:
    """Sign in and out through the real login form."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, user: User, password: str = PASSWORD) -> Any:
        return self.client.post("/auth/login", data={"email": user.email, "password": password})

    def logout(self) -> Any:
        return self.client.post("/auth/logout")


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture
def people(db: Session) -> dict[UserRole, User]:
    """One active user of each role; the trainer reviews the practitioner's team."""
    team = make_team(db, "North")
    users = {role: make_user(db, role, team=team if role is UserRole.PRACTITIONER else None)
             for role in UserRole}
    users[UserRole.TRAINER].trained_teams = [team]
    db.commit()
    return users
