from pathlib import Path

import pytest

from mitrain import create_app
from mitrain.config import load_settings


def test_defaults_then_environment_then_dict(tmp_path: Path) -> None:
    env = {"MITRAIN_SESSION_TIMEOUT_MINUTES": "45", "MITRAIN_SECURE_COOKIES": "yes",
           "MITRAIN_MAX_UPLOAD_MB": "10"}
    settings = load_settings({"MAX_UPLOAD_MB": 5}, environ=env)
    assert settings["SESSION_TIMEOUT_MINUTES"] == 45
    assert settings["SECURE_COOKIES"] is True
    assert settings["MAX_UPLOAD_MB"] == 5  # the dict wins over the environment
    assert settings["LOGIN_MAX_FAILURES"] == 5  # untouched default


def test_bad_environment_value_is_a_clear_error() -> None:
    with pytest.raises(SystemExit, match="MITRAIN_WORKERS"):
        load_settings(environ={"MITRAIN_WORKERS": "lots"})


def test_instance_folder_holds_database_jobs_and_recordings(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    inst = Path(app.instance_path)
    assert app.config["DATABASE_URL"] == f"sqlite:///{inst / 'mitrain.db'}"
    assert app.config["JOBS_DB"] == str(inst / "jobs.db")
    assert Path(app.config["RECORDINGS_DIR"]).is_dir()
    assert app.config["MAX_CONTENT_LENGTH"] == 200 * 1024 * 1024
    assert app.config["SESSION_COOKIE_HTTPONLY"] and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_secret_key_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    second = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    key_file = tmp_path / "inst" / "secret_key"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text()
    assert len(first.config["SECRET_KEY"]) == 64
    assert key_file.stat().st_mode & 0o077 == 0
    other = create_app({"INSTANCE_PATH": str(tmp_path / "other")})
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_given_secret_key_is_used_and_not_written(tmp_path: Path) -> None:
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "SECRET_KEY": "given"})
    assert app.config["SECRET_KEY"] == "given"
    assert not (tmp_path / "inst" / "secret_key").exists()
