"""Course content sync: idempotent, keeps learners' progress across edits, retires
removed items, and refuses broken content with a precise message (nothing half-saved).

``write_course`` builds a small course used by the learning and drill tests too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mitrain.content import ContentError, default_course_dir, load_course_dir
from mitrain.courses_cli import courses
from mitrain.models import (
    Course,
    Drill,
    DrillAttempt,
    Lesson,
    LessonProgress,
    Module,
    QuizAttempt,
    Scenario,
    UserRole,
)
from mitrain.services.content_sync import sync_course, sync_course_dir, sync_course_if_available

from ..factories import make_user

COURSE = """\
slug: test-course
title: Test course in MI
summary: A small course for tests.
pass_mark: 0.75
sequential: true
"""

MODULES = {
    "01-intro": ("""\
slug: intro
title: Introduction to MI
order: 1
summary: Where it starts.
""", {"01-welcome.md": ("welcome", "Welcome", 1), "02-spirit.md": ("spirit", "The spirit", 2)},
        """\
items:
  - id: intro-q1
    kind: single
    prompt: What does MI stand for?
    options: [Motivational Interviewing, Mandatory Instruction, Managed Intervention]
    correct: 0
    explanation: MI is Motivational Interviewing.
  - id: intro-q2
    kind: multiple
    prompt: Which are parts of the spirit of MI? Choose all that apply.
    options: [Partnership, Acceptance, Compliance, Compassion]
    correct: [0, 1, 3]
    explanation: Compliance is not part of the spirit; evocation is.
"""),
    "02-middle": ("""\
slug: middle
title: Reflections
order: 2
summary: Reflective listening.
""", {"01-reflect.md": ("reflect", "Reflecting", 1)}, """\
items:
  - id: middle-q1
    kind: complex_reflection
    prompt: Which is a complex reflection?
    statement: "I'm sick of you lot checking up on me."
    options: ["You're sick of us.", "It feels like nobody trusts you with your own kids."]
    correct: 1
    explanation: The second adds the meaning underneath.
"""),
    "03-extra": ("""\
slug: extra
title: Change talk
order: 3
summary: Hearing change talk.
prerequisites: [intro]
""", {"01-darn.md": ("darn", "DARN-CAT", 1)}, """\
items:
  - id: extra-q1
    kind: single
    prompt: Which is change talk?
    options: ["I want to be a better mum.", "I'm fine as I am."]
    correct: 0
    explanation: Desire to change is change talk.
"""),
}

LESSON = """\
---
slug: {slug}
title: {title}
order: {order}
minutes: 5
---
# {title}

A lesson about **{title}**, with a worked example.

> **Parent:** I'm tired of people checking up on me.
>
> **Practitioner:** It feels like nobody trusts you. `CR`
"""


def _drill(slug: str, skill: str, code: str, statement: str, answers: tuple[str, str],
           discipline: str = "social_work") -> str:
    return f"""\
  - slug: {slug}
    discipline: {discipline}
    context: A home visit.
    client_statement: "{statement}"
    skill: {skill}
    example_responses:
      - text: "{answers[0]}"
        code: {code}
      - text: "{answers[1]}"
        code: {code}
    tip: Keep it short and warm.
"""


DRILLS = "drills:\n" + "".join([
    _drill("d-open", "open_question", "Q_OPEN", "The school is always on at me about Kayden.",
           ("What are mornings like at the moment?", "How do you see it?")),
    _drill("d-sr", "simple_reflection", "SR", "I'm tired of all these meetings.",
           ("You're tired of the meetings.", "It's a lot of meetings."), "domestic_abuse"),
    _drill("d-cr", "complex_reflection", "CR", "You're here to take my kids off me.",
           ("You're frightened this is the start of losing them.",
            "It feels like it's already been decided."), "substance_misuse"),
    _drill("d-af", "affirmation", "AF", "I went to the group last week even though I hated it.",
           ("You did something hard for your kids.", "You kept your word."), "mental_health"),
    _drill("d-sustain", "responding_to_sustain_talk", "CR", "I'm not stopping drinking.",
           ("You're not ready to stop, and it's your choice.", "Stopping isn't on the cards."),),
    _drill("d-change", "eliciting_change_talk", "Q_OPEN", "Maybe I drink a bit much.",
           ("What makes you think it might be too much?", "How would things be different?")),
    _drill("d-extra", "open_question", "Q_OPEN", "I don't want to talk about him.",
           ("What would you like to talk about today?", "What feels OK to talk about?")),
]) + """\
skills_check:
  - d-open
  - d-sr
  - d-cr
  - d-af
  - d-sustain
  - d-change
"""

SCENARIOS = """\
scenarios:
  - slug: s-first-visit
    title: First visit
    discipline: social_work
    persona:
      name: Gemma
      age: 27
      family: Two children.
    background: A school referral.
    practitioner_focus:
      - Open questions
    client_brief: Be wary.
    client_good_mi: Open up.
    client_poor_mi: Close down.
    opening_line: What now?
    minutes: 15
"""


def _write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def write_course(root: Path) -> Path:
    """A valid three-module course: intro -> middle (sequential) and extra (needs intro)."""
    _write(root, "course.yaml", COURSE)
    for folder, (module, lessons, quiz) in MODULES.items():
        _write(root, f"modules/{folder}/module.yaml", module)
        _write(root, f"modules/{folder}/quiz.yaml", quiz)
        for name, (slug, title, order) in lessons.items():
            _write(root, f"modules/{folder}/lessons/{name}",
                   LESSON.format(slug=slug, title=title, order=order))
    _write(root, "drills.yaml", DRILLS)
    _write(root, "scenarios.yaml", SCENARIOS)
    load_course_dir(root)  # the fixture itself must be valid
    return root


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    return write_course(tmp_path / "course")


def _count(db: Session, model: type, **where: object) -> int:
    q = select(func.count()).select_from(model)
    for key, value in where.items():
        q = q.where(getattr(model, key) == value)
    return int(db.scalar(q) or 0)


# ------------------------------------------------------------------ idempotence

def test_first_sync_creates_everything(db: Session, course_dir: Path) -> None:
    report = sync_course_dir(db, course_dir)
    assert report.course_created and report.changed
    assert report.created["module"] == 3 and report.created["lesson"] == 4
    assert report.created["drill"] == 7 and report.created["scenario"] == 1
    course = db.scalar(select(Course))
    assert course.slug == "test-course" and course.pass_mark == 0.75 and course.sequential
    mods = db.scalars(select(Module).order_by(Module.position)).all()
    assert [m.slug for m in mods] == ["intro", "middle", "extra"]
    assert mods[2].prerequisites == ["intro"]
    assert [q["id"] for q in mods[0].quiz] == ["intro-q1", "intro-q2"]
    assert mods[0].quiz[1]["correct"] == [0, 1, 3]
    assert _count(db, Drill, in_skills_check=True) == 6
    scenario = db.scalar(select(Scenario))
    assert scenario.card["persona"]["name"] == "Gemma" and "slug" not in scenario.card
    assert "3 modules" in report.summary() and "new:" in report.summary()


def test_second_sync_changes_nothing(db: Session, course_dir: Path) -> None:
    sync_course_dir(db, course_dir)
    before = {m.id: m.title for m in db.scalars(select(Module))}
    again = sync_course_dir(db, course_dir)
    assert not again.changed
    assert "no changes" in again.summary()
    assert {m.id: m.title for m in db.scalars(select(Module))} == before
    assert _count(db, Lesson) == 4 and _count(db, Drill) == 7 and _count(db, Course) == 1


def test_edit_keeps_progress_and_retires_removed_items(db: Session, course_dir: Path) -> None:
    sync_course_dir(db, course_dir)
    user = make_user(db, UserRole.PRACTITIONER)
    intro = db.scalar(select(Module).where(Module.slug == "intro"))
    welcome = db.scalar(select(Lesson).where(Lesson.slug == "welcome"))
    spirit = db.scalar(select(Lesson).where(Lesson.slug == "spirit"))
    drill = db.scalar(select(Drill).where(Drill.slug == "d-extra"))
    db.add_all([LessonProgress(user_id=user.id, lesson_id=welcome.id),
                LessonProgress(user_id=user.id, lesson_id=spirit.id),
                QuizAttempt(user_id=user.id, module_id=intro.id, score=1.0, passed=True),
                DrillAttempt(user_id=user.id, drill_id=drill.id, response_text="x", code="Q_OPEN",
                             confidence=0.9, hit=True, coder_version="v")])
    db.commit()

    # Edit a lesson's text and title, remove another lesson and a drill.
    lesson = course_dir / "modules/01-intro/lessons/01-welcome.md"
    lesson.write_text(lesson.read_text().replace("title: Welcome", "title: Welcome to MI")
                      + "\nA new paragraph.\n")
    (course_dir / "modules/01-intro/lessons/02-spirit.md").unlink()
    drills = course_dir / "drills.yaml"
    text = drills.read_text()
    start = text.index("  - slug: d-extra")
    drills.write_text(text[:start] + text[text.index("skills_check:"):])

    report = sync_course_dir(db, course_dir)
    assert report.updated["lesson"] == 1
    assert report.deactivated["lesson"] == 1 and report.deactivated["drill"] == 1
    db.expire_all()
    assert db.get(Lesson, welcome.id).title == "Welcome to MI"           # same row, new text
    assert "A new paragraph." in db.get(Lesson, welcome.id).body_markdown
    assert db.get(Lesson, spirit.id).active is False                    # retired, not deleted
    assert db.get(Drill, drill.id).active is False
    assert _count(db, LessonProgress, user_id=user.id) == 2             # progress kept
    assert _count(db, QuizAttempt, user_id=user.id) == 1
    assert _count(db, DrillAttempt, user_id=user.id) == 1

    # Putting the lesson back brings back the same row (and the learner's tick).
    write_course(course_dir)
    report = sync_course_dir(db, course_dir)
    assert report.reactivated["lesson"] == 1 and report.reactivated["drill"] == 1
    db.expire_all()
    assert db.get(Lesson, spirit.id).active is True


def test_removed_module_is_retired_with_its_lessons(db: Session, course_dir: Path) -> None:
    sync_course_dir(db, course_dir)
    shutil.rmtree(course_dir / "modules/03-extra")
    report = sync_course_dir(db, course_dir)
    assert report.deactivated["module"] == 1 and report.deactivated["lesson"] == 1
    extra = db.scalar(select(Module).where(Module.slug == "extra"))
    assert extra is not None and not extra.active
    assert all(not ls.active for ls in extra.lessons)


# ------------------------------------------------------------------ bad content

def test_content_with_a_typo_is_refused_and_nothing_is_saved(db: Session,
                                                             course_dir: Path) -> None:
    quiz = course_dir / "modules/02-middle/quiz.yaml"
    quiz.write_text(quiz.read_text().replace("correct: 1", "corect: 1"))
    with pytest.raises(ContentError) as err:
        sync_course_dir(db, course_dir)
    message = str(err.value)
    assert "modules/02-middle/quiz.yaml:" in message
    assert "items[0].corect: unknown field" in message
    assert "items[0].correct: required field is missing" in message
    assert _count(db, Course) == 0 and _count(db, Module) == 0 and _count(db, Drill) == 0


def test_failed_sync_rolls_back_completely(db: Session, course_dir: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    content = load_course_dir(course_dir)
    import mitrain.services.content_sync as cs

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk full")
    monkeypatch.setattr(cs, "_retire", boom)  # fails after modules and lessons were added
    with pytest.raises(RuntimeError):
        sync_course(db, content)
    assert _count(db, Course) == 0 and _count(db, Module) == 0 and _count(db, Lesson) == 0


def test_sync_if_available_reports_in_one_line(app, db: Session, course_dir: Path) -> None:
    app.config["COURSE_DIR"] = str(course_dir)
    message = sync_course_if_available(app)
    assert message is not None and message.startswith("Course 'test-course' synced")
    assert "\n" not in message and _count(db, Module) == 3
    (course_dir / "course.yaml").write_text(COURSE.replace("title:", "titel:"))
    broken = sync_course_if_available(app)
    assert broken is not None and "2 problems" in broken and "mitrain courses sync" in broken
    app.config["COURSE_DIR"] = str(course_dir / "missing")
    assert "No course content" in (sync_course_if_available(app) or "")


def test_shipped_course_syncs(db: Session) -> None:
    report = sync_course_dir(db, default_course_dir())
    assert report.active["module"] >= 9 and report.active["drill"] >= 40
    assert _count(db, Drill, in_skills_check=True) == 10
    assert not sync_course_dir(db, default_course_dir()).changed


# ------------------------------------------------------------------------- CLI

def test_cli_sync_prints_problems_and_exits_2(app, course_dir: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MITRAIN_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("MITRAIN_MODEL_DIR", app.config["MODEL_DIR"])
    lesson = course_dir / "modules/01-intro/lessons/01-welcome.md"
    lesson.write_text(lesson.read_text().replace("minutes: 5", "minutes: five"))
    result = CliRunner().invoke(courses, ["sync", str(course_dir)])
    assert result.exit_code == 2
    assert ("modules/01-intro/lessons/01-welcome.md:5: minutes: expected a whole number"
            in result.output)
    assert "Traceback" not in result.output and "Nothing was synced" in result.output


def test_cli_sync_and_check(app, db: Session, course_dir: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MITRAIN_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("MITRAIN_MODEL_DIR", app.config["MODEL_DIR"])
    checked = CliRunner().invoke(courses, ["check", str(course_dir)])
    assert checked.exit_code == 0 and "is valid" in checked.output and "3 modules" in checked.output
    assert _count(db, Module) == 0
    result = CliRunner().invoke(courses, ["sync", str(course_dir)])
    assert result.exit_code == 0, result.output
    assert "Course 'test-course' synced" in result.output
    assert _count(db, Module) == 3
    again = CliRunner().invoke(courses, ["sync", str(course_dir)])
    assert "no changes" in again.output
