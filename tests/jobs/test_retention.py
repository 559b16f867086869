"""Audio retention sweep: what goes, what stays, crash safety, the daily job."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mitrain.jobs import get_queue
from mitrain.models import (
    Job,
    JobStatus,
    Recording,
    RecordingStatus,
    Review,
    ReviewStatus,
    User,
    UserRole,
    Utterance,
    utcnow,
)
from mitrain.services import ServiceError, retention
from mitrain.services.retention import Policy, Reason, sweep

from ..review_factories import make_aged_recording, write_wav

DAY = timedelta(days=1)
POLICY = Policy(90)


@pytest.fixture
def now():
    return utcnow()


@pytest.fixture
def audio_dir(app) -> Path:
    return Path(app.config["RECORDINGS_DIR"])


@pytest.fixture
def owner(people) -> User:
    return people[UserRole.PRACTITIONER]


def aged(db, owner, audio_dir, now, *, uploaded: float, coded: float | None = None,
         status: RecordingStatus = RecordingStatus.CODED) -> Recording:
    return make_aged_recording(db, owner, audio_dir, now, uploaded_days=uploaded,
                               coded_days=coded, status=status)


def review(db, rec, trainer, status: ReviewStatus) -> Review:
    row = Review(recording_id=rec.id, trainer_id=trainer.id, status=status, globals_rating={},
                 overall_note="Kept after the audio goes.")
    db.add(row)
    db.commit()
    return row


def fresh(db, rec) -> Recording:
    return db.get(Recording, rec.id, populate_existing=True)


def old_file(audio_dir: Path, name: str, now: datetime, hours: float) -> Path:
    path = write_wav(audio_dir / name)
    stamp = (now - timedelta(hours=hours)).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_audio_goes_after_the_period_from_coding_and_the_rest_stays(db, owner, audio_dir,
                                                                     now) -> None:
    minute = 1 / (24 * 60)
    expired = aged(db, owner, audio_dir, now, uploaded=120, coded=90 + minute)
    not_yet = aged(db, owner, audio_dir, now, uploaded=120, coded=90 - minute)
    recoded = aged(db, owner, audio_dir, now, uploaded=100, coded=10)  # clock starts at coding
    recoded_late = aged(db, owner, audio_dir, now, uploaded=181, coded=10)  # but 2N caps it
    name = expired.audio_file
    result = sweep(db, audio_dir, POLICY, now=now)
    assert {d.recording_id: d.reason for d in result.deleted} == {
        expired.id: Reason.RETENTION, recoded_late.id: Reason.HARD_MAXIMUM}
    gone = fresh(db, expired)
    assert (gone.audio_file, gone.audio_deleted_at, gone.audio_deleted_reason) == (
        None, now, Reason.RETENTION.value)
    assert not (audio_dir / name).exists()
    # transcript, codes and scores are what progress and workforce figures use
    assert db.scalar(select(func.count(Utterance.id))
                     .where(Utterance.recording_id == expired.id)) == 8
    assert gone.summary and gone.status is RecordingStatus.CODED
    for kept in (not_yet, recoded):
        row = fresh(db, kept)
        assert row.audio_deleted_at is None and (audio_dir / row.audio_file).is_file()


def test_draft_review_holds_audio_until_the_hard_maximum(db, owner, people, audio_dir,
                                                         now) -> None:
    trainer = people[UserRole.TRAINER]
    held = aged(db, owner, audio_dir, now, uploaded=179, coded=179)
    overdue = aged(db, owner, audio_dir, now, uploaded=181, coded=181)
    signed = aged(db, owner, audio_dir, now, uploaded=100, coded=100)
    review(db, held, trainer, ReviewStatus.DRAFT)
    review(db, overdue, trainer, ReviewStatus.DRAFT)
    review(db, signed, trainer, ReviewStatus.SIGNED_OFF)
    result = sweep(db, audio_dir, POLICY, now=now)
    reasons = {d.recording_id: d.reason for d in result.deleted}
    assert reasons == {overdue.id: Reason.HARD_MAXIMUM, signed.id: Reason.RETENTION}
    assert fresh(db, held).audio_file and fresh(db, held).audio_deleted_at is None
    assert fresh(db, overdue).audio_deleted_reason == "hard_maximum"
    assert db.scalar(select(func.count(Review.id))) == 3  # reviews are never deleted
    upcoming = retention.upcoming(db, POLICY)
    assert [(d.recording_id, d.held) for d in upcoming] == [(held.id, True)]
    assert upcoming[0].due_at == held.created_at + 180 * DAY


def test_failed_and_uncoded_recordings_count_from_upload(db, owner, audio_dir, now) -> None:
    failed = aged(db, owner, audio_dir, now, uploaded=91, status=RecordingStatus.FAILED)
    waiting = aged(db, owner, audio_dir, now, uploaded=89, status=RecordingStatus.UPLOADED)
    coding = aged(db, owner, audio_dir, now, uploaded=91, status=RecordingStatus.PROCESSING)
    job = Job(kind="recording.code", subject_id=coding.id, status=JobStatus.RUNNING)
    db.add(job)
    db.flush()
    coding.job_id = job.id  # the pipeline is reading this audio right now
    db.commit()
    result = sweep(db, audio_dir, POLICY, now=now)
    assert [d.recording_id for d in result.deleted] == [failed.id]
    assert fresh(db, failed).audio_deleted_at == now
    assert fresh(db, waiting).audio_file and fresh(db, coding).audio_file


def test_orphan_files_go_after_the_grace_period_only(db, owner, audio_dir, now) -> None:
    named = aged(db, owner, audio_dir, now, uploaded=1, coded=1)
    os.utime(audio_dir / named.audio_file, (0, 0))  # old file, but a recording names it
    crashed = old_file(audio_dir, "rec-0123abcd.webm", now, hours=25)
    uploading = old_file(audio_dir, "rec-4567ef.wav", now, hours=23)
    foreign = old_file(audio_dir, "README.wav", now, hours=24 * 400)  # not a name we make
    result = sweep(db, audio_dir, POLICY, now=now)
    assert result.orphans == [crashed.name] and result.deleted == []
    assert not crashed.exists()
    assert uploading.exists() and foreign.exists() and (audio_dir / named.audio_file).exists()


def test_retention_zero_keeps_audio_but_still_clears_orphans(db, owner, audio_dir, now) -> None:
    ancient = aged(db, owner, audio_dir, now, uploaded=3000, coded=3000)
    crashed = old_file(audio_dir, "rec-dead.wav", now, hours=48)
    result = sweep(db, audio_dir, Policy(0), now=now)
    assert result.deleted == [] and result.orphans == [crashed.name]
    assert fresh(db, ancient).audio_file and (audio_dir / ancient.audio_file).exists()
    assert retention.upcoming(db, Policy(0)) == []
    assert "kept until its owner deletes" in Policy(0).describe()


def test_dry_run_deletes_nothing_and_lists_what_a_run_deletes(db, owner, audio_dir,
                                                              now) -> None:
    due = aged(db, owner, audio_dir, now, uploaded=95, coded=95)
    crashed = old_file(audio_dir, "rec-feed.wav", now, hours=30)
    preview = sweep(db, audio_dir, POLICY, now=now, dry_run=True)
    assert [d.recording_id for d in preview.deleted] == [due.id]
    assert preview.orphans == [crashed.name]
    assert preview.summary().endswith("Nothing was deleted.")
    row = fresh(db, due)
    assert row.audio_deleted_at is None and (audio_dir / row.audio_file).exists()
    assert crashed.exists()
    real = sweep(db, audio_dir, POLICY, now=now)
    assert ([d.recording_id for d in real.deleted], real.orphans) == ([due.id], [crashed.name])


def test_running_twice_deletes_once_and_keeps_the_first_date(db, owner, audio_dir, now) -> None:
    due = aged(db, owner, audio_dir, now, uploaded=95, coded=95)
    first = sweep(db, audio_dir, POLICY, now=now)
    second = sweep(db, audio_dir, POLICY, now=now + DAY)
    assert len(first.deleted) == 1 and second.deleted == [] and second.orphans == []
    assert fresh(db, due).audio_deleted_at == now


def test_a_crash_between_row_and_file_leaves_no_dangling_row_and_the_file_is_cleaned(
        db, owner, audio_dir, now, monkeypatch) -> None:
    due = aged(db, owner, audio_dir, now, uploaded=95, coded=95)
    path = audio_dir / due.audio_file
    os.utime(path, ((now - 95 * DAY).timestamp(),) * 2)  # as old as the upload

    def power_cut(self, missing_ok=False):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(Path, "unlink", power_cut)
    with pytest.raises(KeyboardInterrupt):
        sweep(db, audio_dir, POLICY, now=now)
    monkeypatch.undo()
    row = fresh(db, due)
    # The row no longer offers the audio; the file is left behind, named by nobody...
    assert row.audio_file is None and row.audio_deleted_at == now and path.exists()
    # ...so the next sweep removes it as an orphan.
    again = sweep(db, audio_dir, POLICY, now=now + DAY)
    assert again.orphans == [path.name] and not path.exists()


def test_a_file_that_cannot_be_removed_is_retried_next_time(db, owner, audio_dir, now,
                                                            monkeypatch) -> None:
    due = aged(db, owner, audio_dir, now, uploaded=95, coded=95)
    path = audio_dir / due.audio_file
    os.utime(path, (0, 0))
    real_unlink = Path.unlink

    def denied(self, missing_ok=False):
        raise PermissionError("read-only volume")

    monkeypatch.setattr(Path, "unlink", denied)
    result = sweep(db, audio_dir, POLICY, now=now)
    assert result.failed == [path.name] and "tried again" in result.summary()
    monkeypatch.setattr(Path, "unlink", real_unlink)
    assert sweep(db, audio_dir, POLICY, now=now).orphans == [path.name]


def test_a_review_opened_during_the_sweep_keeps_the_audio(db, owner, people, audio_dir, now,
                                                          monkeypatch) -> None:
    due = aged(db, owner, audio_dir, now, uploaded=95, coded=95)
    found = retention.due_now

    def trainer_opens_review_meanwhile(*args, **kwargs):
        items = found(*args, **kwargs)
        review(db, due, people[UserRole.TRAINER], ReviewStatus.DRAFT)
        return items

    monkeypatch.setattr(retention, "due_now", trainer_opens_review_meanwhile)
    assert sweep(db, audio_dir, POLICY, now=now).deleted == []
    assert fresh(db, due).audio_file is not None


def test_a_negative_period_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ServiceError, match="must be 0 .* or a number of days"):
        Policy.from_config({"AUDIO_RETENTION_DAYS": -1})
    assert Policy.from_config({"AUDIO_RETENTION_DAYS": 30}).hard_maximum == 60 * DAY


def test_daily_job_is_queued_once_and_sweeps(app, db, owner, audio_dir, now) -> None:
    due = aged(db, owner, audio_dir, now, uploaded=200, coded=200)
    queue = get_queue(app)
    job_id = queue.queue_retention_sweep()
    assert job_id is not None
    assert queue.queue_retention_sweep() is None  # another scheduler: one waiting is enough
    assert queue.run_pending() == 1
    assert db.get(Job, job_id, populate_existing=True).status is JobStatus.DONE
    assert fresh(db, due).audio_deleted_reason == "retention"
    assert queue.queue_retention_sweep() not in (None, job_id)  # the next day's run
    assert queue.run_pending() == 1  # and it finds nothing left: no error
    assert db.scalar(select(func.count(Job.id)).where(Job.status == JobStatus.DONE)) == 2


def test_the_sweep_is_scheduled_once_a_day(app) -> None:
    huey = get_queue(app).huey

    def due_at(hour: int, minute: int) -> set[str]:
        return {t.name for t in huey.read_periodic(datetime(2026, 12, 3, hour, minute))}

    assert "mitrain.retention" in due_at(2, 30)
    assert "mitrain.retention" not in due_at(2, 31) | due_at(14, 30)
