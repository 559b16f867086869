"""Spoken drill answers: a real espeak-ng clip through real Whisper and the real
coder; bad clips get clear messages; nothing is saved and no audio is kept."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mitrain.models import DrillAttempt, UserRole
from mitrain.services import speech

from ..recording_factories import post_cut_short, spoken_clip, tiny_wav
from . import test_drills

course = test_drills.course    # the fixtures, shared
learner = test_drills.learner

URL = "/learn/drills/d-open/spoken"
ANSWER = "What would you like to be different for the children?"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The answer as a browser would send it (WebM/Opus)."""
    return spoken_clip(tmp_path_factory.mktemp("clip") / "answer.webm", ANSWER).read_bytes()


def _post(client, data: bytes | None, name: str = "answer.webm"):  # type: ignore[no-untyped-def]
    form: dict[str, object] = {"submit": "Check my spoken answer"}  # as a browser sends it
    if data is not None:
        form["audio"] = (io.BytesIO(data), name)
    return client.post(URL, data=form, content_type="multipart/form-data")


def _attempts(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(DrillAttempt)) or 0)


def _left_over_audio(app: Flask) -> list[Path]:
    tmp = Path(app.instance_path) / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


def _wav(samples: np.ndarray, rate: int = 16_000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def test_drill_page_offers_a_spoken_answer(client, course, learner) -> None:
    html = client.get("/learn/drills/d-open").get_data(as_text=True)
    assert 'action="/learn/drills/d-open/spoken"' in html
    assert 'enctype="multipart/form-data"' in html and 'data-max-seconds="30"' in html
    assert "recorder.js" in html and "drill_voice.js" in html
    assert 'id="rec-start"' in html and 'id="rec-stop"' in html and 'id="rec-level"' in html


@pytest.mark.slow
def test_spoken_answer_is_transcribed_coded_and_the_audio_discarded(app, client, db, course,
                                                                    learner, clip) -> None:
    resp = _post(client, clip)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    assert "What we heard:" in html
    heard = html.split('<span id="heard">')[1].split("</span>")[0]
    assert heard.lower().startswith("what would you like to be different")
    assert "That was an open question." in html
    assert "Well done: that hits the skill" in html
    attempt = db.scalar(select(DrillAttempt).where(DrillAttempt.user_id == learner.id))
    assert attempt.code == "Q_OPEN" and attempt.hit
    assert attempt.response_text == heard   # the words are kept, the audio is not
    # Whisper was loaded into the cached transcriber the recording job also asks for.
    from coding.transcribe import get_transcriber
    cfg = app.config
    shared = get_transcriber(cfg["WHISPER_ENGINE"], cfg["WHISPER_MODEL"],
                             cpu_threads=cfg["WHISPER_THREADS"])
    assert shared._whisper is not None   # type: ignore[attr-defined]
    recordings = Path(app.config["RECORDINGS_DIR"])
    assert _left_over_audio(app) == [] and not (recordings.exists() and any(recordings.iterdir()))


@pytest.mark.parametrize("data, name, message", [
    (None, "", "Record your answer first"),
    (b"", "answer.webm", "The recording is empty."),
    (b"just some notes, not audio " * 50, "answer.webm", "does not look like audio"),
    (b"hello", "notes.txt", "is not a recording mitrain can read"),
    (_wav(np.zeros(32_000, dtype=np.float32)), "answer.wav", "the recording is silent"),
    (tiny_wav(35.0), "answer.wav", "the limit is 30 s"),
    (tiny_wav(1.0)[:5000] + b"\x00" * 10, "answer.wav", "truncated"),
])
def test_bad_clips_get_clear_messages_and_nothing_is_saved(
        app, client, db, course, learner, data: bytes | None, name: str, message: str) -> None:
    resp = _post(client, data, name)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert message in html and 'role="alert"' in html
    assert "Traceback" not in html
    assert _attempts(db) == 0 and _left_over_audio(app) == []


def test_oversized_clip_is_refused(app, client, db, course, learner,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speech, "MAX_CLIP_BYTES", 20_000)
    resp = _post(client, tiny_wav(2.0), "answer.wav")   # 64 kB
    assert resp.status_code == 400
    assert "larger than the limit" in resp.get_data(as_text=True)
    assert _attempts(db) == 0 and _left_over_audio(app) == []


@pytest.mark.slow
def test_a_clip_with_no_words_is_refused(app, client, db, course, learner) -> None:
    resp = _post(client, tiny_wav(3.0), "answer.wav")   # a steady tone: no speech
    assert resp.status_code == 400
    assert "We could not make out any words" in resp.get_data(as_text=True)
    assert _attempts(db) == 0 and _left_over_audio(app) == []


def test_whisper_unavailable_is_explained(app, client, db, course, learner,
                                          tmp_path: Path) -> None:
    app.config["WHISPER_MODEL"] = str(tmp_path / "no-such-whisper")
    resp = _post(client, tiny_wav(1.0), "answer.wav")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Speech recognition is not available just now" in html and "no-such-whisper" in html
    assert _attempts(db) == 0 and _left_over_audio(app) == []


def test_interrupted_upload_saves_nothing(app, client, db, course, learner) -> None:
    resp = post_cut_short(client, URL, "audio", tiny_wav(1.0)[:2000])
    assert resp.status_code == 400
    assert "interrupted" in resp.get_data(as_text=True)
    assert _attempts(db) == 0 and _left_over_audio(app) == []


def test_spoken_answers_are_for_practitioners(client, auth, course, people, clip) -> None:
    auth.login(people[UserRole.TRAINER])
    assert _post(client, clip).status_code == 403


def test_audio_is_removed_even_when_transcription_crashes(app: Flask,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def transcribe(self, audio: np.ndarray) -> None:
            raise RuntimeError("engine crashed")
    monkeypatch.setattr("coding.transcribe.get_transcriber", lambda *a, **k: Broken())
    with app.test_request_context(), pytest.raises(RuntimeError, match="engine crashed"):
        speech.transcribe_clip(io.BytesIO(tiny_wav(1.0)), filename="answer.wav")
    assert (Path(app.instance_path) / "tmp").is_dir() and _left_over_audio(app) == []
