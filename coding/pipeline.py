"""Recording -> coded MITI report: decode, transcribe, speakers, roles, code, summary.

:func:`run_audio` returns the same JSON as coding a transcript file
(``utterances`` / ``summary`` / ``coder_version``) plus ``transcriber``,
``timings``, ``speakers`` (method, practitioner label, evidence and the turns)
and ``audio``. :func:`recode` re-codes stored turns, optionally with the roles
swapped, without transcribing again: that is the report's "swap roles" button.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from coding.audio import DEFAULT_MAX_BYTES, DEFAULT_MAX_SECONDS, decode
from coding.errors import InputError
from coding.speakers import assign_roles, diarise
from coding.transcribe import get_transcriber
from coding.types import CodedUtterance, Role, Turn

ProgressCallback = Callable[[str, int], None]
"""Called with (stage, percent 0-100) as the pipeline advances."""

WHISPER_MODEL_SETTING = "MITRAIN_WHISPER_MODEL"
# Percent reached at the END of each stage; transcription gets the bulk of the bar
# because it takes most of the time (see benchmarks/results/pipeline.json).
_STAGE_END = {"decode": 5, "load": 10, "transcribe": 75, "speakers": 82, "code": 97,
              "summary": 100}
_STAGE_START = dict(zip(_STAGE_END, [0, *list(_STAGE_END.values())[:-1]]))


def _threads(transcriber_options: Mapping[str, Any] | None) -> int:
    """The worker's thread budget: Whisper's ``cpu_threads`` (1 by default)."""
    return max(1, int((transcriber_options or {}).get("cpu_threads", 1) or 1))


def run_audio(
    path: str | os.PathLike[str],
    *,
    model_dir: Path | None = None,
    engine: str = "faster-whisper",
    whisper_model: str | None = None,
    progress: ProgressCallback | None = None,
    speaker_method: str = "auto",
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    transcriber_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Transcribe, separate speakers, assign roles and MITI-code one recording.

    ``model_dir`` is the coder's model directory; ``whisper_model`` is a local
    Whisper model (``None``: ``$MITRAIN_WHISPER_MODEL``, else the pinned default).
    ``progress(stage, percent)`` lets a background job update its row.
    Raises :class:`~coding.errors.InputError` for bad audio and
    :class:`~coding.errors.ModelError` for a missing or refused model.
    """
    from coding.coder import load_coder
    from coding.miti import summarise

    timings: dict[str, float] = {}
    report = _reporter(progress)
    whisper_model = whisper_model or os.environ.get(WHISPER_MODEL_SETTING) or None
    t_all = time.perf_counter()

    with _stage("decode", timings, report):
        audio = decode(path, max_bytes=max_bytes, max_seconds=max_seconds)
    with _stage("load", timings, report):
        transcriber = get_transcriber(engine, whisper_model, **dict(transcriber_options or {}))
        load = getattr(transcriber, "load", None)
        if callable(load):
            load()  # so "transcribe" times transcription, not the first model load
        coder = load_coder(model_dir)
    with _stage("transcribe", timings, report):
        span = _STAGE_END["transcribe"] - _STAGE_START["transcribe"]
        transcript = transcriber.transcribe(
            audio.samples,
            progress=(lambda f: report("transcribe", _STAGE_START["transcribe"] + int(span * f)))
            if progress else None)
    if not transcript.words:
        raise InputError(f"{Path(path).name}: no speech could be recognised in the recording")
    # Numpy/scikit-learn pools default to every core; beside Whisper or other workers
    # they oversubscribe, and the per-word GMMs of a 10-minute file went from 2.3 s to
    # 8 s (one busy core) and 63 s (a busy machine). One worker, one core's worth.
    with threadpool_limits(limits=_threads(transcriber_options)):
        with _stage("speakers", timings, report):
            diar = diarise(audio, transcript, method=speaker_method)
        with _stage("code", timings, report):
            roles = assign_roles(diar.turns, coder.code_turns)
    with _stage("summary", timings, report):
        summary = summarise(roles.coded).to_dict()
    timings["total"] = round(time.perf_counter() - t_all, 3)

    labels = {lab: (Role.PRACTITIONER if lab == roles.practitioner else Role.CLIENT).value
              for lab in sorted({t.label for t in diar.turns})}
    return {
        **_coded_json(roles.coded, summary, coder.version),
        "transcriber": {"engine": transcriber.engine, "model": transcriber.model},
        "timings": timings,
        "speakers": {
            "method": diar.method,
            "practitioner": roles.practitioner,
            "labels": labels,
            "role_scores": roles.scores,
            "details": diar.details,
            "turns": [{"label": st.label, "role": labels[st.label], "start": round(st.start, 2),
                       "end": round(st.end, 2), "text": st.text}
                      for st in diar.turns if st.text],
        },
        "audio": {"duration": round(audio.duration, 3), "format": audio.source_format,
                  "codec": audio.source_codec, "channels": audio.source_channels},
    }


def recode(
    turns: Sequence[Turn | Mapping[str, Any]],
    *,
    swap_roles: bool = False,
    model_dir: Path | None = None,
) -> dict[str, Any]:
    """Re-code stored turns (``Turn`` objects or ``speakers.turns`` dicts), no re-transcription.

    With ``swap_roles`` the practitioner and client swap first. Returns
    ``utterances`` / ``summary`` / ``coder_version`` like :func:`run_audio` plus the
    ``turns`` as coded (roles after any swap), ready to store.
    """
    from coding.coder import load_coder
    from coding.miti import summarise

    parsed = [_as_turn(t) for t in turns]
    if swap_roles:
        parsed = [Turn(role=Role.CLIENT if t.role is Role.PRACTITIONER else Role.PRACTITIONER,
                       text=t.text, start=t.start, end=t.end) for t in parsed]
    coder = load_coder(model_dir)
    coded = coder.code_turns(parsed)
    result = _coded_json(coded, summarise(coded).to_dict(), coder.version)
    result["turns"] = [{"role": t.role.value, "start": t.start, "end": t.end, "text": t.text}
                       for t in parsed]
    return result


def _as_turn(t: Turn | Mapping[str, Any]) -> Turn:
    if isinstance(t, Turn):
        return t
    try:
        role = Role(str(t.get("role") or t.get("speaker")))
        return Turn(role=role, text=str(t["text"]), start=t.get("start"), end=t.get("end"))
    except (KeyError, ValueError) as exc:
        raise InputError(f"a stored turn is not valid ({exc}): {dict(t)!r:.120}") from exc


def _coded_json(coded: Sequence[CodedUtterance], summary: dict[str, Any],
                version: str) -> dict[str, Any]:
    return {"utterances": [c.to_dict() for c in coded], "summary": summary,
            "coder_version": version}


def _reporter(progress: ProgressCallback | None) -> ProgressCallback:
    last: list[Any] = ["", -1]

    def report(stage: str, percent: int) -> None:
        # Never go backwards and never repeat a report (each may be a DB write), but do
        # report a new stage at the percent the last one ended on: otherwise the job row
        # would say "decode" all the while the models load.
        if progress is not None and (percent > last[1] or
                                     percent == last[1] and stage != last[0]):
            last[:] = [stage, percent]
            progress(stage, min(100, percent))

    return report


@contextmanager
def _stage(name: str, timings: dict[str, float], report: ProgressCallback) -> Iterator[None]:
    report(name, _STAGE_START[name])
    t0 = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - t0, 3)
    report(name, _STAGE_END[name])
