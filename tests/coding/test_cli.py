from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from coding.cli import code_cmd, code_transcript_file, coder_group
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


def test_audio_uses_pipeline(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    fake = types.ModuleType("coding.pipeline")
    fake.run_audio = lambda path, model_dir=None: {"utterances": [], "summary": {}, "coder_version": "x"}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "coding.pipeline", fake)
    a = tmp_path / "rec.mp3"
    a.write_bytes(b"ID3")
    res = CliRunner().invoke(code_cmd, [str(a), "--json", "--model", str(model_dir)])
    assert res.exit_code == 0 and json.loads(res.output)["coder_version"] == "x"


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


def test_train_bad_corpus_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "c.txt"
    bad.write_text("=== dialogue: x\nP BOGUS: hi\n")
    r = CliRunner().invoke(coder_group, ["train", "--corpus", str(bad), "--out", str(tmp_path / "m")])
    assert r.exit_code == 2 and "c.txt line 2: unknown code 'BOGUS'" in r.output
