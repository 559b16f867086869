"""Factories for review tests: coded recordings inserted directly (no pipeline run)."""

from __future__ import annotations

import itertools
import wave
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from coding.miti import summarise
from coding.types import Code, CodedUtterance, Role
from coding.types import Utterance as Utterance_
from mitrain.models import Recording, RecordingStatus, User, Utterance, utcnow

_seq = itertools.count(1)

# (speaker, text, machine code, confidence)
DIALOGUE: list[tuple[str, str, str, float]] = [
    ("practitioner", "How have things been since we last met?", "Q_OPEN", 0.91),
    ("client", "Honestly, I'm tired of people checking up on me.", "SUSTAIN", 0.72),
    ("practitioner", "You're tired of being checked on.", "SR", 0.66),
    ("practitioner", "Did you drink last night?", "Q_CLOSED", 0.88),
    ("client", "A bit. I want to be there for the kids in the mornings though.", "CHANGE", 0.41),
    ("practitioner", "You really need to stop before they come home.", "GI", 0.35),
    ("client", "I know.", "NEUTRAL", 0.8),
    ("practitioner", "You came to every appointment this month even though it was hard.", "AF",
     0.77),
]


def write_wav(path: Path, seconds: float = 1.0, rate: int = 8000) -> Path:
    """A silent mono 16-bit WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return path


def _machine_summary(dialogue: list[tuple[str, str, str, float]]) -> dict:
    """The summary the pipeline would store for these machine codes."""
    utts, turn, last = [], -1, None
    for i, (speaker, text, code, conf) in enumerate(dialogue):
        if speaker != last:
            turn, last = turn + 1, speaker
        utts.append(CodedUtterance(Utterance_(Role(speaker), text, turn, 0, 4.0 * i, 4.0 * i + 3.5),
                                   Code(code), conf, "test-v1"))
    return summarise(utts).to_dict()


def make_recording(db: Session, owner: User, *, title: str | None = None,
                   dialogue: list[tuple[str, str, str, float]] | None = None,
                   audio_dir: Path | None = None, coder_version: str = "test-v1",
                   created_at=None) -> Recording:
    """A CODED recording with utterances 4 s apart (and a WAV file when ``audio_dir``)."""
    n = next(_seq)
    audio = None
    if audio_dir is not None:
        audio = f"rec-{n}.wav"
        write_wav(audio_dir / audio, seconds=4.0 * len(dialogue or DIALOGUE))
    rec = Recording(owner_id=owner.id, title=title or f"Role-play {n}", audio_file=audio,
                    original_filename="role-play.wav", content_type="audio/wav",
                    consent_at=utcnow(), status=RecordingStatus.CODED,
                    coder_version=coder_version, created_at=created_at or utcnow(),
                    coded_at=utcnow(), duration_s=4.0 * len(dialogue or DIALOGUE),
                    summary=_machine_summary(dialogue or DIALOGUE))
    db.add(rec)
    db.flush()
    for i, (speaker, text, code, conf) in enumerate(dialogue or DIALOGUE):
        db.add(Utterance(recording_id=rec.id, position=i, speaker=speaker, text=text, code=code,
                         confidence=conf, start=4.0 * i, end=4.0 * i + 3.5))
    db.commit()
    return rec


def make_aged_recording(db: Session, owner: User, audio_dir: Path, now: datetime, *,
                        uploaded_days: float, coded_days: float | None = None,
                        status: RecordingStatus = RecordingStatus.CODED) -> Recording:
    """A recording with audio, uploaded (and coded, unless None) that many days before ``now``."""
    rec = make_recording(db, owner, audio_dir=audio_dir,
                         created_at=now - timedelta(days=uploaded_days))
    rec.coded_at = now - timedelta(days=coded_days) if coded_days is not None else None
    rec.status = status
    db.commit()
    return rec
