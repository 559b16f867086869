"""The recording job: decode, transcribe, find speakers and roles, code, store.

Bad audio and a missing model fail at once with the reason on the recording (no
retry can fix them); anything else is a server problem the queue retries with
back-off, and when it gives up the recording is marked failed too.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

from flask import current_app

from ..db import session
from ..models import Recording
from ..services import recordings
from .queue import JobContext, PermanentError, handler


def _gave_up(recording_id: int | None, error: str) -> None:
    # No reason on the recording means "server problem": the job's row keeps the technical
    # detail and the report explains it in plain words (recordings.failure_notice).
    if recording_id is not None:
        recordings.mark_failed(session(), recording_id, None)


def _refuse(recording_id: int, reason: str) -> NoReturn:
    recordings.mark_failed(session(), recording_id, reason)
    raise PermanentError(reason)


@handler(recordings.JOB_KIND, on_failed=_gave_up)
def code_recording(ctx: JobContext) -> None:
    """Run the whole pipeline for one recording and store the result in one transaction."""
    from coding.errors import InputError, ModelError
    from coding.pipeline import run_audio
    cfg = current_app.config
    db = session()
    recording = db.get(Recording, ctx.subject_id)
    if recording is None:
        raise PermanentError("The recording was deleted before it could be coded.")
    path = recordings.audio_path(recording, Path(cfg["RECORDINGS_DIR"]))
    if path is None:
        _refuse(recording.id, "The audio file for this recording is missing on the server.")
    try:
        result = run_audio(path, model_dir=Path(cfg["MODEL_DIR"]),
                           engine=cfg["WHISPER_ENGINE"], whisper_model=cfg["WHISPER_MODEL"],
                           max_bytes=cfg["MAX_UPLOAD_MB"] * 1024 * 1024,
                           max_seconds=cfg["MAX_AUDIO_MINUTES"] * 60.0,
                           transcriber_options={"cpu_threads": cfg["WHISPER_THREADS"]},
                           progress=ctx.progress)
    except InputError as exc:
        _refuse(recording.id, recordings.input_problem(str(exc), path.name,
                                                       recording.original_filename))
    except ModelError as exc:
        _refuse(recording.id, recordings.SETUP_PROBLEM + str(exc))
    ctx.progress("saving", 98)
    recordings.store_result(db, recording.id, result)
