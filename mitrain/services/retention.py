"""Audio retention: delete role-play audio once the policy says it is no longer needed.

Policy (``AUDIO_RETENTION_DAYS`` = N; 0 turns age-based deletion off):

- audio goes N days after the recording was coded, or after upload if it never
  was (failed, or still waiting);
- a draft trainer review, or a coding job still queued or running, holds the
  audio (it is needed), but never beyond 2N days after upload (the hard maximum);
- transcript, codes, scores and reviews stay: progress and workforce figures use them;
- files in the recordings folder that no recording names (an upload that
  crashed before its row was saved, or a deletion that crashed after it) are
  removed once they are older than 24 hours, whatever N is.

Deletion order is row first, then file: one commit clears ``audio_file`` and
records when and why, then the file is unlinked. A crash in between leaves a
file that no row names, which the orphan pass removes on the next sweep, and
never a row that offers audio that is gone. Claims are conditional UPDATEs, so
two sweeps at once (several workers) delete each file once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from ..models import Job, JobStatus, Recording, Review, ReviewStatus, User, utcnow
from . import ServiceError

log = logging.getLogger(__name__)

JOB_KIND = "retention.sweep"
DAILY_AT_UTC = (2, 30)  # hour, minute: the daily sweep (a quiet hour for most teams)
HARD_MAXIMUM_FACTOR = 2
ORPHAN_GRACE = timedelta(hours=24)
# Only names this platform generates (services.recordings: "rec-<uuid>.<ext>"); anything
# else an operator put in the folder is left alone.
ORPHAN_PREFIX = "rec-"


class Reason(StrEnum):
    """Why audio was deleted (stored in ``recordings.audio_deleted_reason``)."""

    RETENTION = "retention"
    HARD_MAXIMUM = "hard_maximum"


REASON_TEXT = {
    Reason.RETENTION: "retention period passed",
    Reason.HARD_MAXIMUM: "hard maximum since upload passed",
}


@dataclass(frozen=True)
class Policy:
    """The retention period in days (0: keep audio until the owner deletes it)."""

    days: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Policy:
        """The policy of an app's config; a clear error for a value that makes no sense."""
        raw = config.get("AUDIO_RETENTION_DAYS", 0)
        try:
            days = int(raw)
        except (TypeError, ValueError):
            days = -1
        if days < 0:
            raise ServiceError(f"MITRAIN_AUDIO_RETENTION_DAYS must be 0 (keep audio) or a "
                               f"number of days, not {raw!r}. Nothing was deleted.")
        return cls(days)

    @property
    def enabled(self) -> bool:
        return self.days > 0

    @property
    def period(self) -> timedelta:
        return timedelta(days=self.days)

    @property
    def hard_maximum(self) -> timedelta:
        return timedelta(days=self.days * HARD_MAXIMUM_FACTOR)

    def describe(self) -> str:
        """One paragraph for the admin page and the CLI."""
        orphans = ("Files left by an interrupted upload (no recording names them) are "
                   f"removed after {ORPHAN_GRACE.total_seconds() / 3600:.0f} hours.")
        if not self.enabled:
            return ("Audio is kept until its owner deletes the recording "
                    "(MITRAIN_AUDIO_RETENTION_DAYS=0). " + orphans)
        return (f"Audio is deleted {self.days} days after the recording was coded (or "
                f"uploaded, if it was never coded). A draft trainer review or a running "
                f"coding job holds it, but never beyond {self.days * HARD_MAXIMUM_FACTOR} "
                f"days after upload. Transcripts, codes, scores and reviews are kept. "
                + orphans)


@dataclass(frozen=True)
class Deletion:
    """One recording whose audio is (or would be) deleted, or is next due."""

    recording_id: int
    title: str
    owner: str
    audio_file: str
    due_at: datetime
    held: bool
    reason: Reason | None = None

    @property
    def reason_text(self) -> str:
        return REASON_TEXT[self.reason] if self.reason else ""


@dataclass
class SweepResult:
    """What a sweep deleted (or, on a dry run, would delete)."""

    dry_run: bool
    policy: Policy
    deleted: list[Deletion] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # files left for the next sweep

    def summary(self) -> str:
        verb = "Would delete" if self.dry_run else "Deleted"
        text = (f"{verb} the audio of {_plural(len(self.deleted), 'recording')} and "
                f"{_plural(len(self.orphans), 'orphaned file')}.")
        if self.failed:
            text += (f" {_plural(len(self.failed), 'file')} could not be removed and will be "
                     f"tried again on the next sweep.")
        return text + (" Nothing was deleted." if self.dry_run else "")


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _basis() -> ColumnElement[datetime]:
    # The retention clock starts at coding; recordings never coded count from upload.
    return func.coalesce(Recording.coded_at, Recording.created_at)


def _held() -> ColumnElement[bool]:
    """The recording's audio is still needed: a draft review or an unfinished coding job."""
    draft = exists().where(Review.recording_id == Recording.id,
                           Review.status == ReviewStatus.DRAFT)
    coding = exists().where(Job.id == Recording.job_id,
                            Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))
    return or_(draft, coding)


def _with_audio() -> ColumnElement[bool]:
    return and_(Recording.audio_file.is_not(None), Recording.audio_deleted_at.is_(None))


def _as_deletion(rec: Recording, owner: str, held: bool, policy: Policy,
                 reason: Reason | None = None) -> Deletion:
    hard = rec.created_at + policy.hard_maximum
    due = hard if held else min((rec.coded_at or rec.created_at) + policy.period, hard)
    return Deletion(rec.id, rec.title, owner, rec.audio_file or "", due, held, reason)


def due_now(db: Session, policy: Policy, now: datetime) -> list[Deletion]:
    """Recordings whose audio the policy says must go at ``now`` (oldest first)."""
    if not policy.enabled:
        return []
    hard_cutoff = now - policy.hard_maximum
    rows = db.execute(
        select(Recording, User.name, _held().label("held"))
        .join(User, User.id == Recording.owner_id)
        .where(_with_audio(),
               or_(Recording.created_at < hard_cutoff,
                   and_(_basis() < now - policy.period, ~_held())))
        .order_by(_basis(), Recording.id))
    out = []
    for rec, owner, held in rows:
        expired = (rec.coded_at or rec.created_at) < now - policy.period
        reason = Reason.RETENTION if expired and not held else Reason.HARD_MAXIMUM
        out.append(_as_deletion(rec, owner, bool(held), policy, reason))
    return out


def upcoming(db: Session, policy: Policy, limit: int = 10) -> list[Deletion]:
    """The next recordings whose audio will go, soonest first (``due_at`` may be past)."""
    if not policy.enabled:
        return []
    rows = db.execute(
        select(Recording, User.name, _held().label("held"))
        .join(User, User.id == Recording.owner_id)
        .where(_with_audio())
        .order_by(_basis(), Recording.id).limit(limit * 3))
    found = [_as_deletion(rec, owner, bool(held), policy) for rec, owner, held in rows]
    # A held recording's date moves to its hard maximum, so re-sort by the real date.
    return sorted(found, key=lambda d: (d.due_at, d.recording_id))[:limit]


def recently_deleted(db: Session, limit: int = 10) -> list[Recording]:
    """Recordings whose audio the policy deleted, newest first."""
    return list(db.scalars(select(Recording).where(Recording.audio_deleted_at.is_not(None))
                           .order_by(Recording.audio_deleted_at.desc()).limit(limit)))


def counts(db: Session) -> dict[str, int]:
    """How many recordings keep their audio and how many had it deleted by the policy."""
    kept = db.scalar(select(func.count(Recording.id)).where(_with_audio())) or 0
    deleted = db.scalar(select(func.count(Recording.id))
                        .where(Recording.audio_deleted_at.is_not(None))) or 0
    return {"with_audio": kept, "deleted": deleted}


def sweep_job_pending(db: Session) -> bool:
    """True while a sweep job is queued or running (schedulers on several workers)."""
    return db.scalar(select(Job.id).where(Job.kind == JOB_KIND, Job.status.in_(
        (JobStatus.QUEUED, JobStatus.RUNNING))).limit(1)) is not None


def orphan_files(db: Session, recordings_dir: Path, now: datetime) -> list[Path]:
    """Platform audio files older than the grace period that no recording names."""
    if not recordings_dir.is_dir():
        return []
    oldest = (now - ORPHAN_GRACE).timestamp()
    # Files are listed before the names are read: an upload whose row commits in between
    # has a fresh file, which the grace period already protects.
    candidates = []
    with os.scandir(recordings_dir) as entries:
        for entry in entries:
            if (entry.name.startswith(ORPHAN_PREFIX) and entry.is_file(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_mtime < oldest):
                candidates.append(entry.name)
    if not candidates:
        return []
    named = set(db.scalars(select(Recording.audio_file)
                           .where(Recording.audio_file.in_(candidates))))
    return [recordings_dir / name for name in sorted(candidates) if name not in named]


def _claim(db: Session, item: Deletion, now: datetime) -> bool:
    """Clear the row's audio and record why, unless another sweep or a new review got there."""
    conditions = [Recording.id == item.recording_id, Recording.audio_file == item.audio_file,
                  Recording.audio_deleted_at.is_(None)]
    if item.reason is Reason.RETENTION:
        conditions.append(~_held())  # a trainer may have opened a draft since the query
    result = db.execute(update(Recording).where(*conditions)
                        .values(audio_file=None, audio_deleted_at=now,
                                audio_deleted_reason=item.reason.value if item.reason else None)
                        .execution_options(synchronize_session=False))
    db.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


def _unlink(path: Path, result: SweepResult) -> bool:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        # The row no longer names the file, so the orphan pass tries again next time.
        log.warning("retention: could not remove %s: %s", path.name, exc)
        result.failed.append(path.name)
        return False
    return True


def sweep(db: Session, recordings_dir: Path, policy: Policy, *, now: datetime | None = None,
          dry_run: bool = False) -> SweepResult:
    """Delete the audio the policy says must go, then orphaned files; safe to run twice.

    With ``dry_run`` nothing changes: the result lists what would be deleted.
    """
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValueError("sweep() needs a timezone-aware time")
    now = now.astimezone(UTC)
    result = SweepResult(dry_run=dry_run, policy=policy)
    for item in due_now(db, policy, now):
        if dry_run:
            result.deleted.append(item)
        elif _claim(db, item, now):
            result.deleted.append(item)
            _unlink(recordings_dir / item.audio_file, result)
            log.info("retention: deleted audio of recording %s (%s)", item.recording_id,
                     item.reason)
    for path in orphan_files(db, recordings_dir, now):
        if path.name in result.failed:
            continue  # just failed above; the next sweep tries again
        if dry_run or _unlink(path, result):
            result.orphans.append(path.name)
    return result
