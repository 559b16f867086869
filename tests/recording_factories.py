"""Recordings with stored utterances, for tests that need a coded recording."""

from __future__ import annotations

import io
import math
import shutil
import struct
import wave
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from mitrain.models import Recording, RecordingStatus, User, Utterance, utcnow

DIALOGUE = [
    ("practitioner", "Thanks for seeing me today, Dawn.", "NONE"),
    ("practitioner", "How have the mornings been this week?", "Q_OPEN"),
    ("client", "Lily won't get up and I can't drag her out of bed.", "SUSTAIN"),
    ("practitioner", "You're worn out with fighting her every morning.", "CR"),
    ("client", "I do want her in school though.", "CHANGE"),
    ("practitioner", "Did she go in on Monday?", "Q_CLOSED"),
    ("client", "Yes, she did.", "NEUTRAL"),
]


def tiny_wav(seconds: float = 1.0, rate: int = 16000, amplitude: int = 8000) -> bytes:
    """A short 440 Hz tone as WAV bytes (``amplitude=0``: digital silence)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(amplitude * math.sin(2 * math.pi * 440 * i / rate)))
                          for i in range(int(seconds * rate)))
        w.writeframes(frames)
    return buf.getvalue()


def post_cut_short(client, url: str, field: str, data: bytes):  # type: ignore[no-untyped-def]
    """POST a multipart upload whose body stops 50 kB short of its Content-Length,
    as a connection dropped mid-upload leaves it."""
    body = (f'--b\r\nContent-Disposition: form-data; name="{field}"; filename="a.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n").encode() + data
    return client.post(url, input_stream=io.BytesIO(body), content_length=len(body) + 50_000,
                       content_type="multipart/form-data; boundary=b")


def spoken_clip(path: Path, text: str) -> Path:
    """``text`` spoken by espeak-ng with half a second of silence either side, as
    WebM/Opus (what a browser's MediaRecorder sends) for ``.webm`` or 16-bit WAV
    (what Chromium's fake microphone reads) for ``.wav``. Skips the test where espeak-ng
    is missing, as the other speech-synthesis tests do (``.ci/run`` installs it)."""
    import numpy as np

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng; .ci/run does)")

    from .fixtures.audio.make_fixtures import PRACTITIONER_VOICE, RATE, encode, speak
    pad = np.zeros(RATE // 2, dtype=np.float32)
    samples = np.concatenate([pad, 0.7 * speak(text, PRACTITIONER_VOICE), pad])
    fmt, codec, bitrate = {".webm": ("webm", "libopus", 32_000),
                           ".wav": ("wav", "pcm_s16le", None)}[path.suffix]
    encode(path, samples, fmt, codec, bitrate)
    return path


def make_coded_recording(db: Session, owner: User, recordings_dir: Path,
                         dialogue: list[tuple[str, str, str]] = DIALOGUE) -> Recording:
    """A coded recording with a real (tiny) audio file and stored utterances."""
    from mitrain.services.transcripts import summary_of
    recordings_dir.mkdir(parents=True, exist_ok=True)
    name = f"rec-test-{owner.id}-{utcnow().timestamp():.0f}-{len(dialogue)}.wav"
    (recordings_dir / name).write_bytes(tiny_wav())
    rec = Recording(owner_id=owner.id, title="Test role-play", audio_file=name,
                    original_filename="test.wav", content_type="audio/wav", size_bytes=100,
                    consent_at=utcnow(), status=RecordingStatus.CODED, coder_version="test",
                    transcriber={"engine": "test", "model": "none"})
    db.add(rec)
    db.flush()
    rows = [Utterance(recording_id=rec.id, position=i, speaker=s, start=i * 2.0,
                      end=i * 2.0 + 1.8, text=t, code=c, confidence=0.8)
            for i, (s, t, c) in enumerate(dialogue)]
    db.add_all(rows)
    rec.summary = summary_of(rows)
    db.commit()
    return rec
