"""Evaluation against the product's own codes and AnnoMI's labels, and parallel training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coding.coder import MitiCoder, dialogue_rows, make_pipeline
from coding.corpus import LabelledDialogue, LabelledUtterance, read_project_corpus
from coding.evaluate import (
    bootstrap_intervals,
    code_agreement,
    evaluate_codes,
    evaluate_predictions,
)
from coding.features import UtteranceContext
from coding.types import Code, Role


def test_code_agreement_hand_worked() -> None:
    gold = [Code.SR, Code.CR, Code.Q_OPEN, Code.Q_OPEN, Code.CHANGE, Code.NEUTRAL]
    pred = [Code.SR, Code.SR, Code.Q_OPEN, Code.Q_CLOSED, Code.CHANGE, Code.CHANGE]
    r = code_agreement(gold, pred)
    # practitioner codes over the gold labels CR (F1 0), Q_OPEN (2/3) and SR (2/3)
    assert r["practitioner_code"]["macro_f1"] == pytest.approx(4 / 9, abs=1e-4)
    assert r["practitioner_code"]["accuracy"] == 0.5
    # kappa: observed 0.5, chance 2/4*1/4 + 1/4*2/4 = 0.25 -> (0.5-0.25)/0.75
    assert r["practitioner_code"]["kappa"] == pytest.approx(1 / 3, abs=1e-4)
    # every level-1 behaviour is right: SR/CR are both reflections, Q_OPEN/Q_CLOSED questions
    assert r["practitioner_level1"]["macro_f1"] == 1.0
    # client: CHANGE F1 2/3, NEUTRAL 0
    assert r["client_talk"]["macro_f1"] == pytest.approx(1 / 3, abs=1e-4)
    assert r["n_utterances"] == 6


def test_code_agreement_needs_equal_lengths() -> None:
    with pytest.raises(ValueError):
        code_agreement([Code.SR], [])


def test_evaluate_codes_scores_every_line(tiny_coder: MitiCoder, tiny_corpus_path: Path) -> None:
    dialogues = read_project_corpus(tiny_corpus_path)
    r = evaluate_codes(tiny_coder, dialogues)
    assert r["n_utterances"] == sum(len(d.utterances) for d in dialogues)
    # the coder was trained on these lines: it should mostly reproduce them
    assert r["practitioner_level1"]["accuracy"] > 0.7
    assert set(r["client_talk"]["per_class"]) <= {"CHANGE", "NEUTRAL", "SUSTAIN"}


def test_parallel_training_is_deterministic(tiny_corpus_path: Path) -> None:
    rows: list[UtteranceContext] = []
    labels: list[str] = []
    for d in read_project_corpus(tiny_corpus_path):
        _, r, lab = dialogue_rows(d)
        rows += r
        labels += lab
    probs = []
    for n_jobs in (1, 2):
        pipe = make_pipeline(n_jobs=n_jobs).fit(rows, labels)
        X = pipe.named_steps["features"].transform(rows)
        probs.append(pipe.named_steps["classify"].decide(X)[2])
    for k in probs[0]:
        np.testing.assert_allclose(probs[0][k], probs[1][k], atol=1e-9)


def _annomi_dialogue(name: str, units: list[tuple[str, dict[str, str]]]) -> LabelledDialogue:
    """An AnnoMI-style dialogue: (role, gold labels) per unit; the text is irrelevant here."""
    return LabelledDialogue(name, "annomi", [
        LabelledUtterance(Role.CLIENT if role == "C" else Role.PRACTITIONER, f"unit {i}",
                          "client" if role == "C" else "other", None, i, annomi=gold)
        for i, (role, gold) in enumerate(units)])


_Q_OPEN = {"main_therapist_behaviour": "question", "question_subtype": "open"}
_Q_CLOSED = {"main_therapist_behaviour": "question", "question_subtype": "closed"}
_REFL = {"main_therapist_behaviour": "reflection", "reflection_subtype": "complex"}
_CHANGE, _NEUTRAL = {"client_talk_type": "change"}, {"client_talk_type": "neutral"}


def test_bootstrap_of_one_transcript_is_its_own_score() -> None:
    # resampling a single transcript always draws that transcript: the interval
    # collapses onto the pooled macro-F1 that evaluate_predictions reports
    d = _annomi_dialogue("t1", [("P", _Q_OPEN), ("C", _CHANGE), ("P", _REFL), ("C", _NEUTRAL),
                                ("P", _Q_CLOSED), ("C", _NEUTRAL)])
    pred = ([_Q_OPEN, _NEUTRAL, _Q_CLOSED, _NEUTRAL, _Q_CLOSED, _CHANGE], [])
    point = evaluate_predictions([d], [pred])
    # client: change F1 0 (missed, one false alarm), neutral 1/2 -> 1/4
    assert point["client_talk_type"]["macro_f1"] == 0.25
    # behaviour: question P 2/3 R 1 -> 0.8, reflection 0 -> 0.4
    assert point["therapist_behaviour"]["macro_f1"] == 0.4
    iv = bootstrap_intervals([d], [pred], reps=50)
    for task in ("therapist_behaviour", "question_subtype", "client_talk_type"):
        assert iv[task] == [point[task]["macro_f1"]] * 2
    assert "reflection_subtype" not in iv  # no reflection both coded and predicted


def test_bootstrap_interval_spans_the_spread_between_transcripts() -> None:
    good = [_annomi_dialogue(f"g{i}", [("P", _Q_OPEN), ("C", _CHANGE), ("P", _REFL), ("C", _NEUTRAL)])
            for i in range(6)]
    bad = _annomi_dialogue("b", [("P", _Q_OPEN), ("C", _CHANGE), ("P", _REFL), ("C", _NEUTRAL)])
    right = ([_Q_OPEN, _CHANGE, _REFL, _NEUTRAL], [])
    wrong = ([_REFL, _NEUTRAL, _Q_OPEN, _CHANGE], [])
    perfect = bootstrap_intervals(good, [right] * 6)
    assert perfect["client_talk_type"] == [1.0, 1.0]
    assert perfect["therapist_behaviour"] == [1.0, 1.0]
    dialogues, preds = [*good, bad], [right] * 6 + [wrong]
    pooled = evaluate_predictions(dialogues, preds)["client_talk_type"]["macro_f1"]
    lo, hi = bootstrap_intervals(dialogues, preds)["client_talk_type"]
    assert lo < pooled < hi <= 1.0
    assert bootstrap_intervals(dialogues, preds) == bootstrap_intervals(dialogues, preds)  # seeded
