"""Calibrated decisions: prior shifts from out-of-fold probabilities, the level-1
meta-learner, and the roll-up of segmented utterances to AnnoMI's unit."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from coding.coder import MitiCoder, _macro_f1, _reweight, _tune_bias
from coding.corpus import LabelledDialogue, LabelledUtterance
from coding.evaluate import predict_units
from coding.features import build_contexts
from coding.readers import read_text
from coding.segment import segment_turns
from coding.types import Code, Role


def _skewed(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """A minority class the probabilities under-state: argmax never predicts it."""
    rng = np.random.default_rng(0)
    y = (rng.random(n) < 0.2).astype(int)
    p1 = np.clip(np.where(y == 1, 0.4, 0.1) + rng.normal(0, 0.03, n), 0.01, 0.99)
    return np.c_[1 - p1, p1], y


def test_tuned_prior_shift_raises_macro_f1() -> None:
    P, y = _skewed()
    before = _macro_f1(y, P.argmax(axis=1), 2)
    b = _tune_bias(P, y)
    after = _macro_f1(y, (np.log(P) + b).argmax(axis=1), 2)
    assert b[0] == 0.0 and b[1] > 0.0
    assert after > before + 0.2


def test_prior_shift_needs_enough_rows() -> None:
    P, y = _skewed(20)
    assert not _tune_bias(P, y).any()


def test_reweight_renormalises() -> None:
    P = np.array([[0.5, 0.5], [0.9, 0.1]])
    Q = _reweight(P, np.array([0.0, np.log(3.0)]))
    assert np.allclose(Q.sum(axis=1), 1.0) and np.allclose(Q[0], [0.25, 0.75])
    assert _reweight(P, None) is P


def test_meta_learner_blends_into_level1(tiny_coder: MitiCoder) -> None:
    clf = tiny_coder.pipeline.named_steps["classify"]
    assert clf.meta_ is not None and 0.0 < clf.meta_weight < 1.0
    utts = segment_turns(read_text("P: What would help?\nC: Maybe.\n"))
    X = tiny_coder.pipeline.named_steps["features"].transform(build_contexts(utts))
    _, p1, _ = clf._level1(X)
    assert np.allclose(p1.sum(axis=1), 1.0)
    # the blend differs from the linear head alone (the meta-learner contributes)
    clf.meta_weight, saved = 0.0, clf.meta_weight
    try:
        _, linear, _ = clf._level1(X)
    finally:
        clf.meta_weight = saved
    assert not np.allclose(p1, linear)


class _StubCoder:
    """Level-1 probabilities by form: a sentence ending in '?' looks like a question,
    anything else like information."""

    version = "stub"
    pipeline = SimpleNamespace(named_steps={"classify": SimpleNamespace(complex_threshold=0.5)})

    def decide_contexts(self, rows: Any) -> tuple[list[Code], np.ndarray, dict[str, np.ndarray]]:
        q = np.array([r.text.rstrip().endswith("?") for r in rows])
        p1 = np.where(q[:, None], [0.9, 0.03, 0.02, 0.05], [0.05, 0.05, 0.85, 0.05])
        codes = [Code.Q_OPEN if x else Code.GI for x in q]
        n = len(rows)
        return codes, p1.max(axis=1), {"level1": p1, "question": np.tile([0.8, 0.2], (n, 1)),
                                       "reflection": np.tile([0.5, 0.5], (n, 1)),
                                       "client": np.tile([0.2, 0.6, 0.2], (n, 1))}


def test_rollup_keeps_long_information_with_a_closing_question() -> None:
    info = ("I'd like to tell you about the three treatment options that the clinic offers to "
            "everyone who comes in with a drinking problem like this one. Does that make sense?")
    d = LabelledDialogue("t", "annomi", [
        LabelledUtterance(Role.PRACTITIONER, info, "input", None, 0),
        LabelledUtterance(Role.CLIENT, "Sure.", "client", Code.NEUTRAL, 1),
        LabelledUtterance(Role.PRACTITIONER, "What brings you here today?", "question", None, 2),
    ])
    units, coded = predict_units(_StubCoder(), d)  # type: ignore[arg-type]
    assert len(coded) == 4  # the first unit was split into two utterances
    assert units[0]["main_therapist_behaviour"] == "therapist_input"
    assert units[2] == {"main_therapist_behaviour": "question", "question_subtype": "open"}
