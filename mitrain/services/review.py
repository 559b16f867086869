"""Trainer review of coded recordings: queue, recoding, globals, feedback, sign-off.

Every change is committed at once and written to ``review_events`` (who, what,
before, after, when). A trainer edits only their own review; the transcript's
structure (text, speaker, split, merge) is shared by all reviews of a recording.

Concurrent edits: the client sends the ``version`` of an utterance it last saw
(the id of the newest event that concerns it *for this review*: its own code
and comment changes plus everyone's structural changes; another trainer's codes
never count, so a blind second coder learns nothing from them). If a newer
event exists the change is still saved (last write wins) and the result
carries a ``notice`` naming who changed it and when; both changes stay in the
audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from coding.miti import summarise
from coding.types import Code, CodedUtterance, Role, codes_for
from coding.types import Utterance as CodingUtterance

from ..models import (
    Recording,
    RecordingStatus,
    Review,
    ReviewCode,
    ReviewEvent,
    ReviewStatus,
    Team,
    User,
    UserRole,
    Utterance,
    utcnow,
)
from . import ServiceError

GLOBALS: tuple[str, ...] = ("cultivating_change_talk", "softening_sustain_talk", "partnership",
                            "empathy")
GLOBAL_LABELS: dict[str, str] = {
    "cultivating_change_talk": "Cultivating Change Talk",
    "softening_sustain_talk": "Softening Sustain Talk",
    "partnership": "Partnership",
    "empathy": "Empathy",
}
CODE_LABELS: dict[str, str] = {
    "GI": "Giving Information", "PERSUADE": "Persuade", "PWP": "Persuade with Permission",
    "Q_OPEN": "Open question", "Q_CLOSED": "Closed question", "SR": "Simple Reflection",
    "CR": "Complex Reflection", "AF": "Affirm", "SEEK": "Seeking Collaboration",
    "EMPHASIZE": "Emphasizing Autonomy", "CONFRONT": "Confront", "NONE": "No code",
    "CHANGE": "Change talk", "SUSTAIN": "Sustain talk", "NEUTRAL": "Neutral",
}
# One key per code; keys are per speaker (the current utterance decides which set applies).
CODE_KEYS: dict[str, dict[str, str]] = {
    "practitioner": {"g": "GI", "p": "PERSUADE", "m": "PWP", "o": "Q_OPEN", "c": "Q_CLOSED",
                     "s": "SR", "x": "CR", "a": "AF", "k": "SEEK", "e": "EMPHASIZE",
                     "f": "CONFRONT", "n": "NONE"},
    "client": {"c": "CHANGE", "s": "SUSTAIN", "n": "NEUTRAL"},
}
LOW_CONFIDENCE = 0.5  # machine codes below this are flagged for the trainer's attention
SHARED_ACTIONS = frozenset({"text", "speaker", "split", "merge"})
ACTION_LABELS = {"code": "changed the code", "comment": "changed the comment",
                 "text": "edited the text", "speaker": "changed the speaker",
                 "split": "split the utterance", "merge": "merged utterances"}
MAX_TEXT = 5000
MAX_COMMENT = 2000
MAX_NOTE = 10000
QUEUE_STATUSES = ("new", "draft", "signed_off")
_DEFAULT_CODE = {"practitioner": Code.NONE.value, "client": Code.NEUTRAL.value}


class StaleError(ServiceError):
    """The thing the client changed no longer exists as it saw it: reload."""


# ------------------------------------------------------------------ access
def trainer_team_ids(trainer: User) -> set[int]:
    """Ids of the teams a trainer reviews."""
    return {t.id for t in trainer.trained_teams}


def can_review(db: Session, user: User, recording: Recording) -> bool:
    """Whether ``user`` may open this recording for review.

    Trainers of the practitioner's team may; so may a trainer who holds a review
    of it (e.g. assigned as second coder).
    """
    if user.role is not UserRole.TRAINER or recording.status is not RecordingStatus.CODED:
        return False
    if recording.owner.team_id is not None and recording.owner.team_id in trainer_team_ids(user):
        return True
    return db.scalar(select(Review.id).where(Review.recording_id == recording.id,
                                             Review.trainer_id == user.id)) is not None


# ------------------------------------------------------------------ queue
@dataclass
class QueueItem:
    recording: Recording
    status: str  # new | draft | signed_off (as this trainer sees it)
    mine: Review | None
    reviewers: list[str]
    second_coder: bool


@dataclass
class Queue:
    items: list[QueueItem]
    counts: dict[str, int]
    teams: list[Team]
    practitioners: list[User]


def _primary(reviews: Iterable[Review]) -> Review | None:
    """The review whose sign-off is published: the latest signed-off non-blind one."""
    signed = [r for r in reviews if not r.blind and r.status is ReviewStatus.SIGNED_OFF]
    return max(signed, key=lambda r: r.signed_off_at or r.updated_at) if signed else None


def primary_review(reviews: Iterable[Review]) -> Review | None:
    """The published review of a recording (latest signed-off, non-blind), or None."""
    return _primary(reviews)


def _status_for(trainer: User, reviews: Sequence[Review]) -> tuple[str, Review | None]:
    mine = next((r for r in reviews if r.trainer_id == trainer.id), None)
    if mine is not None and mine.blind:
        return ("signed_off" if mine.status is ReviewStatus.SIGNED_OFF else "draft"), mine
    if _primary(reviews) is not None:
        return "signed_off", mine
    if any(not r.blind for r in reviews):
        return "draft", mine
    return "new", mine


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def review_queue(db: Session, trainer: User, *, team_id: int | None = None,
                 practitioner_id: int | None = None, status: str | None = None,
                 date_from: date | None = None, date_to: date | None = None) -> Queue:
    """Coded recordings of the trainer's teams (and ones assigned to them), oldest first.

    ``status`` is one of :data:`QUEUE_STATUSES`, ``"todo"`` (new or draft) or None (all);
    ``counts`` are per status with the other filters applied.
    """
    team_ids = trainer_team_ids(trainer)
    assigned = select(Review.recording_id).where(Review.trainer_id == trainer.id)
    q = (select(Recording).join(User, Recording.owner_id == User.id)
         .where(Recording.status == RecordingStatus.CODED,
                or_(User.team_id.in_(team_ids), Recording.id.in_(assigned))))
    if team_id:
        q = q.where(User.team_id == team_id)
    if practitioner_id:
        q = q.where(Recording.owner_id == practitioner_id)
    if date_from:
        q = q.where(Recording.created_at >= _day_start(date_from))
    if date_to:
        q = q.where(Recording.created_at < _day_start(date_to + timedelta(days=1)))
    recordings = list(db.scalars(q.order_by(Recording.created_at, Recording.id)))
    reviews: dict[int, list[Review]] = {}
    if recordings:
        for r in db.scalars(select(Review).where(
                Review.recording_id.in_([x.id for x in recordings]))):
            reviews.setdefault(r.recording_id, []).append(r)
    items: list[QueueItem] = []
    counts = {s: 0 for s in QUEUE_STATUSES}
    for rec in recordings:
        rs = reviews.get(rec.id, [])
        st, mine = _status_for(trainer, rs)
        counts[st] += 1
        if status == "todo" and st == "signed_off":
            continue
        if status in QUEUE_STATUSES and st != status:
            continue
        names = [r.trainer.name for r in rs if not (r.blind and r.trainer_id != trainer.id)]
        items.append(QueueItem(rec, st, mine, names, bool(mine and mine.blind)))
    counts["total"] = sum(counts[s] for s in QUEUE_STATUSES)
    teams = sorted(trainer.trained_teams, key=lambda t: t.name)
    practitioners = list(db.scalars(
        select(User).where(User.team_id.in_(team_ids), User.role == UserRole.PRACTITIONER)
        .order_by(User.name))) if team_ids else []
    return Queue(items, counts, teams, practitioners)


# ------------------------------------------------------------------ reviews
def open_review(db: Session, trainer: User, recording: Recording) -> Review:
    """The trainer's review of a recording, created (as a draft) on first open."""
    if not can_review(db, trainer, recording):
        raise ServiceError("You do not review this practitioner's team.")
    review = db.scalar(select(Review).where(Review.recording_id == recording.id,
                                            Review.trainer_id == trainer.id))
    if review is None:
        review = Review(recording=recording, trainer=trainer, globals_rating={}, overall_note="")
        db.add(review)
        db.flush()
        _event(db, review, None, "open", None, None)
        db.commit()
    return review


def _event(db: Session, review: Review, utterance_id: int | None, action: str,
           before: Any, after: Any) -> ReviewEvent:
    ev = ReviewEvent(recording_id=review.recording_id, review_id=review.id,
                     utterance_id=utterance_id, user_id=review.trainer_id, action=action,
                     before=before, after=after, at=utcnow())
    db.add(ev)
    db.flush()
    return ev


def _check_editable(review: Review) -> None:
    if review.status is ReviewStatus.SIGNED_OFF:
        raise ServiceError("This review is signed off, so it cannot be changed. "
                           "Reopen it first (that hides it from the practitioner until you "
                           "sign off again).")


def structure_locked_by(db: Session, review: Review) -> list[str]:
    """Names of trainers whose signed-off review of the recording fixes its transcript.

    Text, speakers and utterance boundaries are shared by every review: once one is
    signed off they stay as they were, so published feedback and agreement figures keep
    the utterances they were made on.
    """
    return list(db.scalars(select(User.name).join(Review, Review.trainer_id == User.id).where(
        Review.recording_id == review.recording_id, Review.id != review.id,
        Review.status == ReviewStatus.SIGNED_OFF).order_by(User.name)))


def _check_structure_open(db: Session, review: Review) -> None:
    _check_editable(review)
    signed = structure_locked_by(db, review)
    if signed:
        raise ServiceError(f"The transcript is fixed: {', '.join(signed)} signed off a review "
                           "of it. Text, speakers, splits and merges can change again once "
                           "that review is reopened; codes and comments can still change.")


def _relevant(review: Review) -> Any:
    return or_(ReviewEvent.review_id == review.id, ReviewEvent.action.in_(SHARED_ACTIONS))


def utterance_versions(db: Session, review: Review) -> dict[int, int]:
    """utterance id -> version (newest relevant event id; 0 when never changed)."""
    rows = db.execute(
        select(ReviewEvent.utterance_id, func.max(ReviewEvent.id))
        .where(ReviewEvent.recording_id == review.recording_id,
               ReviewEvent.utterance_id.is_not(None), _relevant(review))
        .group_by(ReviewEvent.utterance_id))
    return {int(u): int(v) for u, v in rows if u is not None and v is not None}


def _when(ev: ReviewEvent) -> str:
    return ev.at.strftime("%H:%M:%S")


def _conflict_notice(db: Session, review: Review, utterance_id: int,
                     client_version: int | None) -> str | None:
    if client_version is None:
        return None
    ev = db.scalar(select(ReviewEvent).where(
        ReviewEvent.recording_id == review.recording_id,
        ReviewEvent.utterance_id == utterance_id, ReviewEvent.id > client_version,
        _relevant(review)).order_by(ReviewEvent.id.desc()).limit(1))
    if ev is None:
        return None
    what = ACTION_LABELS.get(ev.action, ev.action)
    if ev.user_id == review.trainer_id:
        return (f"You {what} of this utterance in another window at {_when(ev)} UTC; "
                "this change replaced it. Both are in the history.")
    who = db.get(User, ev.user_id)
    name = who.name if who else "Another trainer"
    return (f"{name} {what} of this utterance at {_when(ev)} UTC, after you loaded the page; "
            "your change was saved over it. Both changes are in the history.")


def _utterance(db: Session, review: Review, utterance_id: int) -> Utterance:
    u = db.get(Utterance, utterance_id)
    if u is not None and u.recording_id == review.recording_id:
        return u
    merged = db.scalar(select(ReviewEvent).where(
        ReviewEvent.recording_id == review.recording_id, ReviewEvent.utterance_id == utterance_id,
        ReviewEvent.action == "merge").order_by(ReviewEvent.id.desc()).limit(1))
    if merged is not None:
        who = db.get(User, merged.user_id)
        raise StaleError(f"{who.name if who else 'Another trainer'} merged this utterance into "
                         f"the one before it at {_when(merged)} UTC. Reload the page to see "
                         "the transcript as it is now.")
    raise StaleError("This utterance is not part of this recording any more. Reload the page.")


def _review_code(db: Session, review: Review, utterance_id: int, create: bool = True
                 ) -> ReviewCode | None:
    rc = db.scalar(select(ReviewCode).where(ReviewCode.review_id == review.id,
                                            ReviewCode.utterance_id == utterance_id))
    if rc is None and create:
        rc = ReviewCode(review_id=review.id, utterance_id=utterance_id, code=None, comment="")
        db.add(rc)
    return rc


def effective_code(u: Utterance, trainer_code: str | None) -> str:
    """The code a review gives an utterance: the trainer's, else the machine's (accepted).

    A code that is not valid for the (possibly corrected) speaker falls back to
    that speaker's neutral code (NONE / NEUTRAL).
    """
    valid = {c.value for c in codes_for(Role(u.speaker))}
    for c in (trainer_code, u.code):
        if c and c in valid:
            return c
    return _DEFAULT_CODE[u.speaker]


def _check_code(u: Utterance, code: str) -> str:
    value = code.strip().upper()
    valid = [c.value for c in codes_for(Role(u.speaker))]
    if value not in {c.value for c in Code}:
        raise ServiceError(f"'{code}' is not a MITI code. Codes for this {u.speaker} utterance: "
                           + ", ".join(valid) + ".")
    if value not in valid:
        raise ServiceError(f"{value} is not a code for a {u.speaker} utterance. "
                           f"{u.speaker.capitalize()} codes: " + ", ".join(valid) + ".")
    return value


@dataclass
class Change:
    """The result of one change: the utterance as it is now, a conflict notice, the summary."""

    utterance: dict[str, Any] | None
    notice: str | None
    summary: dict[str, Any]
    reload: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": True, "utterance": self.utterance, "notice": self.notice,
                "summary": self.summary, "reload": self.reload, **self.extra}


def _done(db: Session, review: Review, u: Utterance | None, notice: str | None,
          reload: bool = False) -> Change:
    db.commit()
    row = None
    if u is not None:
        versions = utterance_versions(db, review)
        rc = _review_code(db, review, u.id, create=False)
        row = utterance_row(u, rc, versions.get(u.id, 0))
    return Change(row, notice, live_summary(db, review), reload)


def set_code(db: Session, review: Review, utterance_id: int, code: str | None,
             client_version: int | None = None) -> Change:
    """Set (or, with an empty code, clear back to the machine's) the trainer's code."""
    _check_editable(review)
    u = _utterance(db, review, utterance_id)
    value = _check_code(u, code) if code else None
    notice = _conflict_notice(db, review, u.id, client_version)
    rc = _review_code(db, review, u.id)
    assert rc is not None
    before = rc.code
    rc.code = value
    rc.updated_at = utcnow()
    _event(db, review, u.id, "code", before, value)
    return _done(db, review, u, notice)


def set_comment(db: Session, review: Review, utterance_id: int, comment: str,
                client_version: int | None = None) -> Change:
    """Set the trainer's comment on an utterance (shown to the practitioner on sign-off)."""
    _check_editable(review)
    u = _utterance(db, review, utterance_id)
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise ServiceError(f"A comment can be at most {MAX_COMMENT} characters.")
    notice = _conflict_notice(db, review, u.id, client_version)
    rc = _review_code(db, review, u.id)
    assert rc is not None
    before = rc.comment
    if before == comment:
        return _done(db, review, u, notice)
    rc.comment = comment
    rc.updated_at = utcnow()
    _event(db, review, u.id, "comment", before, comment)
    return _done(db, review, u, notice)


def set_speaker(db: Session, review: Review, utterance_id: int, speaker: str,
                client_version: int | None = None) -> Change:
    """Correct who spoke; a code of this review that no longer fits is cleared."""
    _check_structure_open(db, review)
    u = _utterance(db, review, utterance_id)
    if speaker not in ("practitioner", "client"):
        raise ServiceError("The speaker must be 'practitioner' or 'client'.")
    notice = _conflict_notice(db, review, u.id, client_version)
    rc = _review_code(db, review, u.id, create=False)
    before = {"speaker": u.speaker, "code": rc.code if rc else None}
    u.speaker = speaker
    if rc is not None and rc.code and rc.code not in {c.value for c in codes_for(Role(speaker))}:
        rc.code = None
    _event(db, review, u.id, "speaker", before,
           {"speaker": speaker, "code": rc.code if rc else None})
    return _done(db, review, u, notice)


def edit_text(db: Session, review: Review, utterance_id: int, text: str,
              client_version: int | None = None) -> Change:
    """Correct the transcript text; the machine's original is kept beside it."""
    _check_structure_open(db, review)
    u = _utterance(db, review, utterance_id)
    text = " ".join(text.split())
    if not text:
        raise ServiceError("The text cannot be empty. To drop an utterance, merge it "
                           "into its neighbour.")
    if len(text) > MAX_TEXT:
        raise ServiceError(f"An utterance can be at most {MAX_TEXT} characters.")
    notice = _conflict_notice(db, review, u.id, client_version)
    before = u.text
    if before == text:
        return _done(db, review, u, notice)
    if u.original_text is None:
        u.original_text = before
    u.text = text
    _event(db, review, u.id, "text", before, text)
    return _done(db, review, u, notice)


def _shift(db: Session, recording_id: int, after_position: int, delta: int) -> None:
    """Move every utterance after ``after_position`` by ``delta`` without breaking uniqueness."""
    # Two statements (negate, then flip back) keep (recording, position) unique at every row
    # on SQLite and PostgreSQL alike.
    where = (Utterance.recording_id == recording_id, Utterance.position > after_position)
    db.execute(update(Utterance).where(*where)
               .values(position=-(Utterance.position + delta))
               .execution_options(synchronize_session=False))
    db.execute(update(Utterance).where(Utterance.recording_id == recording_id,
                                       Utterance.position < 0)
               .values(position=-Utterance.position)
               .execution_options(synchronize_session=False))
    for obj in list(db.identity_map.values()):
        if isinstance(obj, Utterance) and obj.recording_id == recording_id:
            db.expire(obj, ["position"])


def split_utterance(db: Session, review: Review, utterance_id: int, at: int,
                    client_version: int | None = None) -> Change:
    """Split an utterance at character ``at`` into two (same speaker, machine code copied)."""
    _check_structure_open(db, review)
    u = _utterance(db, review, utterance_id)
    notice = _conflict_notice(db, review, u.id, client_version)
    first, second = u.text[:at].strip(), u.text[at:].strip()
    if not (0 < at < len(u.text)) or not first or not second:
        raise ServiceError("Choose a split point inside the text: both parts need words.")
    mid: float | None = None
    if u.start is not None and u.end is not None:
        mid = round(u.start + (u.end - u.start) * len(first) / max(1, len(first) + len(second)), 2)
    before = {"text": u.text, "end": u.end}
    _shift(db, u.recording_id, u.position, 1)
    new = Utterance(recording_id=u.recording_id, position=u.position + 1, speaker=u.speaker,
                    speaker_label=u.speaker_label, start=mid, end=u.end, text=second,
                    original_text=None, code=u.code, confidence=u.confidence)
    if u.original_text is None:
        u.original_text = u.text
    u.text = first
    u.end = mid if mid is not None else u.end
    db.add(new)
    db.flush()
    _event(db, review, u.id, "split", before, {"text": first, "end": u.end, "new_id": new.id})
    _event(db, review, new.id, "split", None,
           {"text": second, "start": new.start, "end": new.end, "from_id": u.id})
    db.expire(u.recording)
    return _done(db, review, u, notice, reload=True)


def merge_with_next(db: Session, review: Review, utterance_id: int,
                    client_version: int | None = None) -> Change:
    """Merge an utterance with the next one (same speaker); the next one's codes and comments
    are kept in the audit trail, and this review's comment on it is carried over."""
    _check_structure_open(db, review)
    u = _utterance(db, review, utterance_id)
    nxt = db.scalar(select(Utterance).where(Utterance.recording_id == u.recording_id,
                                            Utterance.position > u.position)
                    .order_by(Utterance.position).limit(1))
    if nxt is None:
        raise ServiceError("This is the last utterance: there is nothing after it to merge.")
    if nxt.speaker != u.speaker:
        raise ServiceError("Only consecutive utterances by the same speaker can be merged. "
                           "Fix the speaker first if it is wrong.")
    notice = (_conflict_notice(db, review, u.id, client_version))
    their_codes = list(db.scalars(select(ReviewCode).where(ReviewCode.utterance_id == nxt.id)))
    nxt_id = nxt.id
    gone = {"id": nxt_id, "text": nxt.text, "original_text": nxt.original_text,
            "start": nxt.start, "end": nxt.end, "machine_code": nxt.code,
            "confidence": nxt.confidence,
            "review_codes": [{"review_id": c.review_id, "code": c.code, "comment": c.comment}
                             for c in their_codes]}
    before = {"text": u.text, "end": u.end}
    carried = next((c.comment for c in their_codes if c.review_id == review.id and c.comment),
                   None)
    if u.original_text is None:
        u.original_text = u.text
    u.text = f"{u.text} {nxt.text}"
    if nxt.end is not None:
        u.end = nxt.end
    position = nxt.position
    # Delete (and flush) before adding anything: SQLite may reuse a freed row id.
    for c in their_codes:
        db.delete(c)
    db.flush()
    db.delete(nxt)
    db.flush()
    _shift(db, u.recording_id, position, -1)
    if carried:
        rc = _review_code(db, review, u.id)
        assert rc is not None
        rc.comment = (rc.comment + "\n" + carried).strip()
    _event(db, review, u.id, "merge", before, {"text": u.text, "end": u.end, "merged": gone})
    _event(db, review, nxt_id, "merge", gone, {"merged_into": u.id})
    db.expire(u.recording)
    return _done(db, review, u, notice, reload=True)


def set_global(db: Session, review: Review, name: str, value: int | None) -> dict[str, int]:
    """Rate one of the four MITI globals 1–5 (None clears it)."""
    _check_editable(review)
    if name not in GLOBALS:
        raise ServiceError("Unknown global score. Use one of: "
                           + ", ".join(GLOBAL_LABELS.values()) + ".")
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or not 1 <= value <= 5):
        raise ServiceError(f"{GLOBAL_LABELS[name]} is rated from 1 to 5.")
    ratings = dict(review.globals_rating or {})
    before = ratings.get(name)
    if value is None:
        ratings.pop(name, None)
    else:
        ratings[name] = value
    review.globals_rating = ratings  # a new dict: JSON columns track assignment, not mutation
    review.updated_at = utcnow()
    _event(db, review, None, "global", {name: before}, {name: value})
    db.commit()
    return ratings


def set_note(db: Session, review: Review, note: str) -> None:
    """Save the overall feedback note (autosaved while typing; one audit event per burst)."""
    _check_editable(review)
    if len(note) > MAX_NOTE:
        raise ServiceError(f"The overall note can be at most {MAX_NOTE} characters.")
    if note == review.overall_note:
        return
    last = db.scalar(select(ReviewEvent).where(ReviewEvent.review_id == review.id)
                     .order_by(ReviewEvent.id.desc()).limit(1))
    # Autosave sends a note every few seconds while typing: extend the trainer's own
    # latest note event instead of writing hundreds (its "before" is still the original).
    if (last is not None and last.action == "note" and last.user_id == review.trainer_id
            and utcnow() - last.at < timedelta(minutes=2)):
        last.after = note
        last.at = utcnow()
    else:
        _event(db, review, None, "note", review.overall_note, note)
    review.overall_note = note
    review.updated_at = utcnow()
    db.commit()


def missing_globals(review: Review) -> list[str]:
    """Labels of the globals not yet rated."""
    rating = review.globals_rating or {}
    return [GLOBAL_LABELS[g] for g in GLOBALS if rating.get(g) is None]


def sign_off(db: Session, review: Review) -> None:
    """Publish the review to the practitioner; all four globals must be rated."""
    _check_editable(review)
    missing = missing_globals(review)
    if missing:
        raise ServiceError("Rate all four global scores before signing off. Still missing: "
                           + ", ".join(missing) + ".")
    review.status = ReviewStatus.SIGNED_OFF
    review.signed_off_at = utcnow()
    _event(db, review, None, "sign_off", None,
           {"globals": review.globals_rating, "summary": live_summary(db, review)["trainer"]})
    db.commit()


def reopen(db: Session, review: Review) -> None:
    """Return a signed-off review to draft (the last signed-off state stays in the history)."""
    if review.status is not ReviewStatus.SIGNED_OFF:
        raise ServiceError("This review is already a draft.")
    review.status = ReviewStatus.DRAFT
    before = review.signed_off_at.isoformat() if review.signed_off_at else None
    review.signed_off_at = None
    _event(db, review, None, "reopen", {"signed_off_at": before}, None)
    db.commit()


def second_coder_choices(db: Session, review: Review) -> list[User]:
    """Trainers who could double-code this recording blind (same team, no review yet)."""
    team_id = review.recording.owner.team_id
    if team_id is None:
        return []
    taken = {r.trainer_id for r in review.recording.reviews}
    team = db.get(Team, team_id)
    return sorted((t for t in (team.trainers if team else []) if t.active and t.id not in taken),
                  key=lambda t: t.name)


def assign_second(db: Session, review: Review, second: User) -> Review:
    """Assign a second trainer to code the recording blind to this review."""
    if review.blind:
        raise ServiceError("A second coder cannot assign another one.")
    if second not in second_coder_choices(db, review):
        raise ServiceError(f"{second.name} cannot be assigned: choose an active trainer of the "
                           "practitioner's team who has not reviewed this recording.")
    blind = Review(recording_id=review.recording_id, trainer_id=second.id, blind=True,
                   globals_rating={}, overall_note="")
    db.add(blind)
    db.flush()
    _event(db, review, None, "assign", None, {"trainer_id": second.id, "name": second.name})
    db.commit()
    return blind


# ------------------------------------------------------------------ views of a review
def utterance_row(u: Utterance, rc: ReviewCode | None, version: int) -> dict[str, Any]:
    """One utterance as the workspace shows it (JSON-safe)."""
    code = rc.code if rc else None
    return {
        "id": u.id, "position": u.position, "speaker": u.speaker, "start": u.start,
        "end": u.end, "text": u.text, "original_text": u.original_text,
        "edited": u.original_text is not None and u.original_text != u.text,
        "machine_code": u.code, "confidence": round(float(u.confidence or 0.0), 3),
        "low_confidence": float(u.confidence or 0.0) < LOW_CONFIDENCE,
        "code": code, "effective_code": effective_code(u, code),
        "changed": effective_code(u, code) != u.code,
        "comment": rc.comment if rc else "", "version": version,
        "valid_codes": [c.value for c in codes_for(Role(u.speaker))],
    }


def _codes_of(db: Session, review: Review) -> dict[int, ReviewCode]:
    return {c.utterance_id: c for c in db.scalars(
        select(ReviewCode).where(ReviewCode.review_id == review.id))}


def _utterances(db: Session, recording_id: int) -> list[Utterance]:
    return list(db.scalars(select(Utterance).where(Utterance.recording_id == recording_id)
                           .order_by(Utterance.position)))


def utterance_rows(db: Session, review: Review) -> list[dict[str, Any]]:
    """Every utterance of the review's recording, in order, with this review's codes."""
    codes = _codes_of(db, review)
    versions = utterance_versions(db, review)
    return [utterance_row(u, codes.get(u.id), versions.get(u.id, 0))
            for u in _utterances(db, review.recording_id)]


def coded(utterances: Sequence[Utterance], codes: dict[int, str]) -> list[CodedUtterance]:
    """``coding`` objects for summarising: turns are runs of one speaker."""
    out: list[CodedUtterance] = []
    turn, k, last = -1, 0, None
    for u in utterances:
        if u.speaker != last:
            turn, k, last = turn + 1, 0, u.speaker
        else:
            k += 1
        cu = CodingUtterance(Role(u.speaker), u.text, turn, k, u.start, u.end)
        out.append(CodedUtterance(cu, Code(codes[u.id]), float(u.confidence or 0.0), ""))
    return out


_SUMMARY_KEYS = ("rq_ratio", "pct_complex_reflections", "pct_open_questions", "mi_adherent",
                 "mi_non_adherent", "change_talk_pct")


def _compact(summary: dict[str, Any]) -> dict[str, Any]:
    out = {k: summary[k] for k in _SUMMARY_KEYS}
    out["bands"] = {k: v["band"] for k, v in summary["thresholds"].items()}
    out["counts"] = summary["counts_volley"]
    return out


def review_codes(db: Session, review: Review) -> dict[int, str]:
    """utterance id -> the code this review gives it (trainer's or accepted machine code)."""
    codes = _codes_of(db, review)
    return {u.id: effective_code(u, codes[u.id].code if u.id in codes else None)
            for u in _utterances(db, review.recording_id)}


def live_summary(db: Session, review: Review) -> dict[str, Any]:
    """MITI summary scores from this review's current codes, beside the machine's."""
    utts = _utterances(db, review.recording_id)
    codes = _codes_of(db, review)
    trainer = {u.id: effective_code(u, codes[u.id].code if u.id in codes else None)
               for u in utts}
    machine = {u.id: effective_code(u, None) for u in utts}
    return {"trainer": _compact(summarise(coded(utts, trainer)).to_dict()),
            "machine": _compact(summarise(coded(utts, machine)).to_dict())}


def machine_globals(db: Session, recording: Recording) -> dict[str, Any]:
    """The machine's global estimates: stored with the recording, else computed now."""
    stored = (recording.summary or {}).get("globals_estimated")
    if stored:
        return dict(stored)
    utts = _utterances(db, recording.id)
    return summarise(coded(utts, {u.id: effective_code(u, None) for u in utts})).globals_estimated


def review_events(db: Session, review: Review, limit: int = 500) -> list[dict[str, Any]]:
    """The audit trail this trainer may see: their review's events and shared edits."""
    rows = db.execute(
        select(ReviewEvent, User.name).join(User, ReviewEvent.user_id == User.id)
        .where(ReviewEvent.recording_id == review.recording_id, _relevant(review))
        .order_by(ReviewEvent.id.desc()).limit(limit))
    out = []
    for ev, name in rows:
        own = ev.review_id == review.id
        out.append({"id": ev.id, "at": ev.at, "who": name, "action": ev.action,
                    "utterance_id": ev.utterance_id,
                    "before": ev.before if own else _redact(ev.before, review.id),
                    "after": ev.after if own else _redact(ev.after, review.id)})
    return out


def _redact(value: Any, review_id: int) -> Any:
    """Another review's shared event without that review's codes and comments.

    Speaker changes record the acting review's code and merges every review's codes of
    the merged utterance; a blind second coder must see neither.
    """
    if isinstance(value, list):
        return [_redact(v, review_id) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for k, v in value.items():
        if k == "code":
            continue
        if k == "review_codes" and isinstance(v, list):
            out[k] = [c for c in v if isinstance(c, dict) and c.get("review_id") == review_id]
        else:
            out[k] = _redact(v, review_id)
    return out


# ------------------------------------------------------------------ published feedback
@dataclass
class Feedback:
    """A signed-off review as the practitioner sees it."""

    review: Review
    trainer_name: str
    signed_off_at: datetime
    globals_rating: dict[str, int]
    globals_estimated: dict[str, Any]
    overall_note: str
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    changed: int


def published_feedback(db: Session, recording: Recording) -> Feedback | None:
    """The signed-off trainer feedback on a recording, or None (drafts are never shown)."""
    review = _primary(db.scalars(select(Review).where(Review.recording_id == recording.id)))
    if review is None or review.signed_off_at is None:
        return None
    rows = utterance_rows(db, review)
    return Feedback(review, review.trainer.name, review.signed_off_at,
                    dict(review.globals_rating or {}), machine_globals(db, recording),
                    review.overall_note, rows, live_summary(db, review),
                    sum(1 for r in rows if r["changed"]))


# ------------------------------------------------------------------ export
EXPORT_COLUMNS = ("utterance", "speaker", "start", "end", "text", "original_text",
                  "machine_code", "confidence", "trainer_code", "recoded", "comment")


def coding_export(db: Session, recording: Recording, review: Review | None
                  ) -> dict[str, Any]:
    """A recording's coding: machine and trainer codes and comments per utterance."""
    rows: list[dict[str, Any]] = []
    codes = _codes_of(db, review) if review else {}
    for u in _utterances(db, recording.id):
        rc = codes.get(u.id)
        tcode = effective_code(u, rc.code if rc else None) if review else None
        rows.append({"utterance": u.position + 1, "speaker": u.speaker, "start": u.start,
                     "end": u.end, "text": u.text, "original_text": u.original_text or "",
                     "machine_code": u.code, "confidence": round(float(u.confidence or 0), 3),
                     "trainer_code": tcode or "", "recoded": bool(tcode and tcode != u.code),
                     "comment": rc.comment if rc else ""})
    return {
        "recording_id": recording.id, "title": recording.title,
        "coder_version": recording.coder_version,
        "review": None if review is None else {
            "trainer": review.trainer.name, "status": review.status.value, "blind": review.blind,
            "signed_off_at": review.signed_off_at.isoformat() if review.signed_off_at else None,
            "globals": review.globals_rating, "overall_note": review.overall_note},
        "utterances": rows,
    }
