"""Learners' progress: lessons done, quiz attempts, prerequisites, course completion.

Rules (kept in one place so the pages, the certificate and the workforce views
agree):

- A module is *passed* when any quiz attempt reaches its pass mark (the
  module's own, else the course's). The best score is the highest attempt.
- A module is *open* when every prerequisite is passed. Prerequisites are the
  module's own list plus, when modules are sequential (the course's
  ``sequential`` flag AND the ``SEQUENTIAL_MODULES`` setting), the module
  before it. Retired (inactive) modules never block anyone.
- The course is *complete* when every active module is passed; the completion
  date is when the last of them was first passed.
- Staff (trainers, leads, admins) browse in preview: nothing is locked and no
  progress is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..content import QuizContent, QuizItem, QuizResult, score_quiz
from ..models import (
    Course,
    Lesson,
    LessonProgress,
    Module,
    QuizAttempt,
    Recording,
    RecordingStatus,
    Review,
    ReviewStatus,
    User,
)
from . import ServiceError

__all__ = [
    "MITI_MEASURES",
    "Certificate",
    "CourseProgress",
    "LessonState",
    "MitiPoint",
    "ModuleState",
    "ReviewedQuizItem",
    "active_modules",
    "certificate",
    "course_progress",
    "current_course",
    "latest_feedback",
    "mark_lesson_done",
    "miti_history",
    "module_state",
    "pass_mark_for",
    "quiz_content",
    "quiz_problems",
    "review_attempt",
    "submit_quiz",
]


@dataclass(frozen=True)
class LessonState:
    lesson: Lesson
    done: bool


@dataclass
class ModuleState:
    """One module as one learner sees it."""

    module: Module
    pass_mark: float
    lessons: list[LessonState]
    attempts: int = 0
    best_score: float | None = None
    passed_at: datetime | None = None
    waiting_for: list[Module] = field(default_factory=list)  # unpassed prerequisites

    @property
    def passed(self) -> bool:
        return self.passed_at is not None

    @property
    def locked(self) -> bool:
        return bool(self.waiting_for)

    @property
    def lessons_done(self) -> int:
        return sum(1 for s in self.lessons if s.done)

    @property
    def status(self) -> str:
        """``passed``, ``locked``, ``in_progress`` or ``not_started``."""
        if self.passed:
            return "passed"
        if self.locked:
            return "locked"
        return "in_progress" if self.attempts or self.lessons_done else "not_started"

    @property
    def status_label(self) -> str:
        return {"passed": "Passed", "locked": "Locked", "in_progress": "In progress",
                "not_started": "Not started"}[self.status]

    def next_lesson(self) -> Lesson | None:
        """The first lesson not yet marked done."""
        return next((s.lesson for s in self.lessons if not s.done), None)


@dataclass
class CourseProgress:
    """A learner's progress through one course (active modules, in order)."""

    course: Course
    modules: list[ModuleState]
    preview: bool = False

    @property
    def passed_count(self) -> int:
        return sum(1 for m in self.modules if m.passed)

    @property
    def complete(self) -> bool:
        return bool(self.modules) and all(m.passed for m in self.modules)

    @property
    def completed_at(self) -> datetime | None:
        if not self.complete:
            return None
        return max(m.passed_at for m in self.modules if m.passed_at is not None)

    @property
    def average_best_score(self) -> float | None:
        """Mean of the best scores of the modules attempted (0..1)."""
        scores = [m.best_score for m in self.modules if m.best_score is not None]
        return sum(scores) / len(scores) if scores else None

    def module(self, slug: str) -> ModuleState | None:
        return next((m for m in self.modules if m.module.slug == slug), None)

    def next_module(self) -> ModuleState | None:
        """Where to carry on: the first open module that is not yet passed."""
        return next((m for m in self.modules if not m.passed and not m.locked), None)


def current_course(db: Session) -> Course | None:
    """The course on offer: the most recently synced one (one per deployment today)."""
    return db.scalar(select(Course).order_by(Course.synced_at.desc(), Course.id.desc()).limit(1))


def pass_mark_for(module: Module) -> float:
    """The module's own pass mark, else the course's (0..1)."""
    return module.pass_mark if module.pass_mark is not None else module.course.pass_mark


def _active_modules(db: Session, course: Course) -> list[Module]:
    return list(db.scalars(select(Module).where(Module.course_id == course.id,
                                                Module.active.is_(True))
                           .order_by(Module.position)))


def module_state(module: Module, attempts: Sequence[QuizAttempt],
                 lessons: Sequence[Lesson] = (), done: Iterable[int] = ()) -> ModuleState:
    """One module's state from a learner's quiz attempts (oldest first) and lessons done.

    Shared with the workforce figures, which apply it to many learners at once.
    """
    passes = [a for a in attempts if a.passed]
    finished = set(done)
    return ModuleState(
        module=module, pass_mark=pass_mark_for(module),
        lessons=[LessonState(ls, ls.id in finished) for ls in lessons],
        attempts=len(attempts),
        best_score=max((a.score for a in attempts), default=None),
        passed_at=passes[0].created_at if passes else None)


def active_modules(db: Session, course: Course) -> list[Module]:
    """The course's active modules, in order."""
    return _active_modules(db, course)


def course_progress(db: Session, user: User | None, course: Course, *,
                    sequential: bool) -> CourseProgress:
    """Each active module's lessons, attempts, best score and lock state for ``user``.

    ``user=None`` gives the staff preview: nothing locked, nothing done.
    ``sequential`` is the deployment's ``SEQUENTIAL_MODULES`` setting; the
    course's own flag must also be on for the previous-module rule to apply.
    """
    modules = _active_modules(db, course)
    ids = [m.id for m in modules]
    lessons: dict[int, list[Lesson]] = {i: [] for i in ids}
    for ls in db.scalars(select(Lesson).where(Lesson.module_id.in_(ids),
                                              Lesson.active.is_(True))
                         .order_by(Lesson.position)):
        lessons[ls.module_id].append(ls)
    done: set[int] = set()
    attempts: dict[int, list[QuizAttempt]] = {i: [] for i in ids}
    if user is not None:
        done = set(db.scalars(select(LessonProgress.lesson_id)
                              .where(LessonProgress.user_id == user.id)))
        for a in db.scalars(select(QuizAttempt).where(QuizAttempt.user_id == user.id,
                                                      QuizAttempt.module_id.in_(ids))
                            .order_by(QuizAttempt.created_at, QuizAttempt.id)):
            attempts[a.module_id].append(a)

    states: dict[str, ModuleState] = {}
    ordered: list[ModuleState] = []
    for m in modules:
        state = module_state(m, attempts[m.id], lessons[m.id], done)
        states[m.slug] = state
        ordered.append(state)

    if user is not None:
        use_previous = sequential and course.sequential
        for i, state in enumerate(ordered):
            needed = [s for s in state.module.prerequisites or [] if s in states]
            if use_previous and i > 0 and ordered[i - 1].module.slug not in needed:
                needed.append(ordered[i - 1].module.slug)
            state.waiting_for = [states[s].module for s in needed if not states[s].passed]
    return CourseProgress(course, ordered, preview=user is None)


def mark_lesson_done(db: Session, user: User, lesson: Lesson) -> bool:
    """Record that ``user`` finished ``lesson``; False if it was already done."""
    exists = db.scalar(select(LessonProgress.id).where(LessonProgress.user_id == user.id,
                                                       LessonProgress.lesson_id == lesson.id))
    if exists is not None:
        return False
    db.add(LessonProgress(user_id=user.id, lesson_id=lesson.id))
    db.commit()
    return True


def quiz_content(module: Module) -> QuizContent:
    """The module's quiz as content objects (stored as JSON by the sync)."""
    items = []
    for raw in module.quiz or []:
        items.append(QuizItem(id=str(raw["id"]), kind=str(raw["kind"]), prompt=str(raw["prompt"]),
                              statement=raw.get("statement"), options=list(raw["options"]),
                              correct=[int(c) for c in raw["correct"]],
                              explanation=str(raw.get("explanation", ""))))
    return QuizContent(items)


def quiz_problems(quiz: QuizContent, answers: Mapping[str, Sequence[int]]) -> dict[str, str]:
    """Why each answer cannot be marked (item id -> message); empty when all can."""
    problems: dict[str, str] = {}
    for n, item in enumerate(quiz.items, start=1):
        chosen = list(answers.get(item.id, ()))
        if not chosen:
            problems[item.id] = f"Question {n} has no answer yet."
        elif any(not 0 <= c < len(item.options) for c in chosen):
            problems[item.id] = f"Question {n} has an answer that is not one of its options."
        elif item.kind != "multiple" and len(set(chosen)) != 1:
            problems[item.id] = f"Question {n} takes one answer only."
    return problems


def submit_quiz(db: Session, user: User, module: Module,
                answers: Mapping[str, Iterable[int]]) -> tuple[QuizAttempt, QuizResult]:
    """Mark and store one attempt at a module's quiz.

    Raises :class:`ServiceError` (nothing saved) when an item is unanswered or
    an answer is not one of the item's options.
    """
    quiz = quiz_content(module)
    if not quiz.items:
        raise ServiceError("This module has no quiz.")
    clean = {k: sorted({int(v) for v in vals}) for k, vals in answers.items()}
    problems = quiz_problems(quiz, clean)
    if problems:
        raise ServiceError("Please answer every question before submitting: "
                           + " ".join(problems.values()))
    result = score_quiz(quiz, clean)
    passed = result.passed(pass_mark_for(module))
    attempt = QuizAttempt(
        user_id=user.id, module_id=module.id, score=result.score, passed=passed,
        answers={"chosen": {i.id: clean.get(i.id, []) for i in quiz.items},
                 "correct": {r.id: r.correct for r in result.items}})
    db.add(attempt)
    db.commit()
    return attempt, result


@dataclass(frozen=True)
class ReviewedQuizItem:
    """One question of a past attempt, for the result page."""

    number: int
    item: QuizItem
    chosen: list[int]
    correct: bool


def review_attempt(module: Module, attempt: QuizAttempt) -> list[ReviewedQuizItem]:
    """The attempt's answers against the current quiz text, with explanations.

    Correctness is what was marked at the time (stored with the attempt), so a
    later edit to the quiz does not rewrite anyone's history.
    """
    quiz = quiz_content(module)
    chosen: dict[str, list[int]] = (attempt.answers or {}).get("chosen", {})
    marked: dict[str, bool] = (attempt.answers or {}).get("correct", {})
    out = []
    for n, item in enumerate(quiz.items, start=1):
        picks = [int(c) for c in chosen.get(item.id, [])]
        ok = marked.get(item.id, sorted(picks) == sorted(item.correct))
        out.append(ReviewedQuizItem(n, item, picks, bool(ok)))
    return out


@dataclass(frozen=True)
class Certificate:
    """What the printable certificate shows."""

    name: str
    course_title: str
    completed_at: datetime
    modules: list[tuple[str, float]]   # title, best score (0..1)
    score: float                       # mean of the modules' best scores (0..1)


def certificate(db: Session, user: User, course: Course, *,
                sequential: bool) -> Certificate | None:
    """The certificate for a completed course, or None while it is incomplete."""
    progress = course_progress(db, user, course, sequential=sequential)
    if not progress.complete or progress.completed_at is None:
        return None
    mods = [(m.module.title, m.best_score or 0.0) for m in progress.modules]
    return Certificate(user.name, course.title, progress.completed_at, mods,
                       sum(s for _, s in mods) / len(mods))


# ------------------------------------------------------------- practice history

# What the progress charts plot, from ``Recording.summary`` (coding.miti.summarise):
# key -> (label, fair, good, unit). Thresholds are MITI 4.2.1 (%open: MITI 3.1.1).
MITI_MEASURES: dict[str, tuple[str, float, float, str]] = {
    "rq_ratio": ("Reflections per question (R:Q)", 1.0, 2.0, ":1"),
    "pct_complex_reflections": ("Complex reflections (%CR)", 40.0, 50.0, "%"),
    "pct_open_questions": ("Open questions (%)", 50.0, 70.0, "%"),
    "relational": ("Relational (estimate, 1\u20135)", 3.5, 4.0, ""),
    "technical": ("Technical (estimate, 1\u20135)", 3.0, 4.0, ""),
}


@dataclass(frozen=True)
class MitiPoint:
    """One coded recording's summary scores."""

    recording_id: int
    title: str
    at: datetime
    values: dict[str, float | None]


def _summary_value(summary: dict[str, Any], key: str) -> float | None:
    value = (summary.get("thresholds") or {}).get(key, {}).get("value")
    if value is None:
        value = summary.get(key)
        if value is None and key in ("relational", "technical"):
            value = (summary.get("globals_estimated") or {}).get(key)
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def miti_history(db: Session, user: User) -> list[MitiPoint]:
    """The user's coded recordings, oldest first, with their MITI summary scores."""
    rows = db.scalars(select(Recording).where(Recording.owner_id == user.id,
                                              Recording.status == RecordingStatus.CODED)
                      .order_by(Recording.created_at, Recording.id))
    out = []
    for r in rows:
        summary = r.summary or {}
        out.append(MitiPoint(r.id, r.title, r.coded_at or r.created_at,
                             {k: _summary_value(summary, k) for k in MITI_MEASURES}))
    return out


def latest_feedback(db: Session, user: User) -> Review | None:
    """The most recent signed-off trainer review of one of the user's recordings."""
    return db.scalar(select(Review).join(Recording, Recording.id == Review.recording_id)
                     .where(Recording.owner_id == user.id,
                            Review.status == ReviewStatus.SIGNED_OFF)
                     .order_by(Review.signed_off_at.desc().nulls_last(), Review.id.desc())
                     .limit(1))
