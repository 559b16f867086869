"""The jobs table: create, claim under a lease, report progress, finish, recover.

The row, not the queue, is the truth. A worker claims a job by an atomic
UPDATE that only succeeds on a queued job or a running job whose lease has
expired, so two workers (or a re-delivered message) never run it at once, and
a worker that died leaves a lease that expires and the job runs again.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from ..models import Job, JobStatus, utcnow


def create_job(db: Session, kind: str, subject_id: int | None, *, owner_id: int | None = None,
               max_attempts: int = 3) -> Job:
    """A new queued job row (committed); enqueue its id afterwards."""
    job = Job(kind=kind, subject_id=subject_id, owner_id=owner_id, max_attempts=max_attempts,
              status=JobStatus.QUEUED, stage="queued", progress=0, attempts=0)
    db.add(job)
    db.commit()
    return job


def claim(db: Session, job_id: int, lease_seconds: int) -> Job | None:
    """Take the job for this worker, or None if it is done or held by a live lease."""
    now = utcnow()
    result = db.execute(
        update(Job)
        .where(Job.id == job_id,
               Job.attempts < Job.max_attempts,
               or_(Job.status == JobStatus.QUEUED,
                   and_(Job.status == JobStatus.RUNNING, Job.lease_until < now)),
               or_(Job.run_after.is_(None), Job.run_after <= now))
        .values(status=JobStatus.RUNNING, attempts=Job.attempts + 1,
                lease_until=now + timedelta(seconds=lease_seconds), started_at=now,
                updated_at=now, error=None)
        .execution_options(synchronize_session=False))
    db.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return db.get(Job, job_id, populate_existing=True)


def report_progress(db: Session, job_id: int, stage: str, progress: int,
                    lease_seconds: int) -> None:
    """Record the stage and progress (0-100) and extend the lease."""
    now = utcnow()
    db.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.RUNNING)
               .values(stage=stage[:64], progress=max(0, min(100, int(progress))),
                       lease_until=now + timedelta(seconds=lease_seconds), updated_at=now)
               .execution_options(synchronize_session=False))
    db.commit()


def finish(db: Session, job_id: int) -> None:
    """Mark the job done."""
    now = utcnow()
    db.execute(update(Job).where(Job.id == job_id)
               .values(status=JobStatus.DONE, stage="done", progress=100, lease_until=None,
                       finished_at=now, updated_at=now, error=None)
               .execution_options(synchronize_session=False))
    db.commit()


def fail(db: Session, job_id: int, error: str, *, retry: bool,
         backoff_seconds: int = 30) -> bool:
    """Record a failure. Returns True when the job was put back for another try."""
    job = db.get(Job, job_id, populate_existing=True)
    if job is None:
        return False
    now = utcnow()
    again = retry and job.attempts < job.max_attempts
    job.error = error[:2000]
    job.lease_until = None
    job.updated_at = now
    if again:
        job.status = JobStatus.QUEUED
        job.stage = "waiting to retry"
        job.run_after = now + timedelta(seconds=backoff_seconds * 2 ** (job.attempts - 1))
    else:
        job.status = JobStatus.FAILED
        job.finished_at = now
    db.commit()
    return again


def retry(db: Session, job: Job) -> Job:
    """Put a failed job back in the queue with a fresh set of attempts."""
    job.status = JobStatus.QUEUED
    job.stage = "queued"
    job.progress = 0
    job.attempts = 0
    job.error = None
    job.run_after = None
    job.finished_at = None
    db.commit()
    return job


def recoverable_jobs(db: Session, lease_seconds: int) -> list[Job]:
    """Jobs to put back on the queue: expired leases, and queued jobs nobody picked up.

    A job whose worker died on its last attempt is marked failed instead and returned
    with that status, so the caller can tell its subject.
    """
    now = utcnow()
    forgotten = now - timedelta(seconds=lease_seconds)
    rows = db.scalars(select(Job).where(or_(
        and_(Job.status == JobStatus.RUNNING, Job.lease_until < now),
        and_(Job.status == JobStatus.QUEUED, Job.updated_at < forgotten,
             or_(Job.run_after.is_(None), Job.run_after <= now)))))
    jobs = list(rows)
    for job in jobs:
        if job.status is JobStatus.RUNNING and job.attempts >= job.max_attempts:
            job.status = JobStatus.FAILED
            job.error = "The worker stopped while running this job too many times."
            job.finished_at = now
        job.updated_at = now
    db.commit()
    return jobs
