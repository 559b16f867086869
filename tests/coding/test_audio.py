"""coding.audio: every container/codec the platform accepts, and every way a file can be bad."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from coding.audio import SAMPLE_RATE, decode
from coding.errors import InputError

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
REF = json.loads((AUDIO / "fixtures.json").read_text())["files"]


def write_wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE, channels: int = 1) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


@pytest.mark.parametrize("name, codec", [
    ("home_mono.wav", "pcm_s16le"),
    ("home_mono.mp3", "mp3"),
    ("drinking_stereo.flac", "flac"),
    ("drinking_stereo.m4a", "aac"),
    ("safety_mono.webm", "opus"),
    ("safety_stereo.ogg", "opus"),
])
def test_each_format_decodes_to_16k_float32(name: str, codec: str) -> None:
    audio = decode(AUDIO / name)
    ref = REF[name]
    assert audio.sample_rate == SAMPLE_RATE
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.source_codec.startswith(codec)
    # Encoders add a few ms of priming/padding; anything beyond 0.15 s is a decode bug.
    assert abs(audio.duration - ref["duration"]) < 0.15
    assert len(audio.channels) == ref["channels"]
    assert all(c.size == audio.samples.size for c in audio.channels)
    assert 0.01 < float(np.sqrt(np.mean(audio.samples ** 2))) < 0.5


def test_stereo_keeps_one_speaker_per_channel() -> None:
    audio = decode(AUDIO / "drinking_stereo.flac")
    left, right = audio.channels
    np.testing.assert_allclose(audio.samples, 0.5 * (left + right), atol=1e-6)
    for turn in REF["drinking_stereo.flac"]["turns"]:
        s = slice(int(turn["start"] * SAMPLE_RATE), int(turn["end"] * SAMPLE_RATE))
        e = [float(np.mean(c[s] ** 2)) for c in (left, right)]
        own, other = e[turn["channel"]], e[1 - turn["channel"]]
        assert own > 50 * other  # bleed is -24 dB in the fixture


def test_mono_channels_is_the_same_array() -> None:
    audio = decode(AUDIO / "home_mono.wav")
    assert len(audio.channels) == 1 and audio.channels[0] is audio.samples
    assert not audio.is_stereo


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such audio file"):
        decode(tmp_path / "nope.wav")
    empty = tmp_path / "empty.webm"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        decode(empty)


@pytest.mark.parametrize("suffix, payload", [
    (".wav", b"P: hello\nC: hi there\n" * 50),
    (".mp3", bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8))),
    (".m4a", b"\x00\x00\x00\x18ftypM4A " + b"\x00" * 200),
])
def test_not_audio(tmp_path: Path, suffix: str, payload: bytes) -> None:
    bad = tmp_path / f"notes{suffix}"
    bad.write_bytes(payload)
    with pytest.raises(InputError) as err:
        decode(bad)
    assert bad.name in str(err.value)


def test_image_file_has_no_audio_stream(tmp_path: Path) -> None:
    import av

    path = tmp_path / "picture.png"
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 8, 8, "rgb24"
        frame = av.VideoFrame.from_ndarray(np.zeros((8, 8, 3), dtype=np.uint8), format="rgb24")
        for p in stream.encode(frame):
            out.mux(p)
        for p in stream.encode(None):
            out.mux(p)
    with pytest.raises(InputError, match="no audio stream|not a recognised"):
        decode(path)


@pytest.mark.parametrize("name", ["home_mono.wav", "drinking_stereo.flac"])
def test_truncated_file(tmp_path: Path, name: str) -> None:
    data = (AUDIO / name).read_bytes()
    cut = tmp_path / f"cut-{name}"
    cut.write_bytes(data[: len(data) // 3])  # header still promises the full length
    with pytest.raises(InputError, match="truncated"):
        decode(cut)


def test_silent_file(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "silence.wav", np.zeros(SAMPLE_RATE * 3))
    with pytest.raises(InputError, match="silent"):
        decode(path)
    # Very quiet noise (-70 dBFS) is still "silent" for transcription purposes.
    quiet = np.random.default_rng(0).normal(0, 3e-4, SAMPLE_RATE * 3)
    with pytest.raises(InputError, match="silent"):
        decode(write_wav(tmp_path / "hiss.wav", quiet))


def test_size_and_length_limits(tmp_path: Path) -> None:
    path = AUDIO / "home_mono.wav"
    with pytest.raises(InputError, match="limit is"):
        decode(path, max_bytes=100_000)
    with pytest.raises(InputError, match="limit"):
        decode(path, max_seconds=10)
    # A WebM from MediaRecorder declares no duration; the limit must still hold while decoding.
    with pytest.raises(InputError, match="limit"):
        decode(AUDIO / "safety_mono.webm", max_seconds=10)
    assert decode(path, max_seconds=30).duration > 20


def test_resamples_other_rates(tmp_path: Path) -> None:
    t = np.arange(44_100 * 2) / 44_100
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    audio = decode(write_wav(tmp_path / "tone44k.wav", tone, rate=44_100))
    assert audio.source_rate == 44_100
    assert abs(audio.samples.size - 2 * SAMPLE_RATE) <= 32
    spectrum = np.abs(np.fft.rfft(audio.samples))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / audio.samples.size
    assert abs(peak_hz - 440) < 2
