from __future__ import annotations

import numpy as np

from coding.features import (
    LINGUISTIC_NAMES,
    LinguisticFeatures,
    TextField,
    VectorFeatures,
    build_contexts,
    make_features,
)
from coding.segment import VECTOR_WIDTH, analyse
from coding.types import Role, Utterance

P, C = Role.PRACTITIONER, Role.CLIENT


def _conv() -> list[Utterance]:
    return [
        Utterance(P, "How are things?", 0, 0),
        Utterance(C, "I'm so tired of people checking up on me.", 1, 0),
        Utterance(P, "You're tired of being checked on.", 2, 0),
        Utterance(P, "Do you want them gone?", 2, 1),
        Utterance(C, "Yeah, exactly.", 3, 0),
    ]


def test_contexts_link_previous_and_next_turns() -> None:
    rows = build_contexts(_conv())
    r = rows[2]
    assert r.prev_other == "I'm so tired of people checking up on me."
    assert r.next_other == "Yeah, exactly."
    assert r.next_in_turn == "Do you want them gone?" and r.prev_in_turn == ""
    assert rows[3].prev_in_turn == "You're tired of being checked on." and rows[3].n_in_turn == 2
    assert rows[0].prev_other == "" and rows[0].position == 0.0 and rows[4].position == 1.0


def test_linguistic_features_cues() -> None:
    rows = build_contexts(_conv())
    X = LinguisticFeatures().fit(rows).transform(rows).toarray()
    f = {n: X[:, i] for i, n in enumerate(LINGUISTIC_NAMES)}
    assert f["wh_start"][0] == 1 and f["wh_start"][2] == 0
    assert f["aux_inversion"][3] == 1 and f["aux_inversion"][2] == 0
    assert f["overlap_prev"][2] > 0  # "tired", "check" shared with the client's turn
    assert f["overlap_prev"][3] == 0
    assert f["reflection_start"][2] == 1
    assert f["next_other_yes"][2] == 1


def test_feature_union_routes_on_role_column() -> None:
    rows = build_contexts(_conv())
    X = make_features().fit_transform(rows)
    assert X.shape[0] == 5
    assert np.array_equal(X[:, 0].toarray().ravel(), [1, 0, 1, 1, 0])


def test_text_field_vectorises_repeated_contexts_once_with_the_same_result() -> None:
    rows = build_contexts(_conv())
    field = TextField("prev_other", "word", (1, 1), 1).fit(rows)
    assert field.vectorizer_ is not None
    direct = field.vectorizer_.transform([r.prev_other for r in rows])
    assert len({r.prev_other for r in rows}) < len(rows)  # the fixture repeats contexts
    assert (field.transform(rows) != direct).nnz == 0


def test_open_and_closed_question_cues() -> None:
    utts = [
        Utterance(P, "So how often do you drink in a week?", 0, 0),
        Utterance(C, "No, not much.", 1, 0),
        Utterance(P, "Tell me about the mornings after.", 2, 0),
        Utterance(C, "They're bad. I feel awful.", 3, 0),
        Utterance(P, "Is it the evenings or the weekends?", 4, 0),
        Utterance(C, "Weekends mostly.", 5, 0),
        Utterance(P, "What would a better weekend look like?", 6, 0),
    ]
    rows = build_contexts(utts)
    X = LinguisticFeatures().fit(rows).transform(rows).toarray()
    f = {n: X[[0, 2, 4, 6], i].tolist() for i, n in enumerate(LINGUISTIC_NAMES)}
    assert f["wh_closed"] == [1, 0, 0, 0]  # "how often" asks for a fact
    assert f["open_invite"] == [0, 1, 0, 0]
    assert f["or_question"] == [0, 0, 1, 0]
    assert f["next_other_yes_no"] == [1, 0, 0, 0]  # answered "No, ..."


def test_vector_features_are_unit_means_with_cosines_to_adjacent_turns() -> None:
    rows = build_contexts(_conv())
    X = VectorFeatures().fit(rows).transform(rows).toarray()
    assert X.shape == (5, VECTOR_WIDTH + 2)
    assert np.allclose(np.linalg.norm(X[:, :VECTOR_WIDTH], axis=1), 1.0, atol=1e-5)
    cos_prev, cos_next = X[:, VECTOR_WIDTH], X[:, VECTOR_WIDTH + 1]
    assert cos_prev[0] == 0 and cos_next[4] == 0  # no turn before / after
    # the reflection restates the client's turn: it lies nearer to it than the question does
    assert 0 < cos_prev[3] < cos_prev[2] <= 1
    # a text analysed on its own and inside a turn both carry a vector
    info = analyse(["How are things?"])[0]
    assert info.vector_sum is not None and info.vector_sum.shape == (VECTOR_WIDTH,)
