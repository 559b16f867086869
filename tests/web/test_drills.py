"""Quick-response drills (real coder), the answer rule, bad input, and the pre/post
skills check."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mitrain.models import Drill, DrillAttempt, SkillsCheck, User, UserRole
from mitrain.services import drills as drill_service
from mitrain.services.content_sync import sync_course_dir
from mitrain.services.drills import MAX_ANSWER_CHARS, answer_problem, judge

from ..factories import make_user
from .test_content_sync import write_course


@pytest.fixture
def course(db: Session, tmp_path: Path) -> Path:
    path = write_course(tmp_path / "course")
    sync_course_dir(db, path)
    return path


@pytest.fixture
def learner(client, auth, people) -> User:
    auth.login(people[UserRole.PRACTITIONER])
    return people[UserRole.PRACTITIONER]


def _attempts(db: Session, **where: object) -> int:
    q = select(func.count()).select_from(DrillAttempt)
    for k, v in where.items():
        q = q.where(getattr(DrillAttempt, k) == v)
    return int(db.scalar(q) or 0)


def _text(resp) -> str:  # type: ignore[no-untyped-def]
    return resp.get_data(as_text=True)


# ------------------------------------------------------------- the answer rule

def test_judge_roadblock_beats_a_hit() -> None:
    code, conf, hit, block = judge("complex_reflection",
                                   [("You feel judged.", "CR", 0.9),
                                    ("You should go anyway.", "PERSUADE", 0.7)])
    assert (code, hit, block) == ("PERSUADE", False, "PERSUADE") and conf == 0.7


def test_judge_any_target_utterance_hits() -> None:
    code, conf, hit, block = judge("complex_reflection",
                                   [("You feel judged.", "CR", 0.6),
                                    ("Is that right?", "Q_CLOSED", 0.9)])
    assert (code, hit, block) == ("CR", True, None) and conf == 0.6
    # A complex reflection also counts for a simple-reflection drill.
    assert judge("simple_reflection", [("x", "CR", 0.8)])[2] is True


def test_judge_otherwise_reports_the_last_utterance() -> None:
    code, _, hit, _ = judge("open_question", [("Right.", "NONE", 0.5),
                                              ("Do you drink every day?", "Q_CLOSED", 0.95)])
    assert (code, hit) == ("Q_CLOSED", False)
    assert judge("open_question", []) == ("NONE", 0.0, False, None)


def test_answer_problems_are_worded_for_people() -> None:
    assert "Type what you would say" in (answer_problem("   \n ") or "")
    long = answer_problem("a" * 10_000) or ""
    assert "10,000 characters" in long and f"{MAX_ANSWER_CHARS:,}" in long
    assert answer_problem("a" * MAX_ANSWER_CHARS) is None
    assert "needs some words" in (answer_problem("?!? ...") or "")
    assert answer_problem("What would help?") is None


# --------------------------------------------------------- drill pages (coder)

def test_drills_list_and_filters(client, course, learner) -> None:
    html = _text(client.get("/learn/drills"))
    assert html.count('href="/learn/drills/d-') == 7
    html = _text(client.get("/learn/drills?skill=open_question"))
    assert html.count('href="/learn/drills/d-') == 2 and "d-extra" in html
    html = _text(client.get("/learn/drills?discipline=mental_health"))
    assert html.count('href="/learn/drills/d-') == 1 and "d-af" in html
    # Unknown filter values are ignored rather than breaking the page.
    assert _text(client.get("/learn/drills?skill=<b>")).count('href="/learn/drills/d-') == 7


def test_drill_page_has_a_labelled_answer_box(client, course, learner) -> None:
    html = _text(client.get("/learn/drills/d-open"))
    assert "The school is always on at me about Kayden." in html
    assert '<label for="response">What would you say to the parent?</label>' in html
    assert 'data-max-chars="2000"' in html and "learn.js" in html
    assert client.get("/learn/drills/nope").status_code == 404


@pytest.mark.slow
def test_open_question_hits_with_real_coder(client, db, course, learner) -> None:
    resp = client.post("/learn/drills/d-open",
                       data={"response": "What are mornings like for you and the kids?"})
    html = _text(resp)
    assert resp.status_code == 200
    assert "That was an open question." in html
    assert "Well done: that hits the skill" in html
    assert "How sure the coder is:" in html
    assert "What are mornings like at the moment?" in html   # model answers
    assert "How do you see it?" in html
    assert "Keep it short and warm." in html                  # tip
    attempt = db.scalar(select(DrillAttempt).where(DrillAttempt.user_id == learner.id))
    assert attempt.code == "Q_OPEN" and attempt.hit and attempt.coder_version
    assert 0 < attempt.confidence <= 1
    assert attempt.response_text == "What are mornings like for you and the kids?"


@pytest.mark.slow
def test_closed_question_is_named(client, db, course, learner) -> None:
    html = _text(client.post("/learn/drills/d-open",
                             data={"response": "Do you want to stop drinking?"}))
    assert "That was a closed question." in html
    assert "Not quite the skill this drill practises (open question)" in html
    assert "How to hit it:" in html and "start with" in html
    attempt = db.scalar(select(DrillAttempt).where(DrillAttempt.user_id == learner.id))
    assert attempt.code == "Q_CLOSED" and not attempt.hit


@pytest.mark.slow
def test_roadblock_is_named_kindly(client, db, course, learner) -> None:
    html = _text(client.post("/learn/drills/d-cr",
                             data={"response": "You should go to the group."}))
    assert "That included advice or a warning given without permission." in html
    assert "It comes from a good place" in html
    assert "Would it be OK if I shared" in html
    assert _attempts(db, user_id=learner.id, hit=False) == 1


@pytest.mark.slow
def test_user_text_is_escaped_in_feedback(client, course, learner) -> None:
    html = _text(client.post("/learn/drills/d-open", data={
        "response": "What would help? <img src=x onerror=alert(1)> And how?"}))
    assert "<img src=x" not in html and "&lt;img src=x" in html


@pytest.mark.parametrize("answer, message", [
    ("", "Type what you would say to the parent"),
    ("   \n\t ", "Type what you would say to the parent"),
    ("x" * 10_000, "Your response is 10,000 characters long"),
])
def test_bad_answers_get_clear_messages_and_save_nothing(client, db, course, learner,
                                                          answer: str, message: str) -> None:
    resp = client.post("/learn/drills/d-open", data={"response": answer})
    html = _text(resp)
    assert resp.status_code == 400
    assert message in html and 'role="alert"' in html
    assert 'aria-invalid="true"' in html
    assert _attempts(db) == 0


def test_coder_failure_is_reported_and_nothing_saved(client, db, course, learner,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from coding.errors import ModelError

    def broken() -> None:
        raise ModelError("no coder model in /models")
    monkeypatch.setattr("mitrain.services.coder.get_coder", broken)
    resp = client.post("/learn/drills/d-open", data={"response": "What would help?"})
    assert resp.status_code == 400
    assert "The coder could not check your response just now" in _text(resp)
    assert _attempts(db) == 0


def test_retired_drills_are_gone(client, db, course, learner) -> None:
    drill = db.scalar(select(Drill).where(Drill.slug == "d-extra"))
    drill.active = False
    db.commit()
    assert client.get("/learn/drills/d-extra").status_code == 404
    assert "d-extra" not in _text(client.get("/learn/drills"))


def test_drills_are_for_practitioners(client, auth, course, people) -> None:
    auth.login(people[UserRole.TRAINER])
    assert client.get("/learn/drills/d-open").status_code == 403
    assert client.post("/learn/drills/d-open", data={"response": "Hi?"}).status_code == 403


# ---------------------------------------------------------------- skills check

@pytest.fixture
def fake_coder(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Code every answer as ``state['code']`` (the check's flow, not the coder, is tested)."""
    state = {"code": "NONE"}

    def code(statement: str, answer: str) -> tuple[list[tuple[str, str, float]], str]:
        return [(answer, state["code"], 0.9)], "fake-1"
    monkeypatch.setattr(drill_service, "_code_answer", code)
    return state


def _take_check(client, phase: str,  # type: ignore[no-untyped-def]
                answer: str = "What would help?") -> str:
    resp = client.post(f"/learn/skills-check/{phase}/start")
    assert resp.status_code == 302
    url = resp.headers["Location"]
    for n in range(1, 7):
        page = _text(client.get(url))
        assert f"item {n} of 6" in page
        slug = page.split('name="drill" type="hidden" value="')[1].split('"')[0]
        resp = client.post(url, data={"drill": slug, "response": answer})
        assert resp.status_code == 302
    return resp.headers["Location"]


def test_pre_and_post_check_show_the_change(client, db, course, learner,
                                            fake_coder: dict[str, str]) -> None:
    page = _text(client.get("/learn/skills-check"))
    assert "Start the “before” check" in page
    assert "Available once you have taken the “before” check." in page

    fake_coder["code"] = "Q_OPEN"        # hits the two question drills only
    result_url = _take_check(client, "pre")
    result = _text(client.get(result_url))
    assert "Skills check before the course: 2 of 6" in result
    pre = db.scalar(select(SkillsCheck).where(SkillsCheck.phase == "pre"))
    assert pre.completed_at is not None and pre.score == pytest.approx(2 / 6)
    assert _attempts(db, skills_check_id=pre.id) == 6

    # The "before" check is taken once; the result page stays readable.
    resp = client.post("/learn/skills-check/pre/start")
    assert "already taken" in _text(client.get(resp.headers["Location"]))
    assert client.get(f"/learn/skills-check/{pre.id}").status_code == 302

    fake_coder["code"] = "CR"            # hits sr, cr, sustain and change
    result = _text(client.get(_take_check(client, "post")))
    assert "Skills check after the course: 4 of 6" in result
    assert "Your change: +33 percentage points" in result
    summary = _text(client.get("/learn/skills-check"))
    assert "Before: 33% · After: 67%" in summary
    progress = _text(client.get("/learn/progress"))
    assert "before 33%, after 67% (+33 points)" in progress
    # Check answers are not counted as drill practice.
    assert "No drills answered yet" in progress


@pytest.mark.parametrize("code, headline, kind_words", [
    ("PERSUADE", "That included advice or a warning given without permission.",
     "It comes from a good place"),
    ("CONFRONT", "That included a confronting response.",
     "That is a very human reaction when a child\u2019s safety is at stake"),
])
def test_roadblocks_are_named_kindly(client, db, course, learner, fake_coder: dict[str, str],
                                     code: str, headline: str, kind_words: str) -> None:
    fake_coder["code"] = code
    html = _text(client.post("/learn/drills/d-cr",
                             data={"response": "If you carry on, the children will be removed."}))
    assert headline in html and kind_words in html
    assert "Not quite the skill" in html
    assert _attempts(db, user_id=learner.id, hit=False, code=code) == 1


def test_post_check_needs_a_pre_check(client, db, course, learner) -> None:
    resp = client.post("/learn/skills-check/post/start")
    assert "Take the “before” skills check first" in _text(client.get(resp.headers["Location"]))
    assert db.scalar(select(func.count()).select_from(SkillsCheck)) == 0
    assert client.post("/learn/skills-check/later/start").status_code == 404


def test_check_item_bad_input_and_resume(client, db, course, learner,
                                         fake_coder: dict[str, str]) -> None:
    url = client.post("/learn/skills-check/pre/start").headers["Location"]
    page = _text(client.get(url))
    slug = page.split('name="drill" type="hidden" value="')[1].split('"')[0]
    resp = client.post(url, data={"drill": slug, "response": ""})
    assert resp.status_code == 400 and "Type what you would say" in _text(resp)
    resp = client.post(url, data={"drill": slug, "response": "y" * 10_000})
    assert resp.status_code == 400 and "10,000 characters" in _text(resp)
    resp = client.post(url, data={"drill": "d-extra", "response": "What now?"})  # not next
    assert resp.status_code == 400
    assert _attempts(db) == 0
    client.post(url, data={"drill": slug, "response": "What now?"})
    # Starting again resumes the same sitting at item 2.
    again = client.post("/learn/skills-check/pre/start").headers["Location"]
    assert again == url and "item 2 of 6" in _text(client.get(url))
    assert db.scalar(select(func.count()).select_from(SkillsCheck)) == 1


def test_someone_elses_check_is_refused(client, auth, db, course, people,
                                        fake_coder: dict[str, str]) -> None:
    other = make_user(db, UserRole.PRACTITIONER)
    auth.login(other)
    url = client.post("/learn/skills-check/pre/start").headers["Location"]
    auth.logout()
    auth.login(people[UserRole.PRACTITIONER])
    assert client.get(url).status_code == 403
    assert client.post(url, data={"drill": "d-open", "response": "Hi?"}).status_code == 403
    assert client.get(url + "/result").status_code == 403


@pytest.mark.slow
def test_drill_accuracy_per_skill_on_progress(client, course, learner) -> None:
    client.post("/learn/drills/d-open", data={"response": "What would make mornings easier?"})
    client.post("/learn/drills/d-open", data={"response": "Do you want to stop drinking?"})
    html = _text(client.get("/learn/progress"))
    assert "Open question</th><td>1 of 2</td>" in html
    assert "Open question 1/2" in _text(client.get("/learn/drills"))
