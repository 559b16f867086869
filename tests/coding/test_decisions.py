"""Calibrated decisions: prior shifts from out-of-fold probabilities, the level-1
meta-learner, and the roll-up of segmented utterances to AnnoMI's unit."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from coding.coder import (
    MitiCoder,
    _Head,
    _macro_f1,
    _reweight,
    _tune_bias,
    split_annomi_units,
)
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
    _, p1, _, _ = clf._level1(X)
    assert np.allclose(p1.sum(axis=1), 1.0)
    # the blend differs from the linear head alone (the meta-learner contributes)
    clf.meta_weight, saved = 0.0, clf.meta_weight
    try:
        _, linear, _, _ = clf._level1(X)
    finally:
        clf.meta_weight = saved
    assert not np.allclose(p1, linear)


def test_meta_learner_blends_into_open_closed(tiny_coder: MitiCoder) -> None:
    clf = tiny_coder.pipeline.named_steps["classify"]
    assert clf.meta_question_ is not None
    utts = segment_turns(read_text("P: How often do you drink?\nC: Most nights.\n"
                                   "P: Tell me about the nights you don't.\nC: Fridays.\n"))
    X = tiny_coder.pipeline.named_steps["features"].transform(build_contexts(utts))
    blended = clf.decide(X)[2]["question"]
    assert np.allclose(blended.sum(axis=1), 1.0)
    clf.meta_weight, saved = 0.0, clf.meta_weight
    try:
        linear = clf.decide(X)[2]["question"]
    finally:
        clf.meta_weight = saved
    assert not np.allclose(blended, linear)


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


class _TableCoder:
    """Level-1 probabilities looked up by utterance text."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def decide_contexts(self, rows: Any) -> tuple[list[Code], np.ndarray, dict[str, np.ndarray]]:
        p1 = np.array([self.table.get(r.text, [0.25, 0.25, 0.25, 0.25]) for r in rows])
        return [Code.NONE] * len(rows), p1.max(axis=1), {"level1": p1}


def _annomi_unit(role: Role, text: str, level1: str, code: Code | None, turn: int,
                 **subtypes: str) -> LabelledUtterance:
    labels = {"question_subtype": "n/a", "reflection_subtype": "n/a",
              "therapist_input_subtype": "n/a", **subtypes}
    return LabelledUtterance(role, text, level1, code, turn, annomi=labels)


def test_annomi_units_split_into_utterances_within_their_labels() -> None:
    info, offer = "There are three groups that meet near you in the evenings.", "Would you like a leaflet?"
    feel, praise = "It sounds like you want them home.", "You have worked so hard for it."
    d = LabelledDialogue("t", "annomi", [
        _annomi_unit(Role.PRACTITIONER, f"{info} {offer}", "input", Code.GI, 0,
                     therapist_input_subtype="information", question_subtype="closed"),
        _annomi_unit(Role.CLIENT, "I want to stop. It is hard though.", "client", Code.CHANGE, 1),
        # only a reflection exists in this unit: neither part may become a question
        _annomi_unit(Role.PRACTITIONER, f"{feel} {praise}", "reflection", Code.SR, 2,
                     reflection_subtype="simple"),
    ])
    coder = _TableCoder({info: [0.1, 0.1, 0.7, 0.1], offer: [0.8, 0.1, 0.05, 0.05],
                         feel: [0.6, 0.1, 0.1, 0.2], praise: [0.1, 0.15, 0.05, 0.7]})
    split = split_annomi_units(d, coder)  # type: ignore[arg-type]
    got = [(u.text, u.level1, u.code) for u in split.utterances]
    assert got == [
        (info, "input", Code.GI), (offer, "question", Code.Q_CLOSED),
        # a client unit's parts keep its talk type
        ("I want to stop.", "client", Code.CHANGE), ("It is hard though.", "client", Code.CHANGE),
        # "other" beats the masked-out question for the first part; the main behaviour
        # is then kept by the part likeliest to be a reflection
        (feel, "other", None), (praise, "reflection", Code.SR),
    ]
    assert [(u.turn_index, u.index_in_turn) for u in split.utterances] == [
        (0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]


@pytest.mark.parametrize("present", [("a", "b"), ("a", "b", "c"), ("a", "c", "d")])
def test_head_probabilities_are_scikit_learns(present: tuple[str, ...]) -> None:
    """The heads' matrix shortcut gives scikit-learn's predict_proba exactly, including
    one-vs-rest normalisation and a declared class training never saw."""
    rng = np.random.default_rng(0)
    X = sp.random(300, 50, density=0.2, format="csr", random_state=1)
    y = rng.choice(list(present), 300)
    head = _Head(("a", "b", "c", "d"), 2.0, "balanced").fit(X, y)
    assert head.model is not None
    expected = np.zeros((300, 4))
    for j, c in enumerate(head.model.classes_):
        expected[:, "abcd".index(c)] = head.model.predict_proba(X)[:, j]
    assert np.allclose(head.proba(X), expected, atol=1e-12)
    assert not expected[:, [i for i, c in enumerate("abcd") if c not in present]].any()


def test_nb_head_is_logistic_regression_on_log_count_ratio_scaled_ngrams() -> None:
    """NB-LR (the client head): per class, liblinear on the n-gram columns scaled by
    mix + (1 - mix)·log-count ratio; dense cues that can be negative keep their scale."""
    rng = np.random.default_rng(0)
    ngrams = sp.random(300, 20, density=0.05, format="csr", random_state=2)
    dense = rng.normal(size=(300, 3))
    X = sp.hstack([ngrams, sp.csr_matrix(dense)], format="csr")
    y = rng.choice(["a", "b", "c"], 300)
    head = _Head(("a", "b", "c"), 2.0, None, nb_mix=0.5).fit(X, y)
    for j, c in enumerate("abc"):
        pos = y == c
        p = np.asarray(ngrams[pos].sum(axis=0)).ravel() + 1.0
        q = np.asarray(ngrams[~pos].sum(axis=0)).ravel() + 1.0
        scale = np.r_[0.5 + 0.5 * np.log((p / p.sum()) / (q / q.sum())), np.ones(3)]
        Xs = X @ sp.diags(scale)
        lr = LogisticRegression(C=2.0, solver="liblinear", random_state=0).fit(Xs, pos.astype(int))
        assert np.allclose(X @ head.weights_[:, j] + head.intercepts_[j], lr.decision_function(Xs))
    assert np.allclose(head.proba(X).sum(axis=1), 1.0)


def test_open_closed_meta_learners_decide_only_where_level1_says_question(
        tiny_coder: MitiCoder) -> None:
    """The averaged open|closed meta-learners are blended in on the rows coded as
    questions and nowhere else; there they are the mean of their members."""
    turns = read_text("P: How have the weekends been going? Did you drink last Saturday?\n"
                      "C: Yeah, a bit.\nP: You don't see a problem with a few cans.\n"
                      "C: No, it helps me relax after work.\n")
    X = tiny_coder.pipeline.named_steps["features"].transform(build_contexts(segment_turns(turns)))
    clf = tiny_coder.pipeline.named_steps["classify"]
    _, _, probs = clf.decide(X)
    Xf, _, is_p = clf._split(X)
    linear = clf._level2("question", Xf)
    q = is_p & (probs["level1"].argmax(axis=1) == 0)
    assert q.any() and (~q).any()
    assert np.array_equal(probs["question"][~q], linear[~q])
    D = clf._level1(X)[3]
    members = np.mean([m.predict_proba(D[q]) for m in clf.meta_question_.members], axis=0)
    assert len(clf.meta_question_.members) > 1
    expected = (1 - clf.meta_weight) * linear[q] + clf.meta_weight * members[
        :, [list(clf.meta_question_.classes_).index(c) for c in ("open", "closed")]]
    assert np.allclose(probs["question"][q], expected)
