"""Workforce leads' figures: skills across teams and disciplines, over time.

Definitions (kept in one place so the page, the CSV and the charts agree):

- **Population**: active practitioners, narrowed by the team and discipline
  filters. Team and discipline are people's current ones (no history is kept),
  so past months are shown for today's teams and leavers are not counted.
- **Course** figures are as at the end of the period (they accumulate), with
  the rules of :mod:`services.learning`: *completed* = every active module
  passed; *modules passed* = mean share of active modules passed; *best quiz
  score* = mean, over practitioners who sat a quiz, of their mean best module score.
- **Skills check**: each practitioner's latest completed "before" and "after"
  check up to the period end; the change is the mean of (after − before) in
  percentage points over practitioners who have both.
- **Drills**: practice answers (not skills-check ones) given in the period;
  accuracy = hits / answers, overall and per skill (``services.drills``).
- **Recordings**: coded recordings made in the period. A practitioner's MITI
  figures for a period are those of their *latest* such recording; a group's
  figure is the mean over its practitioners (each counts once), and the share
  of them at the MITI 4.2.1 fair / good thresholds (``coding.miti.THRESHOLDS``).
- A recording's figures are the **trainer's** when it has a published
  (signed-off) review — the trainer's codes and global ratings — and the
  **machine's** otherwise (its codes and global *estimates*). Every group says
  how many of each it used.
- **Privacy**: only numbers leave this module, never transcript text or audio.
  A figure computed from fewer than ``min_group`` practitioners is suppressed
  here (its value is dropped), so no page or export can show it; a group below
  the minimum has every figure suppressed. Where exactly one team (or
  discipline, or month for counts) is suppressed, the next smallest is too, so
  the hidden figure cannot be found by subtraction from the total. (Comparing
  two different filters or periods can still narrow things down: the minimum
  protects against casual identification, not a determined insider.)
"""

from __future__ import annotations

import calendar
import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import fmean
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from coding.miti import THRESHOLDS, band, composite_scores, summarise

from ..models import (
    Discipline,
    Drill,
    DrillAttempt,
    QuizAttempt,
    Recording,
    RecordingStatus,
    Review,
    ReviewCode,
    SkillsCheck,
    Team,
    User,
    UserRole,
    Utterance,
)
from .drills import SKILL_LABELS, SkillAccuracy
from .learning import CourseProgress, active_modules, current_course, module_state
from .review import GLOBAL_LABELS, GLOBALS, coded, effective_code, primary_review

MAX_PERIOD_DAYS = 3660  # ten years: longer periods make unreadable charts
YEARS = (2000, 2100)    # dates outside these are typing mistakes (and overflow date arithmetic)
INTERVALS = {"month": "Monthly", "quarter": "Quarterly"}
MAIN_DISCIPLINES = (Discipline.SOCIAL_WORK, Discipline.DOMESTIC_ABUSE,
                    Discipline.SUBSTANCE_MISUSE, Discipline.MENTAL_HEALTH)
MITI_SCORES = ("rq_ratio", "pct_complex_reflections", "pct_open_questions", "change_talk_pct")


@dataclass(frozen=True)
class Metric:
    """One figure: how to label and format it, and which thresholds apply."""

    label: str
    unit: str            # "%", "pp" (percentage points), ":1", "count" or "" (1–5 scale)
    section: str
    fair: float | None = None
    good: float | None = None


# Short names of the figures with MITI fair/good thresholds (coding.miti.THRESHOLDS).
_SHORT = {"rq_ratio": "R:Q", "pct_complex_reflections": "%CR", "pct_open_questions": "% open",
          "technical": "Technical", "relational": "Relational"}
assert set(_SHORT) == set(THRESHOLDS)


def _miti_metric(key: str, label: str, unit: str) -> Metric:
    fair, good = THRESHOLDS.get(key, (None, None))
    return Metric(label, unit, "Practice (MITI, latest recording)", fair, good)


METRICS: dict[str, Metric] = {
    "course_completed": Metric("Course completed", "%", "Course"),
    "modules_passed": Metric("Modules passed (mean)", "%", "Course"),
    "quiz_best": Metric("Best quiz score (mean)", "%", "Course"),
    "check_pre": Metric("Skills check before", "%", "Skills check"),
    "check_post": Metric("Skills check after", "%", "Skills check"),
    "check_change": Metric("Skills check change", "pp", "Skills check"),
    "drill_accuracy": Metric("Drill accuracy, all skills", "%", "Drills"),
    **{f"drill:{k}": Metric(f"Drill accuracy: {v.lower()}", "%", "Drills")
       for k, v in SKILL_LABELS.items()},
    "recordings": Metric("Recordings coded", "count", "Recordings"),
    "recordings_reviewed": Metric("of which trainer-reviewed", "count", "Recordings"),
    "latest_reviewed": Metric("Latest recordings: trainer's figures", "count", "Recordings"),
    "latest_machine": Metric("Latest recordings: machine's figures", "count", "Recordings"),
    "rq_ratio": _miti_metric("rq_ratio", "Reflections per question (R:Q)", ":1"),
    "pct_complex_reflections": _miti_metric("pct_complex_reflections",
                                            "Complex reflections (%CR)", "%"),
    "pct_open_questions": _miti_metric("pct_open_questions", "Open questions", "%"),
    "change_talk_pct": _miti_metric("change_talk_pct", "Client change talk share", "%"),
    **{g: _miti_metric(g, GLOBAL_LABELS[g], "") for g in GLOBALS},
    "technical": _miti_metric("technical", "Technical", ""),
    "relational": _miti_metric("relational", "Relational", ""),
    **{f"{level}:{k}": Metric(f"{short} at {level}{' or better' if level == 'fair' else ''}",
                              "%", "Against MITI 4.2.1 thresholds")
       for k, short in _SHORT.items() for level in ("fair", "good")},
}
BANDED = tuple(THRESHOLDS)
# Counts that add up across months: a lone suppressed month could be worked out from the total.
ADDITIVE = ("recordings", "recordings_reviewed")
# Figures drawn as monthly/quarterly charts.
CHARTED = ("course_completed", "drill_accuracy", "recordings", "rq_ratio",
           "pct_complex_reflections", "pct_open_questions", "change_talk_pct", "technical",
           "relational")


# ------------------------------------------------------------------ filter
@dataclass
class WorkforceFilter:
    """What the lead chose; dates are inclusive days (UTC)."""

    date_from: date
    date_to: date
    team_id: int | None = None
    discipline: Discipline | None = None
    interval: str = "month"

    def as_args(self) -> dict[str, str]:
        """Query-string arguments that reproduce this filter."""
        out = {"team": self.team_id, "discipline": self.discipline.value if self.discipline
               else None, "from": self.date_from.isoformat(), "to": self.date_to.isoformat(),
               "interval": self.interval if self.interval != "month" else None}
        return {k: str(v) for k, v in out.items() if v}


def default_period(today: date) -> tuple[date, date]:
    """The last twelve calendar months, this one included."""
    months = today.year * 12 + today.month - 1 - 11
    return date(months // 12, months % 12 + 1, 1), today


def parse_filter(db: Session, args: Mapping[str, str], today: date
                 ) -> tuple[WorkforceFilter, list[str]]:
    """The filter from query arguments, and a message for each value that was not usable.

    An unusable value is left out of the filter (the message says so); nothing raises.
    """
    errors: list[str] = []
    d_from, d_to = default_period(today)
    dates: dict[str, date] = {}
    for name, label in (("from", "start"), ("to", "end")):
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        try:
            dates[name] = date.fromisoformat(raw)
        except ValueError:
            errors.append(f"The {label} date '{raw[:40]}' is not a date: use YYYY-MM-DD, "
                          f"e.g. {today.isoformat()}. The default period is shown instead.")
            continue
        if not YEARS[0] <= dates[name].year <= YEARS[1]:
            errors.append(f"The {label} date {raw} is outside the years {YEARS[0]}–{YEARS[1]}. "
                          "The default period is shown instead.")
    if errors:
        dates = {}  # as the message says: one bad date means the default period
    elif "from" in dates and "to" in dates and dates["from"] > dates["to"]:
        errors.append("The start date is after the end date. The default period is shown "
                      "instead.")
        dates = {}
    if "to" in dates:
        d_to = dates["to"]
    elif "from" in dates:
        d_to = max(today, dates["from"])
    d_from = dates["from"] if "from" in dates else default_period(d_to)[0]
    if (d_to - d_from).days > MAX_PERIOD_DAYS:
        errors.append("The period is longer than ten years; choose a shorter one. The default "
                      "period is shown instead.")
        d_from, d_to = default_period(today)

    team_id: int | None = None
    raw_team = (args.get("team") or "").strip()
    if raw_team:
        # ASCII digits only, and short: "²" or a 30-digit id must not reach int() or the DB.
        if (raw_team.isascii() and raw_team.isdigit() and len(raw_team) <= 9
                and db.get(Team, int(raw_team)) is not None):
            team_id = int(raw_team)
        else:
            errors.append(f"There is no team '{raw_team[:40]}'. All teams are shown.")
    discipline: Discipline | None = None
    raw_disc = (args.get("discipline") or "").strip()
    if raw_disc:
        try:
            discipline = Discipline(raw_disc)
        except ValueError:
            errors.append(f"'{raw_disc[:40]}' is not a discipline (choose one of "
                          + ", ".join(d.label.lower() for d in Discipline)
                          + "). All disciplines are shown.")
    interval = (args.get("interval") or "month").strip()
    if interval not in INTERVALS:
        errors.append(f"'{interval[:40]}' is not an interval (month or quarter). Months are "
                      "shown.")
        interval = "month"
    return WorkforceFilter(d_from, d_to, team_id, discipline, interval), errors


def team_choices(db: Session) -> list[Team]:
    """Teams a lead can filter by (all of them: leads see the whole organisation)."""
    return list(db.scalars(select(Team).order_by(Team.name)))


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class Cell:
    """One figure of one group: ``value`` is None when there is no data or it is suppressed."""

    value: float | None
    n: int                  # practitioners the figure is computed from
    suppressed: bool = False


@dataclass
class GroupFigures:
    kind: str               # organisation | team | discipline
    label: str
    practitioners: int
    cells: dict[str, Cell]
    small: bool = False     # fewer practitioners than the minimum: every figure suppressed


@dataclass
class Bucket:
    label: str
    start: date
    end: date               # inclusive
    cells: dict[str, Cell]


@dataclass
class WorkforceReport:
    filter: WorkforceFilter
    min_group: int
    course_loaded: bool
    groups: list[GroupFigures]
    series: list[Bucket]
    skills: list[str] = field(default_factory=list)  # drill skills with any answers

    @property
    def organisation(self) -> GroupFigures:
        return self.groups[0]


# ------------------------------------------------------------------ loading
@dataclass
class _Rec:
    id: int
    owner_id: int
    at: datetime
    summary: dict[str, Any]
    review: Review | None = None
    scores: dict[str, float | None] = field(default_factory=dict)


@dataclass
class _Data:
    course: Any
    modules: list[Any]
    quiz: dict[int, list[QuizAttempt]]
    drills: dict[int, list[tuple[str, bool, datetime]]]
    checks: dict[int, list[SkillsCheck]]
    recordings: dict[int, list[_Rec]]


def _start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def _end(d: date) -> datetime:
    """The instant after the inclusive day ``d``."""
    return _start(d + timedelta(days=1))


def _population(db: Session, f: WorkforceFilter) -> list[User]:
    q = select(User).where(User.role == UserRole.PRACTITIONER, User.active.is_(True))
    if f.team_id:
        q = q.where(User.team_id == f.team_id)
    if f.discipline:
        q = q.where(User.discipline == f.discipline)
    return list(db.scalars(q.order_by(User.id)))


def _by_user(rows: Iterable[Any], key: str = "user_id") -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for r in rows:
        out[getattr(r, key)].append(r)
    return out


def _load(db: Session, ids: list[int], f: WorkforceFilter) -> _Data:
    start, end = _start(f.date_from), _end(f.date_to)
    course = current_course(db)
    modules = active_modules(db, course) if course is not None else []
    quiz = _by_user(db.scalars(
        select(QuizAttempt).options(defer(QuizAttempt.answers))
        .where(QuizAttempt.user_id.in_(ids), QuizAttempt.created_at < end)
        .order_by(QuizAttempt.created_at, QuizAttempt.id)))
    drills: dict[int, list[tuple[str, bool, datetime]]] = defaultdict(list)
    for uid, skill, hit, at in db.execute(
            select(DrillAttempt.user_id, Drill.skill, DrillAttempt.hit, DrillAttempt.created_at)
            .join(Drill, Drill.id == DrillAttempt.drill_id)
            .where(DrillAttempt.user_id.in_(ids), DrillAttempt.skills_check_id.is_(None),
                   DrillAttempt.created_at >= start, DrillAttempt.created_at < end)):
        drills[uid].append((skill, bool(hit), at))
    checks = _by_user(db.scalars(
        select(SkillsCheck).where(SkillsCheck.user_id.in_(ids),
                                  SkillsCheck.completed_at.is_not(None),
                                  SkillsCheck.completed_at < end)
        .order_by(SkillsCheck.completed_at, SkillsCheck.id)))
    recs = [_Rec(r.id, r.owner_id, r.created_at, r.summary or {}) for r in db.scalars(
        select(Recording).where(Recording.owner_id.in_(ids),
                                Recording.status == RecordingStatus.CODED,
                                Recording.created_at >= start, Recording.created_at < end)
        .order_by(Recording.created_at, Recording.id))]
    reviews: dict[int, list[Review]] = defaultdict(list)
    if recs:
        for rv in db.scalars(select(Review).where(
                Review.recording_id.in_([r.id for r in recs]))):
            reviews[rv.recording_id].append(rv)
    for r in recs:
        r.review = primary_review(reviews.get(r.id, []))
    return _Data(course, modules, quiz, drills, checks, _by_user(recs, "owner_id"))


def _trainer_globals(rating: Mapping[str, int]) -> dict[str, float | None]:
    vals: dict[str, float | None] = {g: (float(rating[g]) if rating.get(g) is not None
                                         else None) for g in GLOBALS}
    return {**vals, **composite_scores(vals)}


def _number(x: Any) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None


def _score(db: Session, recs: Sequence[_Rec]) -> None:
    """Fill each recording's scores: the published review's where there is one."""
    todo = [r for r in recs if not r.scores]
    reviewed = [r for r in todo if r.review is not None]
    utts: dict[int, list[Utterance]] = defaultdict(list)
    trainer_codes: dict[int, dict[int, str | None]] = defaultdict(dict)
    if reviewed:
        for u in db.scalars(select(Utterance).where(
                Utterance.recording_id.in_([r.id for r in reviewed]))
                .order_by(Utterance.recording_id, Utterance.position)):
            utts[u.recording_id].append(u)
        for rc in db.scalars(select(ReviewCode).where(
                ReviewCode.review_id.in_([r.review.id for r in reviewed if r.review]))):
            trainer_codes[rc.review_id][rc.utterance_id] = rc.code
    for r in todo:
        if r.review is not None:
            rows = utts[r.id]
            mine = trainer_codes[r.review.id]
            summary = summarise(coded(rows, {u.id: effective_code(u, mine.get(u.id))
                                             for u in rows})).to_dict()
            globals_ = _trainer_globals(r.review.globals_rating or {})
        else:
            summary = r.summary
            globals_ = {k: _number(v) for k, v in (summary.get("globals_estimated") or {}).items()}
        r.scores = {k: _number(summary.get(k)) for k in MITI_SCORES}
        r.scores.update({k: globals_.get(k) for k in (*GLOBALS, "technical", "relational")})


# ------------------------------------------------------------------ aggregation
def _latest(recs: Sequence[_Rec], start: datetime, end: datetime) -> _Rec | None:
    inside = [r for r in recs if start <= r.at < end]
    return inside[-1] if inside else None  # recordings are loaded oldest first


class _Cells:
    """Builds cells, suppressing any computed from too few practitioners."""

    def __init__(self, min_group: int) -> None:
        self.min_group = min_group
        self.cells: dict[str, Cell] = {}

    def put(self, key: str, value: float | None, n: int) -> None:
        small = 0 < n < self.min_group
        if n == 0:  # no one contributed: a count is 0, anything else has no value
            value = 0.0 if METRICS[key].unit == "count" else None
        self.cells[key] = Cell(None if small else value, n, small)

    def mean(self, key: str, values: Sequence[float | None], scale: float = 1.0) -> None:
        got = [v for v in values if v is not None]
        self.put(key, fmean(got) * scale if got else None, len(got))


def _aggregate(db: Session, members: Sequence[int], data: _Data, start: datetime,
               end: datetime, min_group: int) -> dict[str, Cell]:
    """Every figure for ``members`` over [start, end) (course and checks: as at ``end``)."""
    c = _Cells(min_group)
    n = len(members)
    progress: list[CourseProgress] = []
    if data.course is not None:
        for uid in members:
            tries = [a for a in data.quiz.get(uid, []) if a.created_at < end]
            progress.append(CourseProgress(data.course, [
                module_state(m, [a for a in tries if a.module_id == m.id])
                for m in data.modules]))
        c.put("course_completed", 100.0 * sum(p.complete for p in progress) / n if n else None,
              n)
        c.mean("modules_passed", [p.passed_count / len(p.modules) if p.modules else None
                                  for p in progress], 100.0)
        c.mean("quiz_best", [p.average_best_score for p in progress], 100.0)
    else:
        for key in ("course_completed", "modules_passed", "quiz_best"):
            c.put(key, None, 0)

    pre: list[float | None] = []
    post: list[float | None] = []
    change: list[float | None] = []
    for uid in members:
        done = [s for s in data.checks.get(uid, []) if s.completed_at and s.completed_at < end]
        last = {s.phase: s.score for s in done}  # oldest first: the latest of each phase wins
        before, after = last.get("pre"), last.get("post")
        pre.append(before)
        post.append(after)
        change.append(after - before if before is not None and after is not None else None)
    c.mean("check_pre", pre, 100.0)
    c.mean("check_post", post, 100.0)
    c.mean("check_change", change, 100.0)

    per_skill: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # answers, hits, people
    everyone = [0, 0, 0]
    for uid in members:
        answers = [(s, h) for s, h, at in data.drills.get(uid, []) if start <= at < end]
        for skill in {s for s, _ in answers}:
            per_skill[skill][2] += 1
        for skill, hit in answers:
            per_skill[skill][0] += 1
            per_skill[skill][1] += hit
        everyone[0] += len(answers)
        everyone[1] += sum(h for _, h in answers)
        everyone[2] += bool(answers)
    for key, (answers_n, hits, people) in [("drill_accuracy", everyone),
                                           *((f"drill:{k}", v) for k, v in per_skill.items())]:
        acc = SkillAccuracy(key, answers_n, hits)
        c.put(key, 100.0 * acc.accuracy if answers_n else None, people)

    in_period = {uid: [r for r in data.recordings.get(uid, []) if start <= r.at < end]
                 for uid in members}
    makers = sum(1 for rs in in_period.values() if rs)
    c.put("recordings", float(sum(len(rs) for rs in in_period.values())), makers)
    c.put("recordings_reviewed", float(sum(1 for rs in in_period.values() for r in rs
                                           if r.review is not None)), makers)
    latest = [rs[-1] for rs in in_period.values() if rs]
    _score(db, latest)
    c.put("latest_reviewed", float(sum(r.review is not None for r in latest)), makers)
    c.put("latest_machine", float(sum(r.review is None for r in latest)), makers)
    for key in (*MITI_SCORES, *GLOBALS, "technical", "relational"):
        c.mean(key, [r.scores.get(key) for r in latest])
    for key in BANDED:
        fair, good = THRESHOLDS[key]
        bands = [band(r.scores.get(key), fair, good) for r in latest
                 if r.scores.get(key) is not None]
        c.put(f"fair:{key}", 100.0 * sum(b in ("fair", "good") for b in bands) / len(bands)
              if bands else None, len(bands))
        c.put(f"good:{key}", 100.0 * sum(b == "good" for b in bands) / len(bands)
              if bands else None, len(bands))
    return c.cells


def buckets(f: WorkforceFilter) -> list[tuple[str, date, date]]:
    """Calendar months (or quarters) covering the period, clipped to it: (label, first, last)."""
    out = []
    step = 3 if f.interval == "quarter" else 1
    y, m = f.date_from.year, f.date_from.month
    if step == 3:
        m = 3 * ((m - 1) // 3) + 1
    while date(y, m, 1) <= f.date_to:
        ey, em = (y, m + step - 1)
        last = date(ey, em, calendar.monthrange(ey, em)[1])
        label = (f"Q{(m - 1) // 3 + 1} {y}" if step == 3
                 else date(y, m, 1).strftime("%b %y"))
        out.append((label, max(date(y, m, 1), f.date_from), min(last, f.date_to)))
        m += step
        if m > 12:
            y, m = y + 1, m - 12
    return out


def _protect(siblings: Sequence[GroupFigures | Bucket], keys: Iterable[str]) -> None:
    """Secondary suppression: when exactly one sibling's figure is suppressed, suppress the
    smallest other one too, so the hidden figure cannot be worked out by subtracting the
    siblings from their total (the organisation row or the whole period)."""
    for key in keys:
        hidden = [g for g in siblings if (c := g.cells.get(key)) is not None and c.suppressed]
        if len(hidden) != 1:
            continue
        shown = [g for g in siblings if (c := g.cells.get(key)) is not None
                 and not c.suppressed and c.value is not None and c.n > 0]
        if shown:
            victim = min(shown, key=lambda g: (g.cells[key].n, g.label))
            victim.cells[key] = Cell(None, victim.cells[key].n, True)


def workforce_report(db: Session, f: WorkforceFilter, *, min_group: int) -> WorkforceReport:
    """Figures for the organisation (as filtered), each team, each discipline, and over time."""
    min_group = max(1, min_group)
    people = _population(db, f)
    ids = [u.id for u in people]
    data = _load(db, ids, f)
    start, end = _start(f.date_from), _end(f.date_to)

    def group(kind: str, label: str, members: list[int]) -> GroupFigures:
        if 0 < len(members) < min_group:
            # Even "nobody here did X" says something about a handful of people.
            return GroupFigures(kind, label, len(members),
                                {k: Cell(None, 0, True) for k in METRICS}, small=True)
        return GroupFigures(kind, label, len(members),
                            _aggregate(db, members, data, start, end, min_group))

    groups = [group("organisation", "Everyone selected" if (f.team_id or f.discipline)
                    else "Whole organisation", ids)]
    team_q = select(Team).order_by(Team.name)
    if f.team_id:
        team_q = team_q.where(Team.id == f.team_id)
    for team in db.scalars(team_q):
        groups.append(group("team", team.name, [u.id for u in people if u.team_id == team.id]))
    if not f.team_id and any(u.team_id is None for u in people):
        groups.append(group("team", "No team", [u.id for u in people if u.team_id is None]))
    for d in Discipline:
        if f.discipline and d is not f.discipline:
            continue
        members = [u.id for u in people if u.discipline is d]
        if members or d in MAIN_DISCIPLINES:
            groups.append(group("discipline", d.label, members))

    series = [Bucket(label, first, last, dict(groups[0].cells) if groups[0].small else
                     _aggregate(db, ids, data, _start(first), _end(last), min_group))
              for label, first, last in buckets(f)]
    for kind in ("team", "discipline"):
        _protect([g for g in groups if g.kind == kind], METRICS)
    _protect(series, ADDITIVE)  # the period's counts are the sum of the buckets' counts
    skills = [k for k in SKILL_LABELS
              if any(f"drill:{k}" in g.cells for g in groups if not g.small)]
    return WorkforceReport(f, min_group, data.course is not None, groups, series, skills)


# ------------------------------------------------------------------ presentation
def format_value(key: str, cell: Cell | None) -> str:
    """A cell as text: the number with its unit, "suppressed", or "—" (no data)."""
    if cell is None or cell.value is None:
        return "suppressed" if cell and cell.suppressed else "—"
    unit = METRICS[key].unit
    v = cell.value
    if unit == "count":
        return f"{v:.0f}"
    if unit == "%":
        return f"{v:.0f}%"
    if unit == "pp":
        return f"{v:+.0f} points"
    if unit == ":1":
        return f"{v:.2f}:1"
    return f"{v:.2f}"


def table_columns(report: WorkforceReport) -> list[str]:
    """The metric keys of the table (and the CSV), in order."""
    return [k for k in METRICS if not k.startswith("drill:") or k[6:] in report.skills]


def report_csv(report: WorkforceReport) -> str:
    """The table as CSV: one row per group, the same figures and suppression as the page.

    Suppressed figures read ``suppressed``; figures with no data are empty. The
    practitioner count of a group below the minimum reads ``<N``.
    """
    out = io.StringIO()
    w = csv.writer(out)
    cols = table_columns(report)
    w.writerow(["group_type", "group", "period_from", "period_to", "practitioners", *cols])
    f = report.filter
    for g in report.groups:
        count = f"<{report.min_group}" if g.small else str(g.practitioners)
        row = [g.kind, g.label, f.date_from.isoformat(), f.date_to.isoformat(), count]
        for k in cols:
            cell = g.cells.get(k)
            if cell is not None and cell.suppressed:
                row.append("suppressed")
            elif cell is None or cell.value is None:
                row.append("")
            else:
                row.append(f"{cell.value:.0f}" if METRICS[k].unit == "count"
                           else f"{cell.value:.2f}")
        w.writerow(row)
    return out.getvalue()
