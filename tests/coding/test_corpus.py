from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from coding.corpus import (
    CODE_TO_ANNOMI,
    annomi_labels,
    read_annomi,
    read_project_corpus,
    read_reviewed,
    short_exchanges,
)
from coding.errors import InputError
from coding.types import Code, Role

from .conftest import ANNOMI_TRAIN, FIXTURES


def test_project_corpus_turns_and_levels(tiny_corpus_path: Path) -> None:
    ds = read_project_corpus(tiny_corpus_path)
    assert [d.id for d in ds] == ["fx-001", "fx-002", "fx-003"]
    d = ds[0]
    assert d.meta["context"].startswith("substance misuse")
    first, second = d.utterances[0], d.utterances[1]
    assert first.code is Code.NONE and second.code is Code.SEEK
    assert first.turn_index == second.turn_index == 0 and second.index_in_turn == 1
    assert d.utterances[2].role is Role.CLIENT and d.utterances[2].turn_index == 1
    assert d.utterances[5].level1 == "reflection" and d.utterances[5].level2 == "simple"


def test_short_exchanges_pair_each_client_turn_with_its_answer(tiny_corpus_path: Path) -> None:
    d = read_project_corpus(tiny_corpus_path)[0]
    pairs = short_exchanges(d)
    turns = sorted({u.turn_index for u in d.utterances})
    client_then_practitioner = sum(
        1 for a, b in pairwise(turns)
        if next(u for u in d.utterances if u.turn_index == a).role is Role.CLIENT
        and next(u for u in d.utterances if u.turn_index == b).role is Role.PRACTITIONER)
    assert len(pairs) == client_then_practitioner > 0
    for x in pairs:
        assert x.source == d.source and x.id.startswith(f"{d.id}#exchange-")
        roles = [u.role for u in x.utterances]
        # one client turn, then one practitioner turn, renumbered 0 and 1
        assert roles[0] is Role.CLIENT and roles[-1] is Role.PRACTITIONER
        assert [u.turn_index for u in x.utterances] == [0 if r is Role.CLIENT else 1
                                                         for r in roles]
    # the codes travel with their utterances
    first = pairs[0]
    originals = {(u.text, u.code) for u in d.utterances}
    assert all((u.text, u.code) in originals for u in first.utterances)


@pytest.mark.parametrize("line,pattern", [
    ("P XX: hello", r"c\.txt line 3: unknown code 'XX'"),
    ("C SR: hello", r"c\.txt line 3: code SR is not valid for the client"),
    ("P GI:", r"c\.txt line 3: missing text"),
    ("Q GI: hi", r"c\.txt line 3: unknown speaker 'Q'"),
    ("just some words", r"c\.txt line 3: expected 'P CODE: text'"),
])
def test_project_corpus_errors(tmp_path: Path, line: str, pattern: str) -> None:
    p = tmp_path / "c.txt"
    p.write_text(f"=== dialogue: x\n# comment\n{line}\n", encoding="utf-8")
    with pytest.raises(InputError, match=pattern):
        read_project_corpus(p)


def test_annomi_majority_vote_and_grouping() -> None:
    ds = read_annomi(FIXTURES / "tiny_annomi.csv")
    assert [d.id for d in ds] == ["1", "2"]
    assert ds[0].meta == {"mi_quality": "high", "topic": "smoking"}
    u0, u1 = ds[0].utterances[0], ds[0].utterances[1]
    assert u0.code is Code.Q_OPEN  # open 2 : closed 1
    assert u1.code is Code.CHANGE  # change 2 : neutral 1
    assert len(ds[0].utterances) == 6  # de-duplicated
    advice = ds[0].utterances[4]
    assert advice.level1 == "input" and advice.code is None  # advice: PERSUADE or PWP, unknown
    assert ds[1].utterances[2].code is Code.GI  # information -> GI


def test_mapping_table_covers_every_code() -> None:
    assert set(CODE_TO_ANNOMI) == set(Code)
    assert annomi_labels(Code.CR) == {"main_therapist_behaviour": "reflection",
                                      "reflection_subtype": "complex"}
    assert annomi_labels(Code.PWP) == {"main_therapist_behaviour": "therapist_input"}
    assert annomi_labels(Code.SUSTAIN) == {"client_talk_type": "sustain"}


def test_reviewed_csv_and_json(tmp_path: Path) -> None:
    c = tmp_path / "r.csv"
    c.write_text("recording_id,utterance_index,speaker,text,code\n7,1,client,Fine.,NEUTRAL\n"
                 "7,0,practitioner,How are you?,Q_OPEN\n", encoding="utf-8")
    ds = read_reviewed(c)
    assert ds[0].utterances[0].code is Code.Q_OPEN  # ordered by utterance_index
    j = tmp_path / "r.json"
    j.write_text(json.dumps({"utterances": [
        {"recording_id": 1, "utterance_index": 0, "speaker": "P", "text": "Hi", "code": "NONE"},
        {"recording_id": 1, "utterance_index": 1, "speaker": "C", "text": "Hey", "code": "GI"}]}))
    with pytest.raises(InputError, match=r"r\.json row 2: code GI not valid for client"):
        read_reviewed(j)


@pytest.mark.skipif(not ANNOMI_TRAIN.exists(), reason="../shared/annomi/train.csv not present")
def test_real_annomi_deduplicates() -> None:
    ds = read_annomi(ANNOMI_TRAIN)
    assert len(ds) == 93
    assert sum(len(d.utterances) for d in ds) == 6858
