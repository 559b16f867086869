"""Evaluation against the product's own codes, and parallel training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coding.coder import MitiCoder, dialogue_rows, make_pipeline
from coding.corpus import read_project_corpus
from coding.evaluate import code_agreement, evaluate_codes
from coding.features import UtteranceContext
from coding.types import Code


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
