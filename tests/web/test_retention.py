"""Audio retention in the web app and CLI: admin page, run-now button, pages after deletion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mitrain.cli import main
from mitrain.db import get_db
from mitrain.models import Recording, RecordingStatus, UserRole, utcnow
from mitrain.services.retention import Policy, sweep

from ..conftest import build_app
from ..factories import make_user
from ..review_factories import make_aged_recording


@pytest.fixture
def audio_dir(app) -> Path:
    return Path(app.config["RECORDINGS_DIR"])


@pytest.fixture
def due(db, people, audio_dir) -> Recording:
    """A recording coded 100 days ago: past the default 90-day period."""
    return make_aged_recording(db, people[UserRole.PRACTITIONER], audio_dir, utcnow(),
                               uploaded_days=100, coded_days=100)


def test_only_admins_reach_the_retention_page(client, auth, people) -> None:
    assert client.get("/admin/retention").status_code == 302  # signed out: to the login page
    for role in (UserRole.PRACTITIONER, UserRole.TRAINER, UserRole.LEAD):
        auth.login(people[role])
        assert client.get("/admin/retention").status_code == 403
        assert client.post("/admin/retention/run").status_code == 403
        auth.logout()
    auth.login(people[UserRole.ADMIN])
    page = client.get("/admin/retention").get_data(as_text=True)
    assert "deleted 90 days after the recording was coded" in page
    assert "never beyond 180 days after upload" in page
    assert "every day at 02:30 UTC" in page


def test_admin_sees_counts_and_due_audio_and_runs_the_sweep(client, auth, people, db, due,
                                                            audio_dir) -> None:
    recent = make_aged_recording(db, people[UserRole.PRACTITIONER], audio_dir, utcnow(),
                                 uploaded_days=10, coded_days=10)
    auth.login(people[UserRole.ADMIN])
    page = client.get("/admin/retention").get_data(as_text=True)
    assert "Recordings with audio kept: <strong>2</strong>" in page
    rows = re.search(r'<table class="data" id="upcoming">(.*?)</table>', page,
                     re.DOTALL).group(1)
    assert rows.index(due.title) < rows.index(recent.title) and "due now" in rows
    done = client.post("/admin/retention/run", follow_redirects=True).get_data(as_text=True)
    assert "Deleted the audio of 1 recording and 0 orphaned files." in done
    assert "deleted under the policy: <strong>1</strong>" in done
    recent_table = re.search(r'<table class="data" id="recent">(.*?)</table>', done,
                             re.DOTALL)
    assert due.title in recent_table.group(1) and "retention period passed" in recent_table.group(1)
    assert not (audio_dir / due.audio_file).exists()
    assert (audio_dir / recent.audio_file).exists()


def test_run_now_needs_a_csrf_token(tmp_path) -> None:
    app = build_app(tmp_path, WTF_CSRF_ENABLED=True)
    with app.app_context():
        db = get_db(app).session()
        admin = make_user(db, UserRole.ADMIN)
        rec = make_aged_recording(db, make_user(db), Path(app.config["RECORDINGS_DIR"]),
                                  utcnow(), uploaded_days=100, coded_days=100)
        rec_id, name = rec.id, rec.audio_file
    client = app.test_client()
    login = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    client.post("/auth/login", data={"email": admin.email, "csrf_token": token,
                                     "password": "correct horse battery staple"})
    forged = client.post("/admin/retention/run")
    assert forged.status_code == 400
    assert (Path(app.config["RECORDINGS_DIR"]) / name).exists()
    page = client.get("/admin/retention").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post("/admin/retention/run", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert get_db(app).session().get(Recording, rec_id).audio_deleted_at is not None
    get_db(app).engine.dispose()


def test_report_and_review_say_when_the_audio_was_deleted(client, auth, people, db, due,
                                                          audio_dir) -> None:
    now = utcnow()
    failed = make_aged_recording(db, people[UserRole.PRACTITIONER], audio_dir, now,
                                 uploaded_days=91, status=RecordingStatus.FAILED)
    assert len(sweep(db, audio_dir, Policy(90), now=now).deleted) == 2
    auth.login(people[UserRole.PRACTITIONER])
    failed_page = client.get(f"/practice/recordings/{failed.id}").get_data(as_text=True)
    assert f"Audio deleted on {now:%d %b %Y} under the retention policy" in failed_page
    report = client.get(f"/practice/recordings/{due.id}").get_data(as_text=True)
    assert f"Audio deleted on {now:%d %b %Y} under the retention policy" in report
    assert 'id="player"' not in report
    assert "How have things been since we last met?" in report  # the transcript stays
    assert client.get(f"/practice/recordings/{due.id}/audio").status_code == 403
    auth.logout()
    auth.login(people[UserRole.TRAINER])
    workspace = client.get(f"/review/recordings/{due.id}").get_data(as_text=True)
    assert f"Audio deleted on {now:%d %b %Y} under the retention policy" in workspace
    assert 'id="player"' not in workspace


def test_a_bad_setting_is_a_clear_message_on_the_page(tmp_path) -> None:
    app = build_app(tmp_path, AUDIO_RETENTION_DAYS=-3)
    with app.app_context():
        admin = make_user(get_db(app).session(), UserRole.ADMIN)
    client = app.test_client()
    client.post("/auth/login", data={"email": admin.email,
                                     "password": "correct horse battery staple"})
    page = client.get("/admin/retention")
    assert page.status_code == 200
    assert "must be 0 (keep audio) or a number of days" in page.get_data(as_text=True)
    ran = client.post("/admin/retention/run", follow_redirects=True).get_data(as_text=True)
    assert "Nothing was deleted." in ran
    get_db(app).engine.dispose()


def test_cli_dry_run_then_run(app, db, due, audio_dir, monkeypatch) -> None:
    monkeypatch.setenv("MITRAIN_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("MITRAIN_MODEL_DIR", app.config["MODEL_DIR"])
    helped = CliRunner().invoke(main, ["retention", "run", "--help"])
    assert helped.exit_code == 0 and "--dry-run" in helped.output
    dry = CliRunner().invoke(main, ["retention", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"recording {due.id} '{due.title}'" in dry.output
    assert "Would delete the audio of 1 recording and 0 orphaned files. Nothing was deleted." \
        in dry.output
    assert (audio_dir / due.audio_file).exists()
    real = CliRunner().invoke(main, ["retention", "run"])
    assert real.exit_code == 0 and "Deleted the audio of 1 recording" in real.output
    assert not (audio_dir / due.audio_file).exists()
    again = CliRunner().invoke(main, ["retention", "run"])
    assert "Deleted the audio of 0 recordings and 0 orphaned files." in again.output
    monkeypatch.setenv("MITRAIN_AUDIO_RETENTION_DAYS", "-1")
    bad = CliRunner().invoke(main, ["retention", "run"])
    assert bad.exit_code == 1 and "Error: MITRAIN_AUDIO_RETENTION_DAYS must be 0" in bad.output
    assert isinstance(bad.exception, SystemExit)  # a message, not a traceback
