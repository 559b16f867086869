"""Decode any common recording to 16 kHz float32 with PyAV (no system ffmpeg).

WAV, MP3, M4A/AAC, OGG/Opus, WebM/Opus (what a browser's MediaRecorder makes) and
FLAC all go through the FFmpeg libraries bundled in PyAV, which faster-whisper
already depends on. Besides the mono mix that Whisper needs, the per-channel
signals are kept: a stereo recording with one speaker per channel lets
:mod:`coding.speakers` tell the speakers apart by channel energy alone.

Every problem a user can cause (not audio, empty, truncated, silent, too big, too
long) raises :class:`coding.errors.InputError` with a message fit to show them.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coding.errors import InputError

SAMPLE_RATE = 16_000
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_SECONDS = 90 * 60.0
# Below this RMS (about -60 dBFS) there is nothing Whisper could transcribe.
SILENCE_RMS = 1e-3
# A file whose header promises more than this much extra is called truncated.
TRUNCATION_TOLERANCE = 0.9


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    """A decoded recording at :data:`SAMPLE_RATE`.

    ``samples`` is the mono mix; ``channels`` holds one array per source channel
    (for a mono source it is ``(samples,)``, the same array, not a copy).
    """

    samples: np.ndarray
    channels: tuple[np.ndarray, ...]
    sample_rate: int
    source_format: str
    source_codec: str
    source_channels: int
    source_rate: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.size / self.sample_rate

    @property
    def is_stereo(self) -> bool:
        """True when two channels were kept (possibly one speaker on each)."""
        return len(self.channels) == 2


def _fmt_minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def decode(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    sample_rate: int = SAMPLE_RATE,
) -> DecodedAudio:
    """Decode ``path`` to mono float32 at ``sample_rate`` plus its channels (≤ 2 kept).

    Raises :class:`InputError` for a missing, empty, oversized, non-audio, truncated,
    over-long or silent file. Files with more than two channels keep only the mix
    (a role-play is two people; surround layouts do not map to speakers).
    """
    import av  # imported here so `import coding.audio` stays cheap

    p = Path(path)
    name = p.name
    if not p.is_file():
        raise InputError(f"{name}: no such audio file")
    size = p.stat().st_size
    if size == 0:
        raise InputError(f"{name}: the file is empty (0 bytes)")
    if size > max_bytes:
        raise InputError(
            f"{name}: the file is {size / 2**20:.0f} MB; the limit is {max_bytes / 2**20:.0f} MB")

    _check_wav_length(p)
    try:
        container = av.open(str(p), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{name}: not a recognised audio file ({_reason(exc)})") from exc

    with container:
        if not container.streams.audio:
            raise InputError(f"{name}: the file has no audio stream")
        stream = container.streams.audio[0]
        codec = stream.codec_context.name or "unknown"
        src_channels = int(stream.codec_context.channels or 0)
        src_rate = int(stream.codec_context.sample_rate or 0)
        declared = _declared_seconds(container, stream)
        if declared is not None and declared > max_seconds + 1.0:
            raise InputError(f"{name}: the recording is {_fmt_minutes(declared)} long; "
                             f"the limit is {_fmt_minutes(max_seconds)}")
        keep = 2 if src_channels == 2 else 1
        resampler = av.AudioResampler(format="fltp", layout="stereo" if keep == 2 else "mono",
                                      rate=sample_rate)
        chunks: list[np.ndarray] = []
        total = 0
        limit = int((max_seconds + 1.0) * sample_rate)
        broken: Exception | None = None
        try:
            for frame in container.decode(stream):
                frame.pts = None  # let the resampler re-time; avoids gaps on odd pts (WebM)
                for out in resampler.resample(frame):
                    arr = out.to_ndarray()
                    chunks.append(arr)
                    total += arr.shape[1]
                if total > limit:
                    raise InputError(f"{name}: the recording is longer than the limit of "
                                     f"{_fmt_minutes(max_seconds)}")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except av.error.FFmpegError as exc:
            # A damaged tail after some good audio is still "truncated" to the user:
            # a half-transcribed role-play would be coded as if it were complete.
            broken = exc
        fmt = container.format.name
    del resampler
    gc.collect()  # PyAV resampler graphs are only freed by the collector (faster-whisper #390)

    if broken is not None and total == 0:
        raise InputError(f"{name}: the audio could not be decoded ({_reason(broken)})")
    if broken is not None:
        raise InputError(f"{name}: the file looks truncated or damaged after "
                         f"{total / sample_rate:.1f} s ({_reason(broken)})")
    data = (np.concatenate(chunks, axis=1) if chunks
            else np.zeros((keep, 0), dtype=np.float32)).astype(np.float32, copy=False)
    n = data.shape[1]
    if n == 0:
        raise InputError(f"{name}: the file contains no audio samples")
    seconds = n / sample_rate
    if declared is not None and declared > 2.0 and seconds < TRUNCATION_TOLERANCE * declared - 0.5:
        raise InputError(f"{name}: the file looks truncated: its header says "
                         f"{declared:.1f} s but only {seconds:.1f} s could be decoded")

    if keep == 2:
        channels: tuple[np.ndarray, ...] = (np.ascontiguousarray(data[0]),
                                            np.ascontiguousarray(data[1]))
        mono = (0.5 * (channels[0] + channels[1])).astype(np.float32)
        del data
    else:
        mono = np.ascontiguousarray(data[0])
        channels = (mono,)
    if _rms(mono) < SILENCE_RMS:
        raise InputError(f"{name}: the recording is silent (no sound above -60 dBFS); "
                         "check the microphone")
    return DecodedAudio(samples=mono, channels=channels, sample_rate=sample_rate,
                        source_format=fmt, source_codec=codec, source_channels=src_channels,
                        source_rate=src_rate)


def _check_wav_length(p: Path) -> None:
    """Refuse a RIFF/WAVE file whose data chunk is shorter than its header says.

    FFmpeg silently estimates a WAV's length from the file size, so a cut-off
    upload would otherwise decode as a shorter, "complete" recording.
    """
    with p.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        size = p.stat().st_size
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            cid, length = chunk[:4], int.from_bytes(chunk[4:8], "little")
            if cid == b"data":
                # 0 and 0xFFFFFFFF are what streaming recorders write before they know.
                present = size - (pos + 8)
                if length not in (0, 0xFFFFFFFF) and present < TRUNCATION_TOLERANCE * length:
                    raise InputError(
                        f"{p.name}: the file looks truncated: its header promises {length} bytes "
                        f"of audio but only {present} are present")
                return
            pos += 8 + length + (length & 1)


def _rms(x: np.ndarray) -> float:
    # Chunked so a 90-minute file does not need a second full-size temporary.
    if x.size == 0:
        return 0.0
    acc = 0.0
    step = 1 << 20
    for i in range(0, x.size, step):
        c = x[i: i + step].astype(np.float64)
        acc += float(np.dot(c, c))
    return float(np.sqrt(acc / x.size))


def _declared_seconds(container: Any, stream: Any) -> float | None:
    """The duration the file's header claims, if it claims one."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000  # AV_TIME_BASE
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # FFmpeg messages quote the full path; the user knows which file they sent.
    return text.split(":", 1)[0] if "[Errno" in text else text[:200]
