"""A real `mitrain worker` killed (SIGKILL) in the middle of a recording job loses nothing:
the lease expires, the next worker's recovery re-runs the job, and the recording ends
coded with its utterances written exactly once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mitrain.db import get_db
from mitrain.jobs import get_queue
from mitrain.models import Job, JobStatus, Recording, RecordingStatus, Utterance, utcnow
from mitrain.services import recordings

from ..conftest import build_app
from ..factories import make_user

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
LEASE_SECONDS = 4


@contextmanager
def worker(app: Flask, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`mitrain worker` on ``app``'s instance, as an operator would start it."""
    exe = shutil.which("mitrain", path=str(Path(sys.executable).parent)) or "mitrain"
    env = {**os.environ, "MITRAIN_INSTANCE_PATH": app.instance_path,
           "MITRAIN_MODEL_DIR": app.config["MODEL_DIR"],
           "MITRAIN_JOB_LEASE_SECONDS": str(LEASE_SECONDS)}
    with open(log, "ab") as out:
        proc = subprocess.Popen([exe, "worker", "--workers", "1"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def watch(db: Session, job_id: int, proc: subprocess.Popen[bytes], log: Path,
          until: Callable[[Job], bool], seen: list[tuple[str, int]], timeout: float = 180) -> Job:
    """Poll the job row (as the web page does) until ``until`` holds; record each stage."""
    deadline = time.monotonic() + timeout
    while True:
        db.rollback()  # a fresh read of the other process's commits
        job = db.get(Job, job_id, populate_existing=True)
        if not seen or seen[-1] != (job.stage, job.progress):
            seen.append((job.stage, job.progress))
        if until(job):
            return job
        assert proc.poll() is None, f"worker exited early:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out; stages {seen}\n{log.read_text()[-3000:]}"
        time.sleep(0.02)


@pytest.mark.slow
def test_worker_killed_mid_transcription_loses_nothing(tmp_path: Path) -> None:
    from coding.coder import load_coder

    app = build_app(tmp_path, JOB_LEASE_SECONDS=LEASE_SECONDS)
    load_coder(Path(app.config["MODEL_DIR"]))  # trained once here, so workers only load it
    log = tmp_path / "worker.log"
    with Session(get_db(app).engine, expire_on_commit=False) as db:
        owner = make_user(db)
        with (AUDIO / "home_mono.wav").open("rb") as audio:
            rec = recordings.store_upload(
                db, owner=owner, stream=audio, filename="home_mono.wav",
                content_type="audio/wav", consent=True, title="Killed worker",
                recordings_dir=Path(app.config["RECORDINGS_DIR"]),
                max_bytes=app.config["MAX_CONTENT_LENGTH"])
        with app.app_context():
            job_id = get_queue(app).submit(recordings.JOB_KIND, rec.id, owner_id=owner.id)
        recordings.mark_queued(db, rec, job_id)

        first: list[tuple[str, int]] = []
        with worker(app, log) as proc:
            # Whisper is decoding (the stage lasts seconds; its segments come in one burst).
            job = watch(db, job_id, proc, log, seen=first,
                        until=lambda j: j.stage == "transcribe" and j.progress > 0)
            proc.kill()  # SIGKILL: no clean-up, no chance to write anything more
            proc.wait()
        db.rollback()
        job = db.get(Job, job_id, populate_existing=True)
        assert (job.status, job.attempts, job.stage) == (JobStatus.RUNNING, 1, "transcribe")
        assert db.get(Recording, rec.id, populate_existing=True).status is \
            RecordingStatus.PROCESSING
        assert db.scalar(select(func.count()).select_from(Utterance)) == 0  # nothing half-written
        assert "load" in [stage for stage, _ in first] and "done" not in [s for s, _ in first]

        while job.lease_until >= utcnow():  # the dead worker's lease runs out...
            time.sleep(0.2)
        second: list[tuple[str, int]] = []
        with worker(app, log) as proc:  # ...and the next worker's start-up recovery re-runs it
            job = watch(db, job_id, proc, log, seen=second, until=lambda j: j.finished)
        assert (job.status, job.attempts, job.stage, job.progress, job.error) == \
            (JobStatus.DONE, 2, "done", 100, None), log.read_text()[-3000:]
        # The row showed the re-run from the start (the first rows polled may still be the
        # dead run's): stages in order, progress never back.
        rerun = second[next(i for i, (stage, _) in enumerate(second)
                            if stage in ("decode", "load")):]
        stages = [stage for stage, _ in rerun]
        assert stages[-1] == "done" and "load" in stages, second
        assert [pct for _, pct in rerun] == sorted(pct for _, pct in rerun), second

        rec = db.get(Recording, rec.id, populate_existing=True)
        assert rec.status is RecordingStatus.CODED and rec.error is None
        assert {"decode", "transcribe", "speakers", "code"} <= set(rec.timings)
        rows = db.scalars(select(Utterance).where(Utterance.recording_id == rec.id)
                          .order_by(Utterance.position)).all()
        assert [u.position for u in rows] == list(range(len(rows)))
        assert len({(u.start, u.text) for u in rows}) == len(rows)  # no utterance twice
        # The transcript is the dialogue once: a duplicated run would double the words.
        turns = json.loads((AUDIO / "fixtures.json").read_text())["files"]["home_mono.wav"]["turns"]
        reference = sum(len(t["text"].split()) for t in turns)
        words = sum(len(u.text.split()) for u in rows)
        assert 0.8 * reference <= words <= 1.2 * reference, (words, reference)
        assert db.scalar(select(func.count()).select_from(Utterance)) == len(rows)
    get_db(app).engine.dispose()
