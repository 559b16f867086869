"""Practice recordings: upload with consent, safe storage, coding job, role swap, deletion.

Audio is sensitive personal data: files get server-generated names in a private
folder, are served only through access-checked routes, and are deleted with
their recording.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..models import Job, JobStatus, Recording, RecordingStatus, User, UserRole, Utterance, utcnow
from . import ServiceError
from .transcripts import plain_utterances

JOB_KIND = "recording.code"
# Prefix of a recording's error when the server, not the audio, was at fault (a model is
# missing): the report then tells the owner it is not their recording's fault.
SETUP_PROBLEM = "Server set-up: "
EXTENSIONS = (".wav", ".mp3", ".m4a", ".aac", ".mp4", ".ogg", ".oga", ".opus", ".webm", ".flac")
CHUNK = 1 << 20


def can_view(user: User, recording: Recording) -> bool:
    """Owner, the trainers of the owner's team, and admins. Leads see aggregates only."""
    if user.role is UserRole.ADMIN or recording.owner_id == user.id:
        return True
    if user.role is UserRole.TRAINER:
        team_id = recording.owner.team_id
        return team_id is not None and any(t.id == team_id for t in user.trained_teams)
    return False


def can_change_roles(user: User, recording: Recording) -> bool:
    """The owner or one of the owner's trainers may swap who is the practitioner."""
    return can_view(user, recording) and user.role in (UserRole.PRACTITIONER, UserRole.TRAINER,
                                                       UserRole.ADMIN)


def _looks_like_audio(head: bytes) -> bool:
    """True when ``head`` starts like a WAV, MP3, MP4/M4A, Ogg, WebM or FLAC file."""
    # Magic numbers of the containers browsers and recorders produce.
    return (head[:4] == b"RIFF" and head[8:12] == b"WAVE" or head[:3] == b"ID3"
            or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)
            or head[4:8] == b"ftyp" or head[:4] == b"OggS" or head[:4] == b"\x1a\x45\xdf\xa3"
            or head[:4] == b"fLaC")


def audio_extension(filename: str | None, content_type: str | None) -> str | None:
    """The upload's audio file extension, ``.webm`` for a nameless MediaRecorder blob,
    or None when it is not a format mitrain reads."""
    ext = Path(filename or "").suffix.lower()
    if not ext and "webm" in (content_type or ""):
        ext = ".webm"
    return ext if ext in EXTENSIONS else None


def copy_audio(stream: IO[bytes], out: IO[bytes], max_bytes: int,
               refused: dict[str, str]) -> int:
    """Copy an upload to ``out`` in chunks and return its size, refusing (ServiceError
    with ``refused[kind]``) a file that is ``"not_audio"``, ``"too_large"`` or ``"empty"``."""
    size = 0
    while chunk := stream.read(CHUNK):
        if size == 0 and not _looks_like_audio(chunk[:16]):
            raise ServiceError(refused["not_audio"])
        size += len(chunk)
        if size > max_bytes:
            raise ServiceError(refused["too_large"])
        out.write(chunk)
    if size == 0:
        raise ServiceError(refused["empty"])
    return size


def store_upload(db: Session, *, owner: User, stream: IO[bytes], filename: str,
                 content_type: str, consent: bool, title: str, recordings_dir: Path,
                 max_bytes: int, scenario_id: int | None = None) -> Recording:
    """Save an uploaded recording and its row; nothing is kept if anything fails."""
    if not consent:
        raise ServiceError("Please confirm that everyone on the recording is a colleague in a "
                           "role-play and agreed to be recorded. Nothing was saved.")
    ext = audio_extension(filename, content_type)
    if ext is None:
        raise ServiceError(f"'{filename or 'the file'}' is not a recording mitrain can read. "
                           "Upload WAV, MP3, M4A, OGG, WebM or FLAC audio.")
    recordings_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"rec-{uuid.uuid4().hex}{ext}"
    path = recordings_dir / name
    refused = {
        "not_audio": f"'{filename}' does not look like an audio file. Nothing was saved.",
        "too_large": f"The recording is larger than the limit of "
                     f"{max_bytes // (1024 * 1024)} MB. Nothing was saved.",
        "empty": "The uploaded file is empty. Nothing was saved."}
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            size = copy_audio(stream, out, max_bytes, refused)
        recording = Recording(owner_id=owner.id, title=(title or "").strip()[:200]
                              or f"Role-play {utcnow():%d %b %Y %H:%M}",
                              audio_file=name, original_filename=(filename or "")[:255],
                              content_type=(content_type or "")[:100], size_bytes=size,
                              consent_at=utcnow(), scenario_id=scenario_id,
                              status=RecordingStatus.UPLOADED)
        db.add(recording)
        db.commit()
    except BaseException:
        db.rollback()
        path.unlink(missing_ok=True)
        raise
    return recording


def audio_path(recording: Recording, recordings_dir: Path) -> Path | None:
    """The recording's audio file, if it still exists."""
    if not recording.audio_file:
        return None
    path = recordings_dir / recording.audio_file
    return path if path.is_file() else None


def latest_job(db: Session, recording: Recording) -> Job | None:
    return db.get(Job, recording.job_id) if recording.job_id else None


def mark_queued(db: Session, recording: Recording, job_id: int) -> None:
    recording.job_id = job_id
    recording.status = RecordingStatus.PROCESSING
    recording.error = None
    db.commit()


def store_result(db: Session, recording_id: int, result: dict[str, Any]) -> Recording:
    """Replace the recording's utterances and scores with a pipeline result, atomically.

    Running it twice gives the same rows: the old utterances go in the same transaction.
    """
    recording = db.get(Recording, recording_id, populate_existing=True)
    if recording is None:
        raise ServiceError(f"Recording {recording_id} no longer exists.")
    db.execute(delete(Utterance).where(Utterance.recording_id == recording_id))
    for position, u in enumerate(result["utterances"]):
        db.add(Utterance(recording_id=recording_id, position=position, speaker=u["speaker"],
                         speaker_label=str(u.get("speaker_label", ""))[:16], start=u.get("start"),
                         end=u.get("end"), text=u["text"], code=u["code"],
                         confidence=float(u.get("confidence", 0.0))))
    recording.summary = result["summary"]
    recording.coder_version = result.get("coder_version")
    recording.transcriber = result.get("transcriber")
    recording.speakers = result.get("speakers")
    recording.timings = result.get("timings")
    recording.duration_s = result.get("duration_s", recording.duration_s)
    recording.roles_swapped = False
    recording.status = RecordingStatus.CODED
    recording.coded_at = utcnow()
    recording.error = None
    db.commit()
    return recording


def mark_failed(db: Session, recording_id: int, error: str | None) -> None:
    """Mark the recording failed; ``error`` is the reason for a problem retrying cannot fix.

    ``None`` keeps the recording's reason empty: the job gave up on a server problem and
    its own error row holds the detail (see :func:`failure_notice`).
    """
    recording = db.get(Recording, recording_id, populate_existing=True)
    if recording is not None:
        recording.status = RecordingStatus.FAILED
        recording.error = error[:2000] if error else None
        db.commit()


def input_problem(message: str, stored_name: str, original_name: str) -> str:
    """The pipeline's reason with the server's file name replaced by the user's one."""
    shown = original_name or "The recording"
    if message.startswith(stored_name + ":"):
        rest = message[len(stored_name) + 1:].strip()
        return f"{shown}: {rest}"
    return message.replace(stored_name, shown)


@dataclass(frozen=True)
class FailureNotice:
    """What the report page says about a failed or retrying coding job, in plain words."""

    kind: str  # "input" | "setup" | "server" | "retrying"
    message: str
    detail: str | None = None
    automatic_retry: bool = False
    retry_at: datetime | None = None


def failure_notice(recording: Recording, job: Job | None) -> FailureNotice | None:
    """Explain a failed job (or one waiting to retry), or None when nothing went wrong."""
    if job is None or recording.status is RecordingStatus.CODED:
        return None
    if job.status is JobStatus.QUEUED and job.error:
        return FailureNotice(
            "retrying", f"A temporary problem on the server interrupted coding. mitrain will "
            f"try again by itself (try {job.attempts + 1} of {job.max_attempts}); there is no "
            "need to upload the recording again.", job.error, True, job.run_after)
    if job.status is not JobStatus.FAILED:
        return None
    reason = recording.error
    if reason and reason.startswith(SETUP_PROBLEM):
        return FailureNotice(
            "setup", "This server is missing a model it needs to code recordings. This is not "
            "a problem with your recording: an administrator has to fix the server, then you "
            "can press Try again.", reason[len(SETUP_PROBLEM):])
    if reason:
        return FailureNotice(
            "input", f"{reason.rstrip('.')}. This is a problem with the recording itself, so "
            "mitrain will not retry it automatically. Record or upload it again, or press "
            "Try again if you think it should have worked.")
    return FailureNotice(
        "server", f"Coding stopped after {job.attempts} tries because of a problem on the "
        "server, not with your recording. It will not be retried automatically: press "
        "Try again, and tell an administrator if it keeps failing.", job.error)


def swap_roles(db: Session, recording: Recording, model_dir: Path) -> Recording:
    """Swap practitioner and client and re-code the stored text (no re-transcription)."""
    if recording.status is not RecordingStatus.CODED:
        raise ServiceError("Roles can be swapped once the recording has been coded.")
    if recording.reviews:
        raise ServiceError("A trainer has started reviewing this recording, so its speakers "
                           "can only be changed in the review.")
    from coding.coder import load_coder
    from coding.miti import summarise
    rows = list(recording.utterances)
    for row in rows:
        row.speaker = "client" if row.speaker == "practitioner" else "practitioner"
    coder = load_coder(model_dir)
    coded = coder.code_utterances(plain_utterances(rows))
    for row, cu in zip(rows, coded, strict=True):
        row.code, row.confidence = cu.code.value, float(cu.confidence)
    recording.summary = summarise(coded).to_dict()
    recording.coder_version = coder.version
    recording.roles_swapped = not recording.roles_swapped
    db.commit()
    return recording


def delete_recording(db: Session, recording: Recording, recordings_dir: Path) -> None:
    """Delete a recording, its transcript, codes, reviews and audio file."""
    path = audio_path(recording, recordings_dir)
    db.delete(recording)
    db.commit()
    if path is not None:
        path.unlink(missing_ok=True)


def recordings_of(db: Session, user: User) -> list[Recording]:
    return list(db.scalars(select(Recording).where(Recording.owner_id == user.id)
                           .order_by(Recording.created_at.desc())))


def coded_history(db: Session, user: User) -> Iterable[Recording]:
    """The user's coded recordings, oldest first (for charts)."""
    return db.scalars(select(Recording).where(Recording.owner_id == user.id,
                                              Recording.status == RecordingStatus.CODED)
                      .order_by(Recording.created_at))


def job_is_active(job: Job | None) -> bool:
    return job is not None and job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
