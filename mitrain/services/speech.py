"""Spoken drill answers: a short clip in, the words Whisper heard out, then coded
exactly like a typed answer.

Why in the request and not the job queue: a drill is an instant-feedback
exercise, and a clip of at most 30 s transcribes in well under a second once
Whisper is loaded (``benchmarks/drill_latency.py``). A job would add a jobs row,
polling and a wait for a free worker, and it would have to keep the audio on
disk until a worker picked it up. In the request, the clip lives only in a
private temporary file while it is decoded, and that file is removed in every
case, errors included: audio is sensitive personal data and is never kept.

The Whisper engine is the one the recording job uses (same engine, weights and
thread settings), so one process loads it once, lazily, and both reuse it.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app
from sqlalchemy.orm import Session

from ..models import Drill, DrillAttempt, User
from . import ServiceError
from .drills import DrillFeedback, answer_drill
from .recordings import audio_extension, copy_audio

__all__ = ["MAX_CLIP_BYTES", "MAX_CLIP_SECONDS", "Heard", "answer_spoken", "transcribe_clip"]

MAX_CLIP_SECONDS = 30.0
# 30 s of 48 kHz 16-bit stereo WAV is 5.5 MB; a browser's Opus clip is ~150 kB.
MAX_CLIP_BYTES = 6 * 1024 * 1024
NOTHING_SAVED = "Nothing was saved, and the recording has been discarded."


@dataclass(frozen=True)
class Heard:
    """What Whisper heard in one clip."""

    text: str
    duration: float      # seconds of audio
    seconds: float       # time spent decoding and transcribing


def _settings() -> tuple[str, str | None, int, Path]:
    cfg = current_app.config
    return (cfg["WHISPER_ENGINE"], cfg["WHISPER_MODEL"], int(cfg["WHISPER_THREADS"]),
            Path(current_app.instance_path) / "tmp")


def _save_clip(stream: IO[bytes], filename: str, content_type: str, tmp_dir: Path,
               max_bytes: int) -> Path:
    """Copy the upload into a private temporary file (removed here if it is refused)."""
    ext = audio_extension(filename, content_type)
    if ext is None:
        raise ServiceError(f"\u201c{filename or 'That file'}\u201d is not a recording mitrain can "
                           f"read. Record your answer, or choose WAV, MP3, M4A, OGG, WebM or FLAC "
                           f"audio. {NOTHING_SAVED}")
    tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(prefix="clip-", suffix=ext, dir=tmp_dir)  # mode 600
    path = Path(name)
    refused = {
        "not_audio": f"That file does not look like audio. {NOTHING_SAVED}",
        "too_large": f"The recording is larger than the limit of {max_bytes / 2**20:.0f} MB "
                     f"for a drill answer (about {MAX_CLIP_SECONDS:.0f} seconds). {NOTHING_SAVED}",
        "empty": f"The recording is empty. {NOTHING_SAVED}"}
    try:
        with os.fdopen(fd, "wb") as out:
            copy_audio(stream, out, max_bytes, refused)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def transcribe_clip(stream: IO[bytes], *, filename: str, content_type: str = "",
                    max_bytes: int | None = None, max_seconds: float | None = None) -> Heard:
    """Transcribe one short spoken answer; the audio is deleted before this returns.

    Raises :class:`ServiceError` with a message for the user for an empty,
    non-audio, oversized, over-long or silent clip, one with no recognisable
    words, or when Whisper is not available. Limits default to
    :data:`MAX_CLIP_BYTES` and :data:`MAX_CLIP_SECONDS`. Needs an app context.
    """
    from coding.audio import decode
    from coding.errors import CodingError, InputError
    from coding.transcribe import get_transcriber

    max_bytes = max_bytes or MAX_CLIP_BYTES
    max_seconds = max_seconds or MAX_CLIP_SECONDS
    engine, model, threads, tmp_dir = _settings()
    path = _save_clip(stream, filename, content_type, tmp_dir, max_bytes)
    started = time.perf_counter()
    try:
        audio = decode(path, max_bytes=max_bytes, max_seconds=max_seconds)
        transcriber = get_transcriber(engine, model, cpu_threads=threads)
        transcript = transcriber.transcribe(audio.samples)
    except InputError as exc:
        detail = str(exc).split(": ", 1)[-1]  # drop the temporary file's name
        raise ServiceError(f"That recording could not be used: {detail}. {NOTHING_SAVED}") from exc
    except CodingError as exc:
        raise ServiceError(f"Speech recognition is not available just now ({exc}). "
                           f"{NOTHING_SAVED} Please type your answer, and tell your "
                           "administrator.") from exc
    finally:
        path.unlink(missing_ok=True)
    text = " ".join(transcript.text.split())
    if not any(ch.isalpha() for ch in text):
        raise ServiceError("We could not make out any words in that recording. Speak a little "
                           "closer to the microphone and try again, or type your answer. "
                           + NOTHING_SAVED)
    return Heard(text, round(audio.duration, 2), round(time.perf_counter() - started, 3))


def answer_spoken(db: Session, user: User, drill: Drill, stream: IO[bytes], *, filename: str,
                  content_type: str = "") -> tuple[DrillAttempt, DrillFeedback]:
    """Transcribe a spoken answer and code it like a typed one.

    The transcript is stored as the attempt's response text (the audio never
    is). ``feedback.heard`` holds what Whisper heard, for "what we heard".
    """
    heard = transcribe_clip(stream, filename=filename, content_type=content_type)
    attempt, feedback = answer_drill(db, user, drill, heard.text)
    feedback.heard = heard.text
    return attempt, feedback
