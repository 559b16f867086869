"""Queue set-up (Huey), the one generic task, handler registry and recovery.

Every task is ``run_job(job_id)``: it claims the ``jobs`` row under a lease,
calls the handler registered for the job's kind, and records the outcome.
Handlers take ids, so running one twice is safe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app
from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

from ..db import get_db
from ..models import JobStatus
from ..services import ServiceError, retention
from ..services import jobs as job_rows

log = logging.getLogger(__name__)


@dataclass
class JobContext:
    """What a handler gets: the job's ids and a way to report progress."""

    job_id: int
    subject_id: int | None
    _report: Callable[[str, int], None]

    def progress(self, stage: str, percent: int) -> None:
        self._report(stage, percent)


Handler = Callable[[JobContext], None]
FailureHook = Callable[[int | None, str], None]
_HANDLERS: dict[str, Handler] = {}
# Called (in an app context) with (subject_id, error) when a job of the kind gives up on a
# server problem (retries used up, or its worker died too often), so the subject (e.g. a
# recording) can say so too. Handlers record their own permanent (bad input) failures.
_ON_FAILED: dict[str, FailureHook] = {}


class PermanentError(Exception):
    """The job can never succeed as it is (bad input): fail without retrying."""


def handler(kind: str, on_failed: FailureHook | None = None) -> Callable[[Handler], Handler]:
    """Register the handler for a job kind, and what to do when a job of it gives up."""
    def register(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        if on_failed is not None:
            _ON_FAILED[kind] = on_failed
        return fn
    return register


def _gave_up(kind: str, subject_id: int | None, error: str) -> None:
    hook = _ON_FAILED.get(kind)
    if hook is not None:
        hook(subject_id, error)


def _is_permanent(exc: BaseException) -> bool:
    # User-fixable problems (bad audio, invalid transcript) never get better on retry.
    if isinstance(exc, PermanentError | ServiceError):
        return True
    try:
        from coding.errors import InputError
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, InputError)


class JobQueue:
    """One app's queue: enqueue ids, run jobs, recover stale ones, run consumers."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        cfg = app.config
        self.lease_seconds: int = cfg["JOB_LEASE_SECONDS"]
        self.max_attempts: int = cfg["JOB_MAX_ATTEMPTS"]
        if cfg.get("REDIS_URL"):
            self.huey: Huey = RedisHuey("mitrain", url=cfg["REDIS_URL"], utc=True)
            self.backend = "redis"
        else:
            Path(cfg["JOBS_DB"]).parent.mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey("mitrain", filename=cfg["JOBS_DB"], utc=True)
            self.backend = "sqlite"
        self._task = self.huey.task(name="mitrain.run_job")(self._run_task)
        recovery_minutes = max(1, int(cfg["JOB_RECOVERY_MINUTES"]))
        self.huey.periodic_task(crontab(minute=f"*/{recovery_minutes}"),
                                name="mitrain.recover")(self.recover)
        # Audio retention: once a day, as a jobs row (visible and retried like any job).
        hour, minute = retention.DAILY_AT_UTC
        self.huey.periodic_task(crontab(minute=str(minute), hour=str(hour)),
                                name="mitrain.retention")(self.queue_retention_sweep)
        self._consumer: Consumer | None = None
        app.extensions["mitrain.jobs"] = self

    # -- producing --------------------------------------------------------
    def submit(self, kind: str, subject_id: int | None, owner_id: int | None = None) -> int:
        """Create the job row and put its id on the queue."""
        db = get_db(self.app).session()
        job = job_rows.create_job(db, kind, subject_id, owner_id=owner_id,
                                  max_attempts=self.max_attempts)
        self.enqueue(job.id)
        return job.id

    def enqueue(self, job_id: int, delay: float = 0) -> None:
        if delay > 0:
            self._task.schedule((job_id,), delay=delay)
        else:
            self._task(job_id)

    # -- consuming --------------------------------------------------------
    def _run_task(self, job_id: int) -> None:
        with self.app.app_context():
            self.execute(job_id)

    def execute(self, job_id: int) -> bool:
        """Claim and run one job. False when it was not ours to run."""
        db = get_db(self.app).session()
        job = job_rows.claim(db, job_id, self.lease_seconds)
        if job is None:
            return False
        fn = _HANDLERS.get(job.kind)
        if fn is None:
            job_rows.fail(db, job_id, f"No handler for job kind '{job.kind}'.", retry=False)
            return True

        def report(stage: str, percent: int) -> None:
            job_rows.report_progress(db, job_id, stage, percent, self.lease_seconds)

        try:
            fn(JobContext(job_id, job.subject_id, report))
        except Exception as exc:  # the job row records every failure
            db.rollback()
            permanent = _is_permanent(exc)
            message = str(exc) if permanent else f"{type(exc).__name__}: {exc}"
            if not permanent:
                log.exception("job %s (%s) failed", job_id, job.kind)
            if job_rows.fail(db, job_id, message, retry=not permanent):
                fresh = db.get(type(job), job_id, populate_existing=True)
                delay = ((fresh.run_after - fresh.updated_at).total_seconds()
                         if fresh and fresh.run_after else 0)
                self.enqueue(job_id, delay=delay)
            elif not permanent:
                _gave_up(job.kind, job.subject_id, message)
            return True
        job_rows.finish(db, job_id)
        return True

    def recover(self) -> list[int]:
        """Re-queue jobs whose lease expired (dead worker) or that were never picked up."""
        with self.app.app_context():
            db = get_db(self.app).session()
            jobs = job_rows.recoverable_jobs(db, self.lease_seconds)
            ids = [j.id for j in jobs if j.status is not JobStatus.FAILED]
            for job in jobs:
                if job.status is JobStatus.FAILED:  # its worker died once too often
                    _gave_up(job.kind, job.subject_id, job.error or "")
        for job_id in ids:
            self.enqueue(job_id)
        if ids:
            log.info("re-queued jobs %s", ids)
        return ids

    def queue_retention_sweep(self) -> int | None:
        """Submit the audio-retention sweep job unless one is already waiting or running."""
        with self.app.app_context():
            db = get_db(self.app).session()
            if retention.sweep_job_pending(db):
                return None
            return self.submit(retention.JOB_KIND, None)

    def consumer(self, workers: int) -> Consumer:
        return Consumer(self.huey, workers=workers, worker_type="thread", periodic=True,
                        check_worker_health=True)

    def start_embedded(self, workers: int) -> None:
        """Start consumer threads inside this process (``mitrain serve``)."""
        self.recover()
        consumer = self.consumer(workers)
        # Not Consumer.start(): that installs signal handlers, which belong to the web server.
        consumer.scheduler.start()
        for _, thread in consumer.worker_threads:
            thread.start()
        self._consumer = consumer

    def stop_embedded(self) -> None:
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            self._consumer = None

    def run_worker(self, workers: int) -> None:
        """Run consumers in the foreground (``mitrain worker``) until a signal."""
        self.recover()
        self.consumer(workers).run()

    def run_pending(self, limit: int = 100) -> int:
        """Run queued messages in this thread (tests and one-shot CLI use)."""
        count = 0
        while count < limit:
            task = self.huey.dequeue()
            if task is None:
                break
            self.huey.execute(task)
            count += 1
        return count


def get_queue(app: Flask | None = None) -> JobQueue:
    """The JobQueue of ``app`` (default: the current app)."""
    return (app or current_app).extensions["mitrain.jobs"]
