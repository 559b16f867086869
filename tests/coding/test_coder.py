from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

import coding.coder as coder_mod
from coding.coder import (
    MitiCoder,
    clear_cache,
    current_version,
    default_model_dir,
    list_versions,
    load_coder,
    save_coder,
    set_current,
    train_coder,
)
from coding.corpus import corpus_fingerprint, read_project_corpus
from coding.errors import InputError, ModelError
from coding.features import build_contexts
from coding.readers import read_text
from coding.segment import segment_turns
from coding.types import Code, Role, Utterance


def test_tiny_training_learns_the_corpus(tiny_coder: MitiCoder, tiny_corpus_path: Path) -> None:
    ds = read_project_corpus(tiny_corpus_path)
    utts = [Utterance(u.role, u.text, u.turn_index, u.index_in_turn) for u in ds[0].utterances]
    coded = tiny_coder.code_utterances(utts)
    gold = [u.code for u in ds[0].utterances]
    acc = sum(c.code is g for c, g in zip(coded, gold)) / len(gold)
    assert acc >= 0.8  # it should fit its own training data
    assert all(0.0 <= c.confidence <= 1.0 and c.coder_version == "tiny-1" for c in coded)
    assert all((c.code in (Code.CHANGE, Code.SUSTAIN, Code.NEUTRAL)) == (c.utterance.role is Role.CLIENT)
               for c in coded)
    assert tiny_coder.meta["training"]["utterances"] == sum(len(d.utterances) for d in ds)


def test_short_exchanges_share_their_dialogue_s_fold(tiny_corpus_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # An exchange repeats utterances of its dialogue: in another out-of-fold fold it
    # would leak them into the stacked heads' training probabilities.
    seen: dict[str, list] = {}
    original = coder_mod.Pipeline.fit

    def spy(self, X, y, **params):  # type: ignore[no-untyped-def]
        seen["rows"], seen["groups"] = list(X), list(params["classify__groups"])
        return original(self, X, y, **params)

    monkeypatch.setattr(coder_mod.Pipeline, "fit", spy)
    dialogues = read_project_corpus(tiny_corpus_path)
    train_coder(dialogues, version="tiny-groups")
    rows, groups = seen["rows"], seen["groups"]
    own = sum(len(d.utterances) for d in dialogues)
    assert len(groups) == len(rows) > own  # exchanges were added after the dialogues
    assert groups[:own] == [g for g, d in enumerate(dialogues) for _ in d.utterances]
    texts = [{u.text for u in d.utterances} for d in dialogues]
    assert all(r.text in texts[g] for r, g in zip(rows[own:], groups[own:]))
    assert len(set(groups[own:])) > 1


def test_code_turns_segments(tiny_coder: MitiCoder) -> None:
    turns = read_text("P: You don't see a problem. What would help?\nC: I will try to cut down.\n")
    coded = tiny_coder.code_turns(turns)
    assert [c.utterance.text for c in coded] == ["You don't see a problem.", "What would help?",
                                                 "I will try to cut down."]
    assert coded[2].code is Code.CHANGE
    # 58 training lines cannot settle the question's level-2 code (it swings between
    # SEEK and PWP with any change to the heads), but the question form must show
    _, _, probs = tiny_coder.decide_contexts(build_contexts(segment_turns(turns)))
    assert probs["level1"][1, 0] > 5 * probs["level1"][0, 0]


def test_training_needs_practitioner_data() -> None:
    with pytest.raises(InputError):
        train_coder([])


def test_save_load_round_trip(model_dir: Path, tiny_coder: MitiCoder) -> None:
    d = model_dir / "miti-coder" / "tiny-1"
    assert (d / "coder.joblib").is_file()
    meta = json.loads((d / "meta.json").read_text())
    assert meta["libraries"]["scikit-learn"] and meta["format_version"] == coder_mod.FORMAT_VERSION
    assert "Q_OPEN" in meta["labels"]["practitioner"]
    loaded = load_coder(model_dir)
    assert loaded.version == "tiny-1" and loaded is load_coder(model_dir)  # cached
    turns = read_text("P: How are you? You seem tired.\nC: I am fine.\n")
    a = [(c.code, round(c.confidence, 6)) for c in tiny_coder.code_turns(turns)]
    b = [(c.code, round(c.confidence, 6)) for c in loaded.code_turns(turns)]
    assert a == b


def test_refuses_other_sklearn_version(model_dir: Path) -> None:
    meta_path = model_dir / "miti-coder" / "tiny-1" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["libraries"]["scikit-learn"] = "1.2.0"
    meta_path.write_text(json.dumps(meta))
    clear_cache()
    with pytest.raises(ModelError, match=r"trained with scikit-learn 1\.2; this install has .*mitrain coder train"):
        load_coder(model_dir)


def test_refuses_other_format_version(model_dir: Path) -> None:
    meta_path = model_dir / "miti-coder" / "tiny-1" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    clear_cache()
    with pytest.raises(ModelError, match="format version 99"):
        load_coder(model_dir)


def test_versions_promotion_and_rollback(model_dir: Path, tiny_coder: MitiCoder) -> None:
    second = MitiCoder(tiny_coder.pipeline, "tiny-2", {**tiny_coder.meta, "version": "tiny-2",
                                                        "created_at": "2099-01-01T00:00:00+00:00"})
    save_coder(second, model_dir, metrics={"macro_f1": 0.5})
    assert current_version(model_dir) == "tiny-1"
    set_current(model_dir, "tiny-2")
    assert load_coder(model_dir).version == "tiny-2"
    vs = list_versions(model_dir)
    assert [v["version"] for v in vs] == ["tiny-1", "tiny-2"]
    assert vs[1]["current"] and vs[1]["metrics"] == {"macro_f1": 0.5}
    set_current(model_dir, "tiny-1")  # rollback
    assert load_coder(model_dir).version == "tiny-1"
    with pytest.raises(ModelError, match="no coder version 'nope'"):
        set_current(model_dir, "nope")
    with pytest.raises(ModelError, match="already exists"):
        save_coder(second, model_dir)


@pytest.fixture()
def corpus(tmp_path: Path, tiny_corpus_path: Path) -> Path:
    """A corpus directory holding the tiny corpus; the coder cache starts empty."""
    clear_cache()
    d = tmp_path / "corpus"
    d.mkdir()
    shutil.copy(tiny_corpus_path, d / "a.txt")
    return d


def test_missing_model_trains_default(tmp_path: Path, corpus: Path) -> None:
    d = tmp_path / "empty-models"
    coder = load_coder(d, corpus_dir=corpus)
    assert current_version(d) == coder.version and coder.version.endswith("-default")
    assert (d / "miti-coder" / coder.version / "coder.joblib").is_file()
    clear_cache()


def test_missing_model_and_corpus_is_model_error(tmp_path: Path) -> None:
    clear_cache()
    with pytest.raises(ModelError, match="no project corpus"):
        load_coder(tmp_path / "m", corpus_dir=tmp_path / "nothing")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any directory")
def test_unreadable_model_dir(tmp_path: Path) -> None:
    root = tmp_path / "m" / "miti-coder"
    root.mkdir(parents=True)
    root.chmod(0)
    try:
        with pytest.raises(ModelError, match="not readable"):
            load_coder(tmp_path / "m")
    finally:
        root.chmod(0o755)


def test_model_dir_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "m"
    f.write_text("x")
    with pytest.raises(ModelError, match="not a directory"):
        load_coder(f)


def test_corrupt_joblib(model_dir: Path) -> None:
    (model_dir / "miti-coder" / "tiny-1" / "coder.joblib").write_bytes(b"not a pickle")
    clear_cache()
    with pytest.raises(ModelError, match="cannot load coder.joblib"):
        load_coder(model_dir)


def test_default_model_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MITRAIN_MODEL_DIR", raising=False)
    assert default_model_dir() == Path(coder_mod.__file__).resolve().parent.parent / "models"
    monkeypatch.setenv("MITRAIN_MODEL_DIR", str(tmp_path))
    assert default_model_dir() == tmp_path


def test_unreadable_model_dir_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # works as root too: the permission check itself says no
    (tmp_path / "m" / "miti-coder").mkdir(parents=True)
    monkeypatch.setattr(coder_mod.os, "access", lambda *a, **k: False)
    with pytest.raises(ModelError, match="not readable"):
        load_coder(tmp_path / "m")


def test_default_retrains_when_corpus_changes(tmp_path: Path, corpus: Path) -> None:
    d = tmp_path / "models"
    old = load_coder(d, corpus_dir=corpus)
    assert old.meta["corpus_sha256"] == corpus_fingerprint(corpus)
    clear_cache()
    assert load_coder(d, corpus_dir=corpus).version == old.version  # unchanged: reused
    clear_cache()
    with (corpus / "a.txt").open("a", encoding="utf-8") as f:
        f.write("\n=== dialogue: added-1\ncontext: test | added | added\n"
                "P Q_OPEN: What would you like to change first?\nC CHANGE: I want to stop.\n")
    time.sleep(1.1)  # version names are stamped per second: the new one must differ
    new = load_coder(d, corpus_dir=corpus)
    assert new.version != old.version and current_version(d) == new.version
    assert new.meta["training"]["dialogues"] == old.meta["training"]["dialogues"] + 1
    clear_cache()


def test_stale_default_is_retrained(tmp_path: Path, corpus: Path) -> None:
    d = tmp_path / "models"
    old = load_coder(d, corpus_dir=corpus)
    meta_path = d / "miti-coder" / old.version / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = coder_mod.FORMAT_VERSION - 1
    meta_path.write_text(json.dumps(meta))
    clear_cache()
    with pytest.raises(ModelError, match="format version"):
        load_coder(d, old.version)  # asked for by name: refused
    time.sleep(1.1)  # version names are stamped per second: the new one must differ
    new = load_coder(d, corpus_dir=corpus)  # CURRENT: retrained from the corpus
    assert new.version != old.version and current_version(d) == new.version
    clear_cache()
