"""Role-play upload, the coding job hand-off, the report, access, swap and delete."""

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mitrain.models import Job, Recording, RecordingStatus, Team, UserRole
from mitrain.services.feedback import suggestions

from ..factories import make_user
from ..recording_factories import make_coded_recording, post_cut_short, tiny_wav


def _upload(client, data: bytes, name: str = "roleplay.wav", consent: bool = True, **extra):
    form = {"audio": (io.BytesIO(data), name), "title": "Dawn, school mornings", **extra}
    if consent:
        form["consent"] = "yes"
    return client.post("/practice/record", data=form, content_type="multipart/form-data")


def _recordings(db) -> int:
    return db.scalar(select(func.count()).select_from(Recording))


def _files(app) -> list[Path]:
    return list(Path(app.config["RECORDINGS_DIR"]).iterdir())


def test_upload_with_consent_stores_audio_privately_and_queues_a_job(app, client, auth, people, db):
    auth.login(people[UserRole.PRACTITIONER])
    resp = _upload(client, tiny_wav())
    assert resp.status_code == 302
    rec = db.scalar(select(Recording))
    assert resp.headers["Location"] == f"/practice/recordings/{rec.id}"
    assert rec.status is RecordingStatus.PROCESSING and rec.consent_at is not None
    assert rec.audio_file.startswith("rec-") and rec.audio_file != "roleplay.wav"
    path = Path(app.config["RECORDINGS_DIR"]) / rec.audio_file
    assert path.read_bytes() == tiny_wav() and path.stat().st_mode & 0o077 == 0
    job = db.get(Job, rec.job_id)
    assert job.kind == "recording.code" and job.subject_id == rec.id
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"/jobs/{job.id}.json" in page and "Coding your recording" in page


def test_upload_as_json_for_the_browser_recorder(client, auth, people, db):
    auth.login(people[UserRole.PRACTITIONER])
    resp = client.post("/practice/record", headers={"Accept": "application/json"},
                       data={"audio": (io.BytesIO(b"\x1a\x45\xdf\xa3" + b"\0" * 64), "blob",
                                       "audio/webm"), "consent": "yes"},
                       content_type="multipart/form-data")
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["url"] == f"/practice/recordings/{body['recording_id']}"
    assert db.get(Recording, body["recording_id"]).audio_file.endswith(".webm")


@pytest.mark.parametrize("data, name, consent, message", [
    (tiny_wav(), "roleplay.wav", False, "agreed to be recorded"),
    (b"%PDF-1.4 not audio", "notes.pdf", True, "not a recording mitrain can read"),
    (b"just some text pretending", "fake.wav", True, "does not look like an audio file"),
    (b"", "empty.wav", True, "file is empty"),
])
def test_bad_uploads_are_refused_and_nothing_is_saved(app, client, auth, people, db,
                                                      data, name, consent, message):
    auth.login(people[UserRole.PRACTITIONER])
    resp = _upload(client, data, name, consent=consent)
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert _recordings(db) == 0 and _files(app) == []
    assert db.scalar(select(func.count()).select_from(Job)) == 0


def test_interrupted_upload_is_explained_and_nothing_is_saved(app, client, auth, people, db):
    auth.login(people[UserRole.PRACTITIONER])
    resp = post_cut_short(client, "/practice/record", "audio", tiny_wav()[:3000])
    assert resp.status_code == 400
    assert "The upload was interrupted before it finished. Nothing was saved" in \
        resp.get_data(as_text=True)
    assert _recordings(db) == 0
    assert not Path(app.config["RECORDINGS_DIR"]).exists() or _files(app) == []


def test_oversize_upload_is_refused(tmp_path):
    from ..conftest import build_app
    app = build_app(tmp_path, MAX_UPLOAD_MB=1)
    from sqlalchemy.orm import Session

    from mitrain.db import get_db
    with Session(get_db(app).engine, expire_on_commit=False) as db:
        user = make_user(db)
    client = app.test_client()
    client.post("/auth/login", data={"email": user.email, "password": "correct horse battery staple"})
    resp = _upload(client, tiny_wav(seconds=40))
    assert resp.status_code == 413 and "Nothing was saved" in resp.get_data(as_text=True)
    assert _files(app) == []


def test_report_shows_codes_scores_suggestions_and_synced_transcript(app, client, auth, people, db):
    owner = people[UserRole.PRACTITIONER]
    rec = make_coded_recording(db, owner, Path(app.config["RECORDINGS_DIR"]))
    auth.login(owner)
    page = client.get(f"/practice/recordings/{rec.id}").get_data(as_text=True)
    assert "MITI summary" in page and "Reflections to questions" in page
    assert 'class="code code-CR"' in page and "confidence 80%" in page
    assert 'data-start="6.0"' in page and f"/practice/recordings/{rec.id}/audio" in page
    for tip in suggestions(rec.summary):
        assert tip.replace("'", "&#39;").replace('"', "&#34;") in page
    assert "1 change · 1 sustain" in page


def test_suggestions_are_drawn_from_the_codes():
    summary = {"counts": {"CHANGE": 1, "SUSTAIN": 4}, "counts_volley": {
        "Q_OPEN": 2, "Q_CLOSED": 12, "SR": 3, "CR": 0, "AF": 0}, "pct_complex_reflections": 0,
        "pct_open_questions": 14.3, "mi_non_adherent": 2, "talk_time_share": None}
    tips = suggestions(summary)
    assert tips[0].startswith("You asked 14 questions and reflected 3 times")
    assert tips[1].startswith("0 of your 3 reflections were complex")
    assert tips[2].startswith("12 of your 14 questions were closed")
    assert len(suggestions(summary, limit=6)) == 6


def test_a_strong_practice_still_gets_three_suggestions():
    # Nothing to fix: what went well, then general next steps fill the three.
    summary = {"counts": {"CHANGE": 3, "SUSTAIN": 1}, "counts_volley": {
        "Q_OPEN": 2, "Q_CLOSED": 0, "SR": 2, "CR": 3, "AF": 1, "SEEK": 1},
        "pct_complex_reflections": 60.0, "pct_open_questions": 100.0, "mi_non_adherent": 0,
        "talk_time_share": {"practitioner": 0.4}}
    tips = suggestions(summary)
    assert len(tips) == 3 and len(set(tips)) == 3
    assert tips[0].startswith("Your reflections outnumber your questions")
    assert tips[1].startswith("You shared power")
    assert tips[2].startswith("2 of your 2 questions were open")
    assert suggestions(summary, limit=6)[-1].startswith("Before you close, summarise")


def test_who_may_see_a_recording_and_its_audio(app, client, auth, people, db):
    owner = people[UserRole.PRACTITIONER]
    rec = make_coded_recording(db, owner, Path(app.config["RECORDINGS_DIR"]))
    other_team = Team(name="Elsewhere")
    db.add(other_team)
    db.commit()
    outsider_trainer = make_user(db, UserRole.TRAINER)
    outsider_trainer.trained_teams = [other_team]
    db.commit()
    cases = [(owner, 200), (people[UserRole.TRAINER], 200), (people[UserRole.ADMIN], 200),
             (people[UserRole.LEAD], 403), (make_user(db, UserRole.PRACTITIONER), 403),
             (outsider_trainer, 403)]
    for user, expected in cases:
        auth.login(user)
        assert client.get(f"/practice/recordings/{rec.id}").status_code == expected, user.role
        audio = client.get(f"/practice/recordings/{rec.id}/audio")
        assert audio.status_code == expected
        if expected == 200:
            assert audio.data[:4] == b"RIFF" and "no-store" in audio.headers["Cache-Control"]
        auth.logout()


def test_only_the_owner_deletes_and_the_audio_goes_too(app, client, auth, people, db):
    owner = people[UserRole.PRACTITIONER]
    rec = make_coded_recording(db, owner, Path(app.config["RECORDINGS_DIR"]))
    auth.login(people[UserRole.TRAINER])
    assert client.post(f"/practice/recordings/{rec.id}/delete").status_code == 403
    auth.logout()
    auth.login(owner)
    assert client.post(f"/practice/recordings/{rec.id}/delete").status_code == 302
    assert _recordings(db) == 0 and _files(app) == []


def test_swap_roles_recodes_without_retranscribing(app, client, auth, people, db):
    owner = people[UserRole.PRACTITIONER]
    rec = make_coded_recording(db, owner, Path(app.config["RECORDINGS_DIR"]))
    texts = [u.text for u in rec.utterances]
    auth.login(owner)
    assert client.post(f"/practice/recordings/{rec.id}/swap-roles").status_code == 302
    db.expire_all()
    rec = db.get(Recording, rec.id)
    assert rec.roles_swapped is True and rec.coder_version != "test"
    assert [u.text for u in rec.utterances] == texts
    assert rec.utterances[0].speaker == "client" and rec.utterances[2].speaker == "practitioner"
    client_codes = {"CHANGE", "SUSTAIN", "NEUTRAL"}
    for u in rec.utterances:
        assert (u.code in client_codes) == (u.speaker == "client")
    assert sum(rec.summary["counts"][c] for c in client_codes) == 4  # old practitioner lines
