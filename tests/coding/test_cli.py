from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from coding.cli import code_cmd, code_transcript_file, coder_group
from coding.corpus import read_project_corpus
from coding.types import Code

from .conftest import FIXTURES

SUMMARY_KEYS = {"counts", "rq_ratio", "pct_complex_reflections", "pct_open_questions",
                "mi_adherent", "mi_non_adherent", "change_talk_pct", "globals_estimated",
                "thresholds"}


def test_code_json_schema(model_dir: Path, transcript: Path) -> None:
    res = CliRunner().invoke(code_cmd, [str(transcript), "--json", "--model", str(model_dir)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert set(data) == {"utterances", "summary", "coder_version"}
    assert data["coder_version"] == "tiny-1"
    assert SUMMARY_KEYS <= set(data["summary"])
    assert set(data["summary"]["counts"]) == {c.value for c in Code}
    u = data["utterances"][0]
    assert set(u) == {"speaker", "start", "end", "text", "code", "confidence"}
    assert u["speaker"] == "practitioner" and Code(u["code"])
    assert len(data["utterances"]) >= 6


def test_code_report(model_dir: Path, transcript: Path) -> None:
    res = CliRunner().invoke(code_cmd, [str(transcript), "--model", str(model_dir)])
    assert res.exit_code == 0 and "R:Q" in res.output and "tiny-1" in res.output


def test_code_transcript_file_reusable(model_dir: Path, transcript: Path) -> None:
    d = code_transcript_file(transcript, model_dir)
    assert d["coder_version"] == "tiny-1" and d["utterances"][0]["text"]


@pytest.mark.parametrize("content", ["", "P: only me\nP: still me\n", "Z: who\nC: hi\n"])
def test_bad_transcript_exit_2(model_dir: Path, tmp_path: Path, content: str) -> None:
    p = tmp_path / "bad.txt"
    p.write_text(content)
    res = CliRunner().invoke(code_cmd, [str(p), "--json", "--model", str(model_dir)])
    assert res.exit_code == 2
    assert "bad.txt" in res.output and "Traceback" not in res.output


def test_audio_without_pipeline(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "coding.pipeline", None)  # import fails
    a = tmp_path / "rec.wav"
    a.write_bytes(b"RIFF")
    res = CliRunner().invoke(code_cmd, [str(a), "--model", str(model_dir)])
    assert res.exit_code == 2 and "coding.pipeline" in res.output


def test_audio_uses_pipeline_with_the_server_settings(
        model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    calls: list[dict[str, Any]] = []

    def run_audio(path: Path, **kw: Any) -> dict[str, Any]:
        calls.append(kw)
        return {"utterances": [], "summary": {}, "coder_version": "x"}

    fake = types.ModuleType("coding.pipeline")
    fake.run_audio = run_audio  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "coding.pipeline", fake)
    a = tmp_path / "rec.mp3"
    a.write_bytes(b"ID3")
    res = CliRunner().invoke(code_cmd, [str(a), "--json", "--model", str(model_dir)])
    assert res.exit_code == 0 and json.loads(res.output)["coder_version"] == "x"
    assert calls[-1] == {"model_dir": model_dir, "engine": "faster-whisper", "whisper_model": None,
                         "max_seconds": 90 * 60.0, "max_bytes": 200 * 2**20,
                         "transcriber_options": {"cpu_threads": 1}}
    env = {"MITRAIN_WHISPER_ENGINE": "openai-whisper", "MITRAIN_WHISPER_MODEL": "/m/tiny.pt",
           "MITRAIN_WHISPER_THREADS": "2", "MITRAIN_MAX_AUDIO_MINUTES": "20",
           "MITRAIN_MAX_UPLOAD_MB": "50"}
    res = CliRunner().invoke(code_cmd, [str(a), "--model", str(model_dir), "--json"], env=env)
    assert res.exit_code == 0, res.output
    assert calls[-1] == {"model_dir": model_dir, "engine": "openai-whisper",
                         "whisper_model": "/m/tiny.pt", "max_seconds": 1200.0,
                         "max_bytes": 50 * 2**20, "transcriber_options": {"cpu_threads": 2}}


def test_audio_limits_come_from_the_settings(model_dir: Path) -> None:
    # Real decoding: the fixture is 22 s, so a 0-minute limit refuses it before any model loads.
    wav = Path(__file__).resolve().parents[1] / "fixtures" / "audio" / "home_mono.wav"
    res = CliRunner().invoke(code_cmd, [str(wav), "--model", str(model_dir)],
                             env={"MITRAIN_MAX_AUDIO_MINUTES": "0"})
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "home_mono.wav: the recording is 22 s long; the limit is 0 s" in res.output
    res = CliRunner().invoke(code_cmd, [str(wav), "--max-mb", "0", "--model", str(model_dir)])
    assert res.exit_code == 2 and "the limit is 0 MB" in res.output
    bad = CliRunner().invoke(code_cmd, [str(wav), "--model", str(model_dir)],
                             env={"MITRAIN_WHISPER_THREADS": "lots"})
    assert bad.exit_code == 2 and "'lots' is not a valid integer" in bad.output


def test_unreadable_model_exit_2(tmp_path: Path, transcript: Path) -> None:
    f = tmp_path / "models"
    f.write_text("not a dir")
    res = CliRunner().invoke(code_cmd, [str(transcript), "--model", str(f)])
    assert res.exit_code == 2 and "not a directory" in res.output


def test_train_and_evaluate(tmp_path: Path, tiny_corpus_path: Path) -> None:
    out = tmp_path / "m"
    r = CliRunner().invoke(coder_group, ["train", "--corpus", str(tiny_corpus_path), "--annomi",
                                         str(FIXTURES / "tiny_annomi.csv"), "--out", str(out),
                                         "--version", "cli-1"])
    assert r.exit_code == 0, r.output
    assert (out / "miti-coder" / "CURRENT").read_text().strip() == "cli-1"
    r = CliRunner().invoke(coder_group, ["evaluate", "--annomi", str(FIXTURES / "tiny_annomi.csv"),
                                         "--model", str(out), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert set(res) >= {"therapist_behaviour", "question_subtype", "reflection_subtype",
                        "client_talk_type", "session", "n_utterances"}
    assert set(res["therapist_behaviour"]) == {"macro_f1", "accuracy", "per_class"}
    assert set(res["session"]) == {"reflections_pearson", "questions_pearson", "rq_pearson",
                                   "auc_high_vs_low"}
    assert res["n_utterances"] == 13


def test_evaluate_on_project_dialogues(model_dir: Path, tiny_corpus_path: Path) -> None:
    r = CliRunner().invoke(coder_group, ["evaluate", "--corpus", str(tiny_corpus_path),
                                         "--model", str(model_dir), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert set(res) == {"practitioner_code", "practitioner_level1", "client_talk",
                        "n_utterances", "coder_version"}
    assert res["n_utterances"] == sum(len(d.utterances) for d in read_project_corpus(tiny_corpus_path))
    assert 0.0 <= res["practitioner_code"]["kappa"] <= 1.0
    r = CliRunner().invoke(coder_group, ["evaluate", "--corpus", str(tiny_corpus_path),
                                         "--model", str(model_dir)])
    assert r.exit_code == 0 and "practitioner_code" in r.output and "kappa" in r.output


def test_evaluate_needs_exactly_one_source(model_dir: Path, tiny_corpus_path: Path) -> None:
    for args in ([], ["--annomi", str(FIXTURES / "tiny_annomi.csv"), "--corpus", str(tiny_corpus_path)]):
        r = CliRunner().invoke(coder_group, ["evaluate", "--model", str(model_dir), *args])
        assert r.exit_code == 2 and "either --annomi CSV or --corpus PATH" in r.output


def test_train_bad_corpus_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "c.txt"
    bad.write_text("=== dialogue: x\nP BOGUS: hi\n")
    r = CliRunner().invoke(coder_group, ["train", "--corpus", str(bad), "--out", str(tmp_path / "m")])
    assert r.exit_code == 2 and "c.txt line 2: unknown code 'BOGUS'" in r.output
