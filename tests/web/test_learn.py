"""The course pages: lessons, progress, prerequisites, quizzes, certificate, My progress."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mitrain.models import (
    LessonProgress,
    Module,
    QuizAttempt,
    Recording,
    RecordingStatus,
    Review,
    ReviewStatus,
    User,
    UserRole,
)
from mitrain.services.content_sync import sync_course_dir
from mitrain.services.learning import course_progress, current_course

from ..conftest import build_app
from ..factories import make_user
from ..recording_factories import tiny_wav
from .test_content_sync import write_course

RIGHT = {"intro": {"q-intro-q1": "0", "q-intro-q2": ["0", "1", "3"]},
         "middle": {"q-middle-q1": "1"},
         "extra": {"q-extra-q1": "0"}}


@pytest.fixture
def course(db: Session, tmp_path: Path) -> Path:
    path = write_course(tmp_path / "course")
    sync_course_dir(db, path)
    return path


@pytest.fixture
def learner(client, auth, people) -> User:
    auth.login(people[UserRole.PRACTITIONER])
    return people[UserRole.PRACTITIONER]


def _attempts(db: Session, user: User) -> int:
    return int(db.scalar(select(func.count()).select_from(QuizAttempt)
                         .where(QuizAttempt.user_id == user.id)) or 0)


def _text(resp) -> str:  # type: ignore[no-untyped-def]
    return resp.get_data(as_text=True)


# ------------------------------------------------------------------- overview

def test_course_page_without_content_says_so(client, learner) -> None:
    resp = client.get("/learn/")
    assert resp.status_code == 200
    assert "The course has not been loaded yet" in _text(resp)


def test_overview_lists_modules_and_locks_later_ones(client, course, learner) -> None:
    html = _text(client.get("/learn/"))
    assert "Test course in MI" in html
    assert "0 of 3" in html
    for title in ("Introduction to MI", "Reflections", "Change talk"):
        assert title in html
    assert html.count(">Locked<") == 2
    assert "Continue: Introduction to MI" in html
    assert "skills check" in html  # the "before" check is offered first


# -------------------------------------------------------------------- lessons

def test_lesson_renders_markdown_and_can_be_marked_done(client, db, course, learner) -> None:
    resp = client.get("/learn/modules/intro/lessons/welcome")
    html = _text(resp)
    assert resp.status_code == 200
    assert "<h1>Welcome</h1>" in html and "<strong>Welcome</strong>" in html
    assert "<blockquote>" in html and "<code>CR</code>" in html
    assert "Mark as done and continue" in html

    resp = client.post("/learn/modules/intro/lessons/welcome/done")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(
        "/learn/modules/intro/lessons/spirit")
    client.post("/learn/modules/intro/lessons/welcome/done")  # twice: still one record
    done = db.scalar(select(func.count()).select_from(LessonProgress)
                     .where(LessonProgress.user_id == learner.id))
    assert done == 1
    assert "1 of 2 lessons done" in _text(client.get("/learn/"))
    # The last lesson sends the learner on to the quiz.
    resp = client.post("/learn/modules/intro/lessons/spirit/done")
    assert resp.headers["Location"].endswith("/learn/modules/intro#quiz")


def test_unknown_or_locked_pages(client, db, course, learner) -> None:
    assert client.get("/learn/modules/nope").status_code == 404
    assert client.get("/learn/modules/intro/lessons/nope").status_code == 404
    resp = client.get("/learn/modules/middle/lessons/reflect")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/learn/modules/middle")
    page = _text(client.get(resp.headers["Location"]))
    assert "This module opens when you have passed the quiz for" in page
    assert "This module is not open yet" in page
    # Server-side: a locked module's quiz and lessons refuse answers and ticks.
    resp = client.post("/learn/modules/middle/quiz", data=RIGHT["middle"])
    assert resp.status_code == 302 and _attempts(db, learner) == 0
    client.post("/learn/modules/middle/lessons/reflect/done")
    assert db.scalar(select(func.count()).select_from(LessonProgress)) == 0


# ----------------------------------------------------------------------- quiz

def test_quiz_page_has_labelled_options(client, course, learner) -> None:
    html = _text(client.get("/learn/modules/intro/quiz"))
    assert 'type="radio" name="q-intro-q1" id="q-intro-q1-0"' in html
    assert '<label for="q-intro-q1-0">Motivational Interviewing</label>' in html
    assert 'type="checkbox" name="q-intro-q2"' in html
    assert "<legend>" in html and "Choose all that apply." in html
    assert "(choose all that apply)" not in html   # not said twice


def test_passing_a_quiz_scores_it_and_opens_the_next_module(client, db, course,
                                                            learner) -> None:
    resp = client.post("/learn/modules/intro/quiz", data=RIGHT["intro"])
    assert resp.status_code == 302
    result = _text(client.get(resp.headers["Location"]))
    assert "You scored 100% (2 of 2)" in result and "You passed" in result
    assert "Compliance is not part of the spirit" in result   # explanations shown
    assert "Next: Reflections" in result
    attempt = db.scalar(select(QuizAttempt).where(QuizAttempt.user_id == learner.id))
    assert attempt.passed and attempt.score == 1.0
    assert attempt.answers["chosen"]["intro-q2"] == [0, 1, 3]

    html = _text(client.get("/learn/"))
    assert html.count(">Locked<") == 1   # middle open; extra waits for middle (sequential)
    assert client.get("/learn/modules/middle/lessons/reflect").status_code == 200
    assert client.get("/learn/modules/extra/lessons/darn").status_code == 302


def test_a_partly_right_multiple_choice_answer_is_wrong(client, db, course, learner) -> None:
    answers = {"q-intro-q1": "0", "q-intro-q2": ["0", "1"]}   # missed "Compassion"
    resp = client.post("/learn/modules/intro/quiz", data=answers)
    result = _text(client.get(resp.headers["Location"]))
    assert "You scored 50% (1 of 2)" in result and "Not passed this time" in result
    assert "Try the quiz again" in result
    # A later, better attempt becomes the best score; the module is passed.
    client.post("/learn/modules/intro/quiz", data=RIGHT["intro"])
    module = _text(client.get("/learn/modules/intro"))
    assert module.count("See answers") == 2 and ">Passed<" in module
    progress = _text(client.get("/learn/progress"))
    assert re.search(r"Introduction to MI</a></th>.*?<td>2</td>.*?100%", progress, re.DOTALL)


def test_incomplete_or_invalid_quiz_answers_are_not_saved(client, db, course, learner) -> None:
    resp = client.post("/learn/modules/intro/quiz", data={"q-intro-q1": "0"})
    html = _text(resp)
    assert resp.status_code == 400
    assert "Question 2 has no answer yet." in html
    assert re.search(r'id="q-intro-q1-0" value="0"\s+checked', html)  # choice kept
    assert not re.search(r'id="q-intro-q1-1" value="1"\s+checked', html)
    resp = client.post("/learn/modules/intro/quiz",
                       data={"q-intro-q1": ["0", "1"], "q-intro-q2": "9"})
    html = _text(resp)
    assert resp.status_code == 400
    assert "Question 1 takes one answer only." in html
    assert "Question 2 has an answer that is not one of its options." in html
    resp = client.post("/learn/modules/intro/quiz", data={"q-intro-q1": "abc",
                                                          "q-intro-q2": "0"})
    assert resp.status_code == 400
    assert _attempts(db, learner) == 0


def test_someone_elses_quiz_result_is_refused(client, auth, db, course, people) -> None:
    other = make_user(db, UserRole.PRACTITIONER)
    auth.login(other)
    resp = client.post("/learn/modules/intro/quiz", data=RIGHT["intro"])
    url = resp.headers["Location"]
    auth.logout()
    auth.login(people[UserRole.PRACTITIONER])
    assert client.get(url).status_code == 403
    assert client.get("/learn/modules/intro/quiz/attempts/999").status_code == 403


# ------------------------------------------------------------- prerequisites

def test_prerequisites_with_sequential_modules_off(tmp_path: Path) -> None:
    app = build_app(tmp_path / "app", SEQUENTIAL_MODULES=False)
    from mitrain.db import get_db
    with Session(get_db(app).engine, expire_on_commit=False) as db:
        sync_course_dir(db, write_course(tmp_path / "course"))
        user = make_user(db, UserRole.PRACTITIONER)
        course = current_course(db)
        client = app.test_client()
        client.post("/auth/login", data={"email": user.email,
                                         "password": "correct horse battery staple"})
        # Only the explicit prerequisite applies: "middle" is open, "extra" needs "intro".
        assert client.get("/learn/modules/middle/lessons/reflect").status_code == 200
        assert client.get("/learn/modules/extra/lessons/darn").status_code == 302
        client.post("/learn/modules/intro/quiz", data=RIGHT["intro"])
        assert client.get("/learn/modules/extra/lessons/darn").status_code == 200
        state = course_progress(db, user, course, sequential=False)
        assert [m.locked for m in state.modules] == [False, False, False]
        state = course_progress(db, user, course, sequential=True)
        assert [m.module.slug for m in state.modules if m.locked] == ["extra"]
    get_db(app).engine.dispose()


def test_per_module_pass_mark_and_retired_modules(db, course, client, learner) -> None:
    middle = db.scalar(select(Module).where(Module.slug == "middle"))
    middle.pass_mark = 1.0
    db.commit()
    client.post("/learn/modules/intro/quiz", data=RIGHT["intro"])
    html = _text(client.get("/learn/modules/middle"))
    assert "The pass mark is 100%" in html
    # Retiring "middle" opens "extra" (retired modules block nobody) and hides "middle".
    middle.active = False
    db.commit()
    assert client.get("/learn/modules/middle").status_code == 404
    assert client.get("/learn/modules/extra/lessons/darn").status_code == 200


# ---------------------------------------------------------------- certificate

def test_certificate_after_passing_every_module(client, db, course, learner) -> None:
    html = _text(client.get("/learn/certificate"))
    assert "Not earned yet" in html and "You have passed 0 of 3" in html
    for slug in ("intro", "middle", "extra"):
        resp = client.post(f"/learn/modules/{slug}/quiz", data=RIGHT[slug])
        assert resp.status_code == 302, slug
    html = _text(client.get("/learn/certificate"))
    assert "Certificate of completion" in html
    assert learner.name in html and "Test course in MI" in html
    today = datetime.now(UTC)
    assert f"{today.day} {today:%B %Y}" in html
    assert "Reflections" in html and "overall quiz score of <strong>100%</strong>" in html
    assert "data-print" in html and "learn.js" in html
    assert "View your certificate" in _text(client.get("/learn/"))


# --------------------------------------------------------------- staff preview

def test_staff_preview_the_course_without_progress(client, auth, db, course, people) -> None:
    auth.login(people[UserRole.TRAINER])
    html = _text(client.get("/learn/"))
    assert "nothing you read is recorded" in html and ">Locked<" not in html
    lesson = _text(client.get("/learn/modules/extra/lessons/darn"))
    assert "DARN-CAT" in lesson and "Mark as done" not in lesson
    assert client.get("/learn/modules/intro/quiz").status_code == 403
    assert client.post("/learn/modules/intro/quiz", data=RIGHT["intro"]).status_code == 403
    assert client.post("/learn/modules/intro/lessons/welcome/done").status_code == 403
    assert client.get("/learn/certificate").status_code == 403


# ---------------------------------------------------------------- my progress

def _summary(rq: float, cr: float, rel: float) -> dict:
    th = {"rq_ratio": rq, "pct_complex_reflections": cr, "pct_open_questions": 60.0,
          "relational": rel, "technical": 3.2}
    return {"rq_ratio": rq, "pct_complex_reflections": cr,
            "thresholds": {k: {"value": v} for k, v in th.items()}}


def _recording(db: Session, owner: User, title: str, day: int, status: RecordingStatus,
               summary: dict | None) -> Recording:
    at = datetime(2026, 3, day, 10, tzinfo=UTC)
    r = Recording(owner_id=owner.id, title=title, consent_at=at, status=status,
                  summary=summary, created_at=at, coded_at=at)
    db.add(r)
    db.commit()
    return r


def test_progress_page_shows_miti_history_and_latest_feedback(client, db, course, people,
                                                              learner) -> None:
    html = _text(client.get("/learn/progress"))
    assert "No coded recordings yet" in html and "No signed-off trainer feedback yet" in html
    assert "No drills answered yet" in html

    r1 = _recording(db, learner, "First try", 2, RecordingStatus.CODED, _summary(0.5, 20.0, 2.5))
    r2 = _recording(db, learner, "Second try", 9, RecordingStatus.CODED, _summary(1.5, 45.0, 3.8))
    _recording(db, learner, "Still coding", 10, RecordingStatus.PROCESSING, None)
    other = make_user(db, UserRole.PRACTITIONER)
    _recording(db, other, "Someone else's", 3, RecordingStatus.CODED, _summary(3.0, 90.0, 5))
    trainer = people[UserRole.TRAINER]
    db.add_all([
        Review(recording_id=r1.id, trainer_id=trainer.id, status=ReviewStatus.SIGNED_OFF,
               overall_note="Good start.", signed_off_at=datetime(2026, 3, 3, tzinfo=UTC)),
        Review(recording_id=r2.id, trainer_id=trainer.id, status=ReviewStatus.SIGNED_OFF,
               overall_note="Lovely reflections <script>alert(1)</script>\nKeep going.",
               signed_off_at=datetime(2026, 3, 11, tzinfo=UTC)),
    ])
    other_trainer = make_user(db, UserRole.TRAINER)
    db.add(Review(recording_id=r2.id, trainer_id=other_trainer.id, status=ReviewStatus.DRAFT,
                  overall_note="Draft: not for the learner yet"))
    db.commit()

    html = _text(client.get("/learn/progress"))
    assert "From 2 coded recordings" in html
    assert "First try" in html and "Second try" in html
    assert "Still coding" not in html and "Someone else" not in html
    assert html.count('<svg class="learn-chart"') == 5
    assert html.count('<circle class="dot"') == 10          # 2 recordings x 5 measures
    assert 'class="fair"' in html and 'class="good"' in html and "<polyline" in html
    assert "0.5:1" in html and "45%" in html and "3.8" in html
    assert "Lovely reflections &lt;script&gt;" in html and "<script>alert" not in html
    assert "<p>Keep going.</p>" in html
    assert "Good start." not in html and "Draft: not for the learner" not in html
    assert f"/practice/recordings/{r2.id}" in html


def test_progress_page_is_practitioner_only(client, auth, people) -> None:
    auth.login(people[UserRole.LEAD])
    assert client.get("/learn/progress").status_code == 403


def test_pages_use_csrf_protected_forms(tmp_path: Path) -> None:
    app: Flask = build_app(tmp_path / "app", WTF_CSRF_ENABLED=True)
    from mitrain.db import get_db
    with Session(get_db(app).engine, expire_on_commit=False) as db:
        sync_course_dir(db, write_course(tmp_path / "course"))
        user = make_user(db, UserRole.PRACTITIONER)
    client = app.test_client()
    login = _text(client.get("/auth/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login)
    token = token or re.search(r'name="csrf_token" value="([^"]+)"', login)
    client.post("/auth/login", data={"email": user.email, "csrf_token": token.group(1),
                                     "password": "correct horse battery staple"})
    for url in ("/learn/modules/intro/lessons/welcome", "/learn/modules/intro/quiz",
                "/learn/drills/d-open", "/learn/skills-check"):
        html = _text(client.get(url))
        assert 'name="csrf_token"' in html, url
    # The spoken-answer form carries its own token.
    spoken = _text(client.get("/learn/drills/d-open")).split('id="spoken-form"')[1]
    assert 'name="csrf_token"' in spoken.split("</form>")[0]
    # A post without the token is refused and saves nothing.
    resp = client.post("/learn/modules/intro/quiz", data=RIGHT["intro"])
    assert resp.status_code == 400
    resp = client.post("/learn/drills/d-open/spoken", content_type="multipart/form-data",
                       data={"audio": (io.BytesIO(tiny_wav()), "answer.wav")})
    assert resp.status_code == 400 and "This form could not be accepted" in _text(resp)
    with Session(get_db(app).engine) as db:
        assert db.scalar(select(func.count()).select_from(QuizAttempt)) == 0
    get_db(app).engine.dispose()
