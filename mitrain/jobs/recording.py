"""The recording job: decode, transcribe, find speakers and roles, code, store."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from ..db import session
from ..models import Recording
from ..services import recordings
from .queue import JobContext, PermanentError, handler


@handler(recordings.JOB_KIND)
def code_recording(ctx: JobContext) -> None:
    """Run the whole pipeline for one recording and store the result in one transaction."""
    from coding.errors import CodingError
    from coding.pipeline import run_audio
    cfg = current_app.config
    db = session()
    recording = db.get(Recording, ctx.subject_id)
    if recording is None:
        raise PermanentError("The recording was deleted before it could be coded.")
    path = recordings.audio_path(recording, Path(cfg["RECORDINGS_DIR"]))
    if path is None:
        raise PermanentError("The audio file for this recording is missing.")
    try:
        result = run_audio(path, model_dir=Path(cfg["MODEL_DIR"]),
                           engine=cfg["WHISPER_ENGINE"], whisper_model=cfg["WHISPER_MODEL"],
                           max_seconds=cfg["MAX_AUDIO_MINUTES"] * 60.0,
                           transcriber_options={"cpu_threads": cfg["WHISPER_THREADS"]},
                           progress=ctx.progress)
    except CodingError as exc:
        recordings.mark_failed(db, recording.id, str(exc))
        raise PermanentError(str(exc)) from exc
    ctx.progress("saving", 98)
    recordings.store_result(db, recording.id, result)
