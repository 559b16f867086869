"""A practitioner takes a lesson and a quiz, then answers a drill and sees the coder's
feedback, in a real browser against `mitrain serve`. Screenshots go to tmp_path."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from mitrain.content import default_course_dir, load_course_dir
from mitrain.db import make_engine
from mitrain.models import UserRole
from mitrain.services.content_sync import sync_course

from .conftest import LiveServer, sign_in


def _sync_shipped_course(server: LiveServer) -> None:
    engine = make_engine(f"sqlite:///{server.instance / 'mitrain.db'}")
    try:
        with Session(engine, expire_on_commit=False) as db:
            sync_course(db, load_course_dir(default_course_dir()))
    finally:
        engine.dispose()


def _shot(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000


def test_practitioner_takes_a_lesson_a_quiz_and_a_drill(page, live_server: LiveServer,
                                                        tmp_path: Path) -> None:
    content = load_course_dir(default_course_dir())
    first = content.modules[0]
    _sync_shipped_course(live_server)
    sign_in(page, live_server, UserRole.PRACTITIONER)

    # Course overview -> first module -> first lesson.
    page.click("header nav >> text=Learn")
    assert page.locator("h1").inner_text() == content.title
    page.click(f"text=Continue: {first.title}")
    page.click(f"a:has-text('{first.lessons[0].title}')")
    assert page.locator("article.learn-lesson h1, article.learn-lesson h2").count() >= 1
    _shot(page, tmp_path / "lesson.png")
    page.click("text=Mark as done and continue")
    assert "marked as done" in page.locator(".flash").inner_text()

    # The quiz: choose every right option, submit, read the result.
    page.goto(f"{live_server.url}/learn/modules/{first.slug}/quiz")
    for item in first.quiz.items:
        for index in item.correct:
            page.check(f"#q-{item.id}-{index}")
    _shot(page, tmp_path / "quiz.png")
    page.click("text=Submit my answers")
    page.wait_for_url("**/quiz/attempts/*")
    assert "You scored 100%" in page.locator("#score-heading").inner_text()
    assert "You passed" in page.content()
    assert page.locator(".learn-explanation").count() == len(first.quiz.items)
    _shot(page, tmp_path / "quiz-result.png")

    # A drill: type an open question and get instant feedback from the coder.
    drill = next(d for d in content.drills if d.skill == "open_question")
    page.click("header nav >> text=Drills")
    page.click(f"a[href='/learn/drills/{drill.slug}']")
    page.fill("textarea#response", "What would you like to be different for the children?")
    assert "characters" in page.locator("#answer-count").inner_text()   # learn.js counter
    # The first answer may train or load the coder in the server (up to a minute or two).
    page.click("text=Check my response", timeout=180_000)
    feedback = page.locator("#feedback")
    heading = feedback.locator("h2").inner_text()
    assert heading.startswith(("That was", "That included"))
    assert "How sure the coder is" in feedback.inner_text()
    assert feedback.locator(".learn-models li").count() >= 1
    _shot(page, tmp_path / "drill-feedback.png")

    # An empty answer gets a clear message, not a coder call.
    page.fill("textarea#response", "   ")
    page.click("text=Check my response")
    assert "Type what you would say to the parent" in page.locator(".error").inner_text()

    # My progress shows the passed module.
    page.click("header nav >> text=My progress")
    assert "1 of" in page.locator("#course-heading + p").inner_text()
    _shot(page, tmp_path / "progress.png")
