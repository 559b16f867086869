"""Quick-response drills: code a typed answer at once and explain the result;
the fixed pre/post skills check.

How an answer is judged (the documented rule)
---------------------------------------------
The coder sees the parent's statement and the practitioner's answer as two
turns and may split the answer into several MITI utterances
("You feel judged. What would help?" is a reflection and an open question).

1. **Roadblocks first.** If any utterance is Persuade (advice, warnings or
   instructions without permission) or Confront, the answer does not hit the
   skill, and the roadblock is named, kindly: it undoes the rest of the answer
   in the parent's ears.
2. **Otherwise, any target utterance hits.** The answer hits the skill when
   at least one utterance carries a code the skill accepts (``SKILL_TARGETS``),
   so a reflection followed by a question still counts for a reflection drill.
3. **The code shown** is the roadblock (rule 1), else the matching utterance
   with the highest confidence (rule 2), else the *last* utterance: the one
   the parent would answer (as MITI's volley rule does for questions).

The confidence shown is the coder's probability for that utterance's code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..models import Drill, DrillAttempt, SkillsCheck, User, utcnow
from . import ServiceError

__all__ = [
    "CODE_LABELS", "MAX_ANSWER_CHARS", "SKILL_LABELS", "SKILL_TARGETS", "CheckItem",
    "CheckResult", "DrillFeedback", "SkillAccuracy", "SkillsCheckSummary", "UtteranceFeedback",
    "answer_check_item", "answer_drill",
    "answer_problem", "check_items", "check_result", "drill_accuracy", "judge",
    "list_drills", "next_check_item", "skills_check_summary", "start_skills_check",
]

MAX_ANSWER_CHARS = 2000
PHASES = ("pre", "post")
ROADBLOCKS = ("PERSUADE", "CONFRONT")

SKILL_LABELS: dict[str, str] = {
    "open_question": "Open question",
    "simple_reflection": "Simple reflection",
    "complex_reflection": "Complex reflection",
    "affirmation": "Affirmation",
    "responding_to_sustain_talk": "Responding to sustain talk",
    "eliciting_change_talk": "Eliciting change talk",
}

# Codes that count as hitting each skill. A complex reflection also hits a
# simple-reflection drill (it does everything a simple one does, and more).
SKILL_TARGETS: dict[str, frozenset[str]] = {
    "open_question": frozenset({"Q_OPEN"}),
    "simple_reflection": frozenset({"SR", "CR"}),
    "complex_reflection": frozenset({"CR"}),
    "affirmation": frozenset({"AF"}),
    "responding_to_sustain_talk": frozenset({"SR", "CR", "EMPHASIZE"}),
    "eliciting_change_talk": frozenset({"Q_OPEN", "CR"}),
}

SKILL_HOW: dict[str, str] = {
    "open_question": "An open question invites the parent to answer in their own words: "
                     "start with \u201cwhat\u201d, \u201chow\u201d or \u201ctell me about\u201d.",
    "simple_reflection": "A simple reflection is a statement, not a question, that gives back "
                         "what the parent said in a few of your own words: \u201cYou\u2019re "
                         "tired of the visits.\u201d",
    "complex_reflection": "A complex reflection is a statement that adds a guess at what lies "
                          "underneath: the feeling, the meaning, or the other side of the "
                          "parent\u2019s mixed feelings: \u201cIt feels like nobody trusts "
                          "you with your own children.\u201d",
    "affirmation": "An affirmation names a real strength, effort or value of the parent\u2019s, "
                   "about them rather than about you: \u201cYou\u2019ve kept going even when "
                   "it\u2019s been really hard.\u201d",
    "responding_to_sustain_talk": "Meet sustain talk without arguing: reflect it (perhaps "
                                  "double-sided), or emphasise that the choice is the "
                                  "parent\u2019s.",
    "eliciting_change_talk": "Ask an evocative open question about the parent\u2019s own "
                             "reasons, hopes or ideas for change, or reflect the change side "
                             "of what they said.",
}

# "That was ..." phrases, in plain English.
CODE_LABELS: dict[str, str] = {
    "Q_OPEN": "an open question",
    "Q_CLOSED": "a closed question",
    "SR": "a simple reflection",
    "CR": "a complex reflection",
    "AF": "an affirmation",
    "SEEK": "seeking collaboration",
    "EMPHASIZE": "emphasising the parent\u2019s choice (autonomy)",
    "GI": "giving information",
    "PWP": "advice given with permission",
    "PERSUADE": "advice or a warning given without permission",
    "CONFRONT": "a confronting response",
    "NONE": "something the coder could not match to an MI skill",
}

CODE_WHY: dict[str, str] = {
    "Q_OPEN": "It invites the parent to tell you more in their own words.",
    "Q_CLOSED": "It can be answered with a yes, a no or a single fact, so the parent does "
                "not have to think aloud about their own reasons.",
    "SR": "It gives back what the parent said, with little or nothing added.",
    "CR": "It adds a guess at the feeling, meaning or unspoken side of what the parent said.",
    "AF": "It recognises something good about the parent: a strength, an effort or a value.",
    "SEEK": "It invites the parent to work on this with you, sharing power in the "
            "conversation.",
    "EMPHASIZE": "It makes clear that the parent is the one who decides.",
    "GI": "It gives information. That is often needed, but it is not the skill this drill "
          "practises.",
    "PWP": "It offers advice after asking permission, which is MI-consistent, but it is not "
           "the skill this drill practises.",
    "PERSUADE": "This sounds like advice, a warning or an instruction the parent did not ask "
                "for. It comes from a good place \u2014 wanting the children safe \u2014 but "
                "unasked-for advice tends to make parents argue the other side. If the "
                "information matters, ask first: \u201cWould it be OK if I shared what has "
                "helped other parents?\u201d",
    "CONFRONT": "This may come across as disagreeing with, correcting or judging the parent. "
                "That is a very human reaction when a child\u2019s safety is at stake, but it "
                "usually increases defensiveness. Try reflecting what you heard first; you can "
                "still be honest about concerns afterwards.",
    "NONE": "It may be a greeting, a filler or an unfinished thought. Try one clear sentence.",
}


def confidence_label(confidence: float) -> str:
    """Plain-English reading of the coder's confidence."""
    if confidence >= 0.8:
        return "high"
    if confidence >= 0.55:
        return "medium"
    return "low \u2014 treat this as a rough guide"


@dataclass(frozen=True)
class UtteranceFeedback:
    text: str
    code: str
    label: str
    confidence: float


@dataclass
class DrillFeedback:
    """Everything the drill page says about one answer."""

    skill: str
    code: str
    confidence: float
    hit: bool
    utterances: list[UtteranceFeedback]
    model_answers: list[dict[str, str]]
    tip: str
    coder_version: str
    roadblock: str | None = None     # the roadblock code, when there was one
    heard: str | None = None         # a spoken answer's transcript ("what we heard")

    @property
    def skill_label(self) -> str:
        return SKILL_LABELS.get(self.skill, self.skill)

    @property
    def code_label(self) -> str:
        return CODE_LABELS.get(self.code, self.code)

    @property
    def confidence_label(self) -> str:
        return confidence_label(self.confidence)

    @property
    def headline(self) -> str:
        """e.g. ``That was a closed question.``"""
        if self.roadblock:
            return f"That included {CODE_LABELS[self.roadblock]}."
        return f"That was {self.code_label}."

    @property
    def verdict(self) -> str:
        skill = self.skill_label.lower()
        if self.hit:
            return f"Well done: that hits the skill this drill practises ({skill})."
        return f"Not quite the skill this drill practises ({skill})."

    @property
    def why(self) -> str:
        return CODE_WHY.get(self.code, "")

    @property
    def how(self) -> str:
        """How to hit the skill (shown when the answer missed it)."""
        return SKILL_HOW.get(self.skill, "")


def answer_problem(text: str | None) -> str | None:
    """Why a typed answer cannot be coded, in words for the user; None if it can."""
    stripped = (text or "").strip()
    if not stripped:
        return "Type what you would say to the parent, then press \u201cCheck my response\u201d."
    if len(stripped) > MAX_ANSWER_CHARS:
        return (f"Your response is {len(stripped):,} characters long. Please keep it under "
                f"{MAX_ANSWER_CHARS:,} characters: in a drill, one or two sentences is best. "
                "Nothing was saved.")
    if not any(ch.isalpha() for ch in stripped):
        return "Your response needs some words for the coder to work with."
    return None


def _model_answers(drill: Drill, limit: int = 2) -> list[dict[str, str]]:
    targets = SKILL_TARGETS.get(drill.skill, frozenset())
    ranked = sorted(drill.example_responses or [],
                    key=lambda r: 0 if r.get("code") in targets else 1)
    return [{"text": str(r.get("text", "")), "code": str(r.get("code", "")),
             "label": CODE_LABELS.get(str(r.get("code", "")), "")} for r in ranked[:limit]]


def judge(skill: str, coded: Sequence[tuple[str, str, float]]
          ) -> tuple[str, float, bool, str | None]:
    """Apply the module's rule to the practitioner's coded utterances.

    ``coded`` is ``(text, code, confidence)`` per utterance, in order. Returns
    ``(code, confidence, hit, roadblock)``.
    """
    if not coded:
        return "NONE", 0.0, False, None
    blocks = [c for c in coded if c[1] in ROADBLOCKS]
    if blocks:
        worst = max(blocks, key=lambda c: c[2])
        return worst[1], worst[2], False, worst[1]
    targets = SKILL_TARGETS.get(skill, frozenset())
    hits = [c for c in coded if c[1] in targets]
    if hits:
        best = max(hits, key=lambda c: c[2])
        return best[1], best[2], True, None
    last = coded[-1]
    return last[1], last[2], False, None


def _code_answer(statement: str, answer: str) -> tuple[list[tuple[str, str, float]], str]:
    """Code the answer (after the parent's statement); returns utterances and coder version."""
    from coding.errors import CodingError
    from coding.types import Role, Turn

    from .coder import get_coder
    try:
        coder = get_coder()
        coded = coder.code_turns([Turn(Role.CLIENT, statement), Turn(Role.PRACTITIONER, answer)])
    except CodingError as exc:
        raise ServiceError(f"The coder could not check your response just now ({exc}). "
                           "Nothing was saved; please tell your administrator.") from exc
    mine = [(cu.utterance.text, cu.code.value, float(cu.confidence)) for cu in coded
            if cu.utterance.role is Role.PRACTITIONER]
    return mine, coder.version


def answer_drill(db: Session, user: User, drill: Drill, text: str,
                 skills_check: SkillsCheck | None = None) -> tuple[DrillAttempt, DrillFeedback]:
    """Code one typed answer, store the attempt and explain the result.

    Raises :class:`ServiceError` (nothing saved) for an empty or over-long
    answer, or when the coder is unavailable.
    """
    if problem := answer_problem(text):
        raise ServiceError(problem)
    answer = text.strip()
    utterances, version = _code_answer(drill.client_statement, answer)
    code, confidence, hit, roadblock = judge(drill.skill, utterances)
    attempt = DrillAttempt(user_id=user.id, drill_id=drill.id,
                           skills_check_id=skills_check.id if skills_check else None,
                           response_text=answer, code=code, confidence=confidence, hit=hit,
                           coder_version=version[:64])
    db.add(attempt)
    db.commit()
    feedback = DrillFeedback(
        skill=drill.skill, code=code, confidence=confidence, hit=hit,
        utterances=[UtteranceFeedback(t, c, CODE_LABELS.get(c, c), p) for t, c, p in utterances],
        model_answers=_model_answers(drill), tip=drill.tip, coder_version=version,
        roadblock=roadblock)
    return attempt, feedback


def list_drills(db: Session, *, skill: str | None = None,
                discipline: str | None = None) -> list[Drill]:
    """Active drills, optionally filtered by skill and discipline."""
    q = select(Drill).where(Drill.active.is_(True))
    if skill:
        q = q.where(Drill.skill == skill)
    if discipline:
        q = q.where(Drill.discipline == discipline)
    return list(db.scalars(q.order_by(Drill.id)))


@dataclass(frozen=True)
class SkillAccuracy:
    skill: str
    attempts: int
    hits: int

    @property
    def label(self) -> str:
        return SKILL_LABELS.get(self.skill, self.skill)

    @property
    def accuracy(self) -> float:
        return self.hits / self.attempts if self.attempts else 0.0


def drill_accuracy(db: Session, user: User) -> list[SkillAccuracy]:
    """Practice-drill answers (not skills-check ones) and hits, per skill."""
    rows = db.execute(
        select(Drill.skill, func.count(DrillAttempt.id),
               func.sum(case((DrillAttempt.hit.is_(True), 1), else_=0)))
        .join(Drill, Drill.id == DrillAttempt.drill_id)
        .where(DrillAttempt.user_id == user.id, DrillAttempt.skills_check_id.is_(None))
        .group_by(Drill.skill)).all()
    got = {skill: SkillAccuracy(skill, int(n), int(h or 0)) for skill, n, h in rows}
    order = list(SKILL_LABELS) + sorted(set(got) - set(SKILL_LABELS))
    return [got[s] for s in order if s in got]


# ------------------------------------------------------------------ skills check

def check_items(db: Session) -> list[Drill]:
    """The fixed skills-check items, in a stable order."""
    return list(db.scalars(select(Drill).where(Drill.in_skills_check.is_(True),
                                               Drill.active.is_(True)).order_by(Drill.id)))


def _sittings(db: Session, user: User, phase: str) -> list[SkillsCheck]:
    return list(db.scalars(select(SkillsCheck).where(SkillsCheck.user_id == user.id,
                                                     SkillsCheck.phase == phase)
                           .order_by(SkillsCheck.created_at, SkillsCheck.id)))


def _latest_completed(db: Session, user: User, phase: str) -> SkillsCheck | None:
    done = [s for s in _sittings(db, user, phase) if s.completed_at is not None]
    return done[-1] if done else None


def _open_sitting(db: Session, user: User, phase: str) -> SkillsCheck | None:
    return next((s for s in _sittings(db, user, phase) if s.completed_at is None), None)


def start_skills_check(db: Session, user: User, phase: str) -> SkillsCheck:
    """Start (or resume) a sitting of the skills check.

    The "before" check is taken once; the "after" check needs a completed
    "before" check and may be retaken (the latest counts).
    """
    if phase not in PHASES:
        raise ServiceError("Unknown skills check.")
    if not check_items(db):
        raise ServiceError("The skills check is not available: the course content has no "
                           "skills-check items yet.")
    if (sitting := _open_sitting(db, user, phase)) is not None:
        return sitting
    if phase == "pre" and _latest_completed(db, user, "pre") is not None:
        raise ServiceError("You have already taken the \u201cbefore\u201d skills check. Take the "
                           "\u201cafter\u201d check when you have finished the course.")
    if phase == "post" and _latest_completed(db, user, "pre") is None:
        raise ServiceError("Take the \u201cbefore\u201d skills check first, so there is "
                           "something to compare with.")
    sitting = SkillsCheck(user_id=user.id, phase=phase)
    db.add(sitting)
    db.commit()
    return sitting


@dataclass(frozen=True)
class CheckItem:
    number: int
    drill: Drill
    attempt: DrillAttempt | None


def _check_attempts(db: Session, sitting: SkillsCheck) -> dict[int, DrillAttempt]:
    out: dict[int, DrillAttempt] = {}
    for a in db.scalars(select(DrillAttempt).where(DrillAttempt.skills_check_id == sitting.id)
                        .order_by(DrillAttempt.id)):
        out.setdefault(a.drill_id, a)
    return out


def _sitting_items(db: Session, sitting: SkillsCheck) -> list[CheckItem]:
    attempts = _check_attempts(db, sitting)
    drills = check_items(db)
    if sitting.completed_at is not None:
        # A finished sitting shows what was answered, even if the item set changed since.
        known = {d.id for d in drills}
        extra = [a.drill_id for a in attempts.values() if a.drill_id not in known]
        drills += [d for d in (db.get(Drill, i) for i in extra) if d is not None]
        drills = [d for d in drills if d.id in attempts]
    return [CheckItem(n, d, attempts.get(d.id)) for n, d in enumerate(drills, start=1)]


def next_check_item(db: Session, sitting: SkillsCheck) -> CheckItem | None:
    """The first unanswered item of an open sitting (None when all are answered)."""
    if sitting.completed_at is not None:
        return None
    return next((i for i in _sitting_items(db, sitting) if i.attempt is None), None)


def answer_check_item(db: Session, user: User, sitting: SkillsCheck, drill: Drill,
                      text: str) -> DrillAttempt:
    """Answer one item of a sitting; completes the sitting after the last item.

    Raises :class:`ServiceError` (nothing saved) for a finished sitting, an item
    that is not next, or an unusable answer.
    """
    if sitting.user_id != user.id:
        raise ServiceError("This skills check belongs to someone else.")
    item = next_check_item(db, sitting)
    if item is None:
        raise ServiceError("This skills check is already finished.")
    if item.drill.id != drill.id:
        raise ServiceError("That item has already been answered; here is the next one.")
    attempt, _ = answer_drill(db, user, drill, text, skills_check=sitting)
    if next_check_item(db, sitting) is None:
        items = _sitting_items(db, sitting)
        answered = [i.attempt for i in items if i.attempt is not None]
        sitting.score = sum(1 for a in answered if a.hit) / len(answered) if answered else 0.0
        sitting.completed_at = utcnow()
        db.commit()
    return attempt


@dataclass
class CheckResult:
    sitting: SkillsCheck
    items: list[CheckItem]

    @property
    def hits(self) -> int:
        return sum(1 for i in self.items if i.attempt is not None and i.attempt.hit)

    @property
    def by_skill(self) -> dict[str, tuple[int, int]]:
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for i in self.items:
            if i.attempt is not None:
                out[i.drill.skill][0] += int(i.attempt.hit)
                out[i.drill.skill][1] += 1
        return {k: (v[0], v[1]) for k, v in out.items()}


def check_result(db: Session, sitting: SkillsCheck) -> CheckResult:
    """A sitting's items and answers."""
    return CheckResult(sitting, _sitting_items(db, sitting))


@dataclass
class SkillsCheckSummary:
    """The learner's before/after picture."""

    items: int
    pre: SkillsCheck | None
    post: SkillsCheck | None
    open_pre: SkillsCheck | None
    open_post: SkillsCheck | None
    per_skill: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def change(self) -> float | None:
        """After minus before, in percentage points."""
        if self.pre is None or self.post is None or self.pre.score is None \
                or self.post.score is None:
            return None
        return round((self.post.score - self.pre.score) * 100, 1)


def skills_check_summary(db: Session, user: User) -> SkillsCheckSummary:
    """Latest completed before/after sittings, any open ones, and per-skill hits."""
    pre, post = _latest_completed(db, user, "pre"), _latest_completed(db, user, "post")
    per_skill: dict[str, dict[str, Any]] = {}
    for phase, sitting in (("pre", pre), ("post", post)):
        if sitting is None:
            continue
        for skill, (hits, total) in check_result(db, sitting).by_skill.items():
            per_skill.setdefault(skill, {"label": SKILL_LABELS.get(skill, skill)})[phase] = (
                hits, total)
    return SkillsCheckSummary(len(check_items(db)), pre, post, _open_sitting(db, user, "pre"),
                              _open_sitting(db, user, "post"), per_skill)
