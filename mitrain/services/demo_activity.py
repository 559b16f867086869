"""Six months of made-up learning and practice for the demo organisation, so the
progress, review and workforce pages have something to show on a first run.

Everything is generated from a fixed seed and marked as demo data: quiz
attempts on the synced course, drill answers taken from each drill's own
example responses (or a typical miss), before/after skills checks, and coded
role-play transcripts (no audio) whose MI skill improves over the months. The
trainer signs off reviews of some of them through the review service, so the
trainer-vs-machine precedence is visible too. Nothing here calls the coder.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    Drill,
    DrillAttempt,
    QuizAttempt,
    Recording,
    RecordingStatus,
    SkillsCheck,
    User,
    Utterance,
    utcnow,
)
from . import review
from .drills import SKILL_TARGETS
from .learning import active_modules, current_course, pass_mark_for
from .transcripts import summary_of

MONTHS = 6
VERSION = "demo"
LINES: dict[str, tuple[str, ...]] = {
    "Q_OPEN": ("What has the last week been like for you and the children?",
               "How would you like the mornings to be?", "What worries you most right now?"),
    "Q_CLOSED": ("Did you get to the appointment on Tuesday?", "Is he still staying with you?",
                 "Have you spoken to the school?"),
    "SR": ("The mornings are the hardest part.", "You're tired of people checking on you."),
    "CR": ("Part of you wants the help, and part of you is scared of what it means.",
           "You want the children to feel safe at home, whatever it takes."),
    "AF": ("You kept coming to the appointments even when it was hard.",),
    "GI": ("The next review meeting is on the fourteenth.",),
    "PERSUADE": ("You need to stop before the children come home.",),
    "CHANGE": ("I do want things to be better for them.", "Maybe I could ask my mum to help."),
    "SUSTAIN": ("I don't see what the problem is.", "It's not as bad as everyone makes out."),
    "NEUTRAL": ("Yeah, maybe.", "I suppose."),
}
MISSES = (("Have you thought about getting up earlier?", "Q_CLOSED"),
          ("You need to make sure it doesn't happen again.", "PERSUADE"))


def _when(rng: random.Random, now: datetime, months_ago: float) -> datetime:
    return now - timedelta(days=30 * months_ago + rng.uniform(0, 20))


def _answer(rng: random.Random, drill: Drill, skill: float) -> tuple[str, str, bool]:
    """A drill answer: one of the drill's examples with probability ``skill``, else a miss."""
    examples = drill.example_responses or []
    if examples and rng.random() < skill:
        ex = rng.choice(examples)
        text, code = str(ex.get("text", "")), str(ex.get("code", "NONE"))
    else:
        text, code = rng.choice(MISSES)
    return text, code, code in SKILL_TARGETS.get(drill.skill, frozenset())


def _dialogue(rng: random.Random, skill: float) -> list[tuple[str, str, str]]:
    """(speaker, text, code) for a short role-play; more reflections as ``skill`` grows."""
    weights = {"Q_OPEN": 2 + 3 * skill, "Q_CLOSED": 4 - 3 * skill, "SR": 1 + 2 * skill,
               "CR": 0.3 + 3 * skill, "AF": 0.5 + skill, "GI": 1.5, "PERSUADE": 1.5 - 1.4 * skill}
    out = []
    for _ in range(10):
        code = rng.choices(list(weights), list(weights.values()))[0]
        out.append(("practitioner", rng.choice(LINES[code]), code))
        talk = rng.choices(["CHANGE", "SUSTAIN", "NEUTRAL"], [0.2 + 0.5 * skill, 0.5 - 0.3 * skill,
                                                               0.3])[0]
        out.append(("client", rng.choice(LINES[talk]), talk))
    return out


def _recording(db: Session, owner: User, at: datetime, skill: float,
               rng: random.Random) -> Recording:
    rec = Recording(owner_id=owner.id, title=f"Demo role-play, {at:%B}", audio_file=None,
                    original_filename="", content_type="", consent_at=at,
                    status=RecordingStatus.CODED, coder_version=VERSION,
                    transcriber={"engine": "demo", "model": "none"}, created_at=at, coded_at=at)
    db.add(rec)
    db.flush()
    rows = [Utterance(recording_id=rec.id, position=i, speaker=s, start=4.0 * i,
                      end=4.0 * i + 3.5, text=t, code=c, confidence=round(rng.uniform(.55, .95), 2))
            for i, (s, t, c) in enumerate(_dialogue(rng, skill))]
    db.add_all(rows)
    rec.summary = summary_of(rows)
    return rec


def _sign_off(db: Session, trainer: User, rec: Recording, skill: float) -> None:
    """The trainer's review: globals rated from the practitioner's level, then signed off."""
    rv = review.open_review(db, trainer, rec)
    for name in review.GLOBALS:
        review.set_global(db, rv, name, max(1, min(5, round(2 + 2.5 * skill))))
    review.set_note(db, rv, "Demo feedback: good use of open questions; try more complex "
                            "reflections when the parent pushes back.")
    review.sign_off(db, rv)


def create_demo_activity(db: Session, practitioners: list[User], trainer: User | None,
                         seed: int = 7) -> None:
    """Add the demo activity for ``practitioners`` (course content must be synced for the
    quiz and drill parts; without it they are skipped)."""
    rng = random.Random(seed)
    now = utcnow()
    course = current_course(db)
    modules = active_modules(db, course) if course is not None else []
    drills = list(db.scalars(select(Drill).where(Drill.active.is_(True)).order_by(Drill.id)))
    practice = [d for d in drills if not d.in_skills_check]
    check = [d for d in drills if d.in_skills_check]
    to_review: list[tuple[Recording, float]] = []
    for n, person in enumerate(practitioners):
        start = 0.15 + 0.35 * rng.random()  # where this practitioner's skill starts (0..1)
        # Modules passed so far: some have finished, some are part way, some not started.
        share = (1.0, 0.5, 1.0, 0.3, 0.8, 1.0, 0.0, 0.6)[n % 8]
        for i, module in enumerate(modules[: round(share * len(modules))]):
            score = round(rng.uniform(0.8, 1.0), 2)
            db.add(QuizAttempt(user_id=person.id, module_id=module.id, score=score,
                               passed=score >= pass_mark_for(module), answers={},
                               created_at=_when(rng, now, MONTHS - 1 - i * 0.4)))
        for phase, months_ago in (("pre", MONTHS - 0.5), ("post", 1.0)):
            if check and (phase == "pre" or n % 4 != 3):
                when = _when(rng, now, months_ago)
                skill = start if phase == "pre" else min(1.0, start + 0.3)
                sitting = SkillsCheck(user_id=person.id, phase=phase, created_at=when,
                                      completed_at=when)
                db.add(sitting)
                db.flush()
                hits = 0
                for d in check:
                    text, code, hit = _answer(rng, d, skill)
                    hits += hit
                    db.add(DrillAttempt(user_id=person.id, drill_id=d.id, response_text=text,
                                        code=code, confidence=0.8, hit=hit, coder_version=VERSION,
                                        skills_check_id=sitting.id, created_at=when))
                sitting.score = hits / len(check)
        for month in range(MONTHS):
            skill = min(1.0, start + 0.1 * (MONTHS - month))
            for _ in range(rng.randint(1, 4) if practice else 0):
                drill = rng.choice(practice)
                text, code, hit = _answer(rng, drill, skill)
                db.add(DrillAttempt(user_id=person.id, drill_id=drill.id,
                                    response_text=text, code=code, confidence=0.8, hit=hit,
                                    coder_version=VERSION, created_at=_when(rng, now, month)))
            if rng.random() < 0.5:
                rec = _recording(db, person, _when(rng, now, month), skill, rng)
                if trainer is not None and person.team_id in review.trainer_team_ids(trainer) \
                        and rng.random() < 0.4:
                    to_review.append((rec, skill))
    db.commit()
    if trainer is not None:  # the review service commits each step, with its audit trail
        for rec, skill in to_review:
            _sign_off(db, trainer, rec, skill)
