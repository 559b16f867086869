"""Course content sync: files (``mitrain.content``) -> database rows.

Rows are matched by stable slugs (course, module, lesson within its module,
drill, scenario), so editing a lesson's text or a quiz keeps every learner's
progress and attempts. Content that disappears from the files is *deactivated*,
never deleted: progress that points at it survives, and comes back into view if
the content returns. A sync is one transaction: it all applies or none of it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..content import ContentError, CourseContent, default_course_dir, load_course_dir
from ..models import Course, Drill, Lesson, Module, Scenario, utcnow

__all__ = ["SyncReport", "course_dir", "sync_course", "sync_course_dir",
           "sync_course_if_available"]

KINDS = ("module", "lesson", "drill", "scenario")


@dataclass
class SyncReport:
    """What one sync did, counted per kind of item (module, lesson, drill, scenario)."""

    course_slug: str
    course_created: bool = False
    course_updated: bool = False
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    deactivated: Counter[str] = field(default_factory=Counter)
    reactivated: Counter[str] = field(default_factory=Counter)
    active: Counter[str] = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        """True when the sync changed anything in the database."""
        return self.course_created or self.course_updated or any(
            sum(c.values()) for c in (self.created, self.updated, self.deactivated,
                                      self.reactivated))

    def summary(self) -> str:
        """One line for the CLI, e.g. ``Course 'x' synced: 9 modules, ...; 2 lessons updated``."""
        counts = ", ".join(f"{self.active[k]} {k}s" for k in KINDS)
        changes = []
        for label, counter in (("new", self.created), ("updated", self.updated),
                               ("reactivated", self.reactivated),
                               ("retired", self.deactivated)):
            parts = [f"{n} {k}{'s' if n != 1 else ''}" for k in KINDS if (n := counter[k])]
            if parts:
                changes.append(f"{label}: {', '.join(parts)}")
        what = "; ".join(changes) if changes else "no changes"
        return f"Course '{self.course_slug}' synced ({counts}); {what}."


def _assign(row: Any, values: dict[str, Any]) -> bool:
    """Set attributes that differ; True if any did."""
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def _upsert(db: Session, report: SyncReport, kind: str, row: Any | None, factory: type,
            keys: dict[str, Any], values: dict[str, Any]) -> Any:
    """Create or update one row; count what happened."""
    report.active[kind] += 1
    if row is None:
        row = factory(**keys, **values, active=True)
        db.add(row)
        report.created[kind] += 1
        return row
    if not row.active:
        row.active = True
        report.reactivated[kind] += 1
    if _assign(row, values):
        report.updated[kind] += 1
    return row


def _retire(rows: list[Any], keep: set[Any], report: SyncReport, kind: str,
            key: str = "slug") -> None:
    for row in rows:
        if getattr(row, key) not in keep and row.active:
            row.active = False
            report.deactivated[kind] += 1


def _quiz_json(content: Any) -> list[dict[str, Any]]:
    return [dataclasses.asdict(item) for item in content.quiz.items]


def sync_course(db: Session, content: CourseContent) -> SyncReport:
    """Bring the database in line with ``content`` and commit; idempotent.

    Safe to run repeatedly: a second run with the same content changes nothing
    (``report.changed`` is False). Learners' progress is never deleted.
    """
    report = SyncReport(content.slug)
    try:
        course = db.scalar(select(Course).where(Course.slug == content.slug))
        values = {"title": content.title, "summary": content.summary,
                  "pass_mark": content.pass_mark, "sequential": content.sequential}
        if course is None:
            course = Course(slug=content.slug, **values)
            db.add(course)
            db.flush()
            report.course_created = True
        else:
            report.course_updated = _assign(course, values)

        existing_modules = {m.slug: m for m in db.scalars(
            select(Module).where(Module.course_id == course.id))}
        for position, mc in enumerate(content.modules, start=1):
            module = _upsert(db, report, "module", existing_modules.get(mc.slug), Module,
                             {"course_id": course.id, "slug": mc.slug},
                             {"title": mc.title, "position": position, "summary": mc.summary,
                              "pass_mark": mc.pass_mark,
                              "prerequisites": list(mc.prerequisites),
                              "quiz": _quiz_json(mc)})
            db.flush()
            existing_lessons = {ls.slug: ls for ls in db.scalars(
                select(Lesson).where(Lesson.module_id == module.id))}
            for lpos, lc in enumerate(mc.lessons, start=1):
                _upsert(db, report, "lesson", existing_lessons.get(lc.slug), Lesson,
                        {"module_id": module.id, "slug": lc.slug},
                        {"title": lc.title, "position": lpos, "minutes": lc.minutes,
                         "body_markdown": lc.body_markdown})
            _retire(list(existing_lessons.values()), {lc.slug for lc in mc.lessons},
                    report, "lesson")
        retired = [m for m in existing_modules.values()
                   if m.slug not in {mc.slug for mc in content.modules}]
        _retire(retired, set(), report, "module")
        for module in retired:  # a retired module's lessons go with it
            _retire([ls for ls in module.lessons], set(), report, "lesson")

        in_check = set(content.skills_check)
        existing_drills = {d.slug: d for d in db.scalars(select(Drill))}
        for dc in content.drills:
            _upsert(db, report, "drill", existing_drills.get(dc.slug), Drill,
                    {"slug": dc.slug},
                    {"discipline": dc.discipline, "context": dc.context,
                     "client_statement": dc.client_statement, "skill": dc.skill,
                     "example_responses": [dataclasses.asdict(r)
                                           for r in dc.example_responses],
                     "tip": dc.tip, "in_skills_check": dc.slug in in_check})
        _retire(list(existing_drills.values()), {d.slug for d in content.drills},
                report, "drill")
        for d in existing_drills.values():
            if d.slug not in {dc.slug for dc in content.drills} and d.in_skills_check:
                d.in_skills_check = False

        existing_scenarios = {s.slug: s for s in db.scalars(select(Scenario))}
        for sc in content.scenarios:
            card = dataclasses.asdict(sc)
            for key in ("slug", "title", "discipline"):
                card.pop(key)
            _upsert(db, report, "scenario", existing_scenarios.get(sc.slug), Scenario,
                    {"slug": sc.slug},
                    {"title": sc.title, "discipline": sc.discipline, "card": card})
        _retire(list(existing_scenarios.values()), {s.slug for s in content.scenarios},
                report, "scenario")

        # "Last synced": also what makes this the course on offer (learning.current_course).
        course.synced_at = utcnow()
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return report


def course_dir(app: Flask) -> Path:
    """The configured course directory (``COURSE_DIR``), else the shipped course."""
    configured = app.config.get("COURSE_DIR")
    return Path(configured) if configured else default_course_dir()


def sync_course_dir(db: Session, path: Path | str) -> SyncReport:
    """Load, validate and sync one course directory.

    Raises :class:`mitrain.content.ContentError` (every problem, ``file:line:
    field: problem``) before touching the database when the content is invalid.
    """
    return sync_course(db, load_course_dir(path))


def sync_course_if_available(app: Flask) -> str | None:
    """Sync the configured course into the database; returns a one-line summary.

    Used by ``mitrain init``: invalid content is reported in one line (the
    details come from ``mitrain courses sync``) rather than stopping set-up.
    """
    from ..db import get_db
    path = course_dir(app)
    if not path.exists():
        return f"No course content at {path}: nothing to sync."
    with Session(get_db(app).engine, expire_on_commit=False) as db:
        try:
            report = sync_course_dir(db, path)
        except ContentError as exc:
            n = len(exc.problems)
            return (f"Course content in {path} has {n} problem{'s' if n != 1 else ''} and was "
                    f"not synced: run `mitrain courses sync` to list them.")
    return report.summary()
