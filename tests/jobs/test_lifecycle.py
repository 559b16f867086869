"""Job lifecycle: the jobs row is the truth; leases make re-runs safe."""

import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import update

from coding.errors import InputError
from mitrain.jobs import get_queue, handler
from mitrain.jobs.queue import JobContext
from mitrain.models import Job, JobStatus, utcnow
from mitrain.services import jobs as job_rows

calls: Counter[int] = Counter()
flaky_failures: dict[int, int] = {}


@handler("test.count")
def _count(ctx: JobContext) -> None:
    ctx.progress("counting", 50)
    calls[ctx.subject_id] += 1


@handler("test.bad_input")
def _bad_input(ctx: JobContext) -> None:
    raise InputError("The file is not audio.")


@handler("test.flaky")
def _flaky(ctx: JobContext) -> None:
    if flaky_failures.get(ctx.subject_id, 0) > 0:
        flaky_failures[ctx.subject_id] -= 1
        raise ConnectionError("storage briefly unavailable")
    calls[ctx.subject_id] += 1


@pytest.fixture(autouse=True)
def _reset():
    calls.clear()
    flaky_failures.clear()


def _job(db, job_id: int) -> Job:
    return db.get(Job, job_id, populate_existing=True)


def test_submitted_job_runs_to_done(app, db) -> None:
    queue = get_queue(app)
    with app.app_context():
        job_id = queue.submit("test.count", 101)
    assert _job(db, job_id).status is JobStatus.QUEUED
    assert queue.run_pending() == 1
    job = _job(db, job_id)
    assert (job.status, job.stage, job.progress, job.attempts) == (JobStatus.DONE, "done", 100, 1)
    assert calls[101] == 1 and job.finished_at is not None


def test_bad_input_fails_at_once_with_the_reason(app, db) -> None:
    queue = get_queue(app)
    with app.app_context():
        job_id = queue.submit("test.bad_input", 1)
    queue.run_pending()
    job = _job(db, job_id)
    assert job.status is JobStatus.FAILED and job.attempts == 1
    assert job.error == "The file is not audio."


def test_transient_error_is_retried_after_a_back_off(app, db) -> None:
    queue = get_queue(app)
    flaky_failures[5] = 1
    with app.app_context():
        job_id = queue.submit("test.flaky", 5)
    queue.run_pending()
    job = _job(db, job_id)
    assert job.status is JobStatus.QUEUED and "ConnectionError" in job.error
    assert job.run_after > utcnow()
    with app.app_context():
        assert queue.execute(job_id) is False  # not before the back-off has passed
    db.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow()))
    db.commit()
    with app.app_context():
        assert queue.execute(job_id) is True
    job = _job(db, job_id)
    assert job.status is JobStatus.DONE and job.attempts == 2 and calls[5] == 1


def test_gives_up_after_max_attempts(app, db) -> None:
    queue = get_queue(app)
    flaky_failures[6] = 99
    with app.app_context():
        job_id = queue.submit("test.flaky", 6)
        for _ in range(app.config["JOB_MAX_ATTEMPTS"]):
            db.execute(update(Job).where(Job.id == job_id).values(run_after=None))
            db.commit()
            queue.execute(job_id)
    job = _job(db, job_id)
    assert job.status is JobStatus.FAILED and job.attempts == app.config["JOB_MAX_ATTEMPTS"]


def test_expired_lease_is_rerun_exactly_once(app, db) -> None:
    queue = get_queue(app)
    job = job_rows.create_job(db, "test.count", 42)
    # A worker claimed the job and died: the row says running, and its lease ran out.
    claimed = job_rows.claim(db, job.id, lease_seconds=600)
    assert claimed is not None and claimed.status is JobStatus.RUNNING
    assert job_rows.claim(db, job.id, lease_seconds=600) is None  # a live lease is not stolen
    db.execute(update(Job).where(Job.id == job.id)
               .values(lease_until=utcnow() - timedelta(seconds=1)))
    db.commit()
    # Recovery runs on every worker start and periodically: twice here, so the
    # id is on the queue twice, yet the claim lets only one run happen.
    assert queue.recover() == [job.id]
    assert queue.recover() == [job.id]
    assert queue.run_pending() == 2
    job = _job(db, job.id)
    assert job.status is JobStatus.DONE and job.attempts == 2
    assert calls[42] == 1
    assert queue.recover() == []


def test_worker_that_keeps_dying_ends_in_failure(app, db) -> None:
    job = job_rows.create_job(db, "test.count", 9, max_attempts=1)
    job_rows.claim(db, job.id, lease_seconds=600)
    db.execute(update(Job).where(Job.id == job.id)
               .values(lease_until=utcnow() - timedelta(seconds=1)))
    db.commit()
    assert get_queue(app).recover() == []
    job = _job(db, job.id)
    assert job.status is JobStatus.FAILED and "too many times" in job.error


def test_unknown_kind_fails_clearly(app, db) -> None:
    queue = get_queue(app)
    with app.app_context():
        job_id = queue.submit("test.nobody_handles_this", 1)
    queue.run_pending()
    assert "No handler for job kind" in _job(db, job_id).error


def test_embedded_consumer_threads_run_jobs(app, db) -> None:
    queue = get_queue(app)
    queue.start_embedded(workers=1)
    try:
        with app.app_context():
            job_id = queue.submit("test.count", 77)
        deadline = time.monotonic() + 20
        while _job(db, job_id).status is not JobStatus.DONE and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        queue.stop_embedded()
    assert _job(db, job_id).status is JobStatus.DONE and calls[77] == 1


def test_failed_job_can_be_retried_by_an_admin(app, client, auth, people, db) -> None:
    from mitrain.models import UserRole
    queue = get_queue(app)
    with app.app_context():
        job_id = queue.submit("test.bad_input", 1)
    queue.run_pending()
    auth.login(people[UserRole.ADMIN])
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "The file is not audio." in page
    client.post(f"/admin/jobs/{job_id}/retry")
    job = _job(db, job_id)
    assert job.status is JobStatus.QUEUED and job.attempts == 0 and job.error is None
