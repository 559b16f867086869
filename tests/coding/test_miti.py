from __future__ import annotations

import pytest

from coding.miti import band, composite_scores, summarise, volley_counts
from coding.types import Code, CodedUtterance, Role, Utterance


def _coded(spec: list[tuple[int, str]], timed: bool = False) -> list[CodedUtterance]:
    out = []
    t = 0.0
    for i, (turn, code) in enumerate(spec):
        c = Code(code)
        role = Role.CLIENT if c in (Code.CHANGE, Code.SUSTAIN, Code.NEUTRAL) else Role.PRACTITIONER
        start, end = (t, t + 2.0) if timed else (None, None)
        t += 2.0
        out.append(CodedUtterance(Utterance(role, f"u{i}", turn, i, start, end), c, 0.9, "v"))
    return out


# Hand-worked session: 4 practitioner volleys, 3 client volleys.
#  volley 0: Q_OPEN Q_CLOSED            -> 1 question (the last one: closed)
#  volley 2: SR CR                      -> 1 reflection run, complex
#  volley 4: CR Q_OPEN SR               -> CR, SR (two runs) + 1 question (open)
#  volley 6: AF PERSUADE PWP SEEK       -> AF+SEEK adherent, PERSUADE non-adherent
SESSION = [(0, "Q_OPEN"), (0, "Q_CLOSED"), (1, "NEUTRAL"), (2, "SR"), (2, "CR"), (3, "CHANGE"),
           (3, "CHANGE"), (4, "CR"), (4, "Q_OPEN"), (4, "SR"), (5, "SUSTAIN"), (6, "AF"),
           (6, "PERSUADE"), (6, "PWP"), (6, "SEEK")]


def test_raw_and_volley_counts() -> None:
    s = summarise(_coded(SESSION))
    assert set(s.counts) == {c.value for c in Code}
    assert s.counts["SR"] == 2 and s.counts["CR"] == 2 and s.counts["Q_OPEN"] == 2
    assert s.counts["EMPHASIZE"] == 0
    v = s.counts_volley
    assert (v["Q_OPEN"], v["Q_CLOSED"], v["SR"], v["CR"]) == (1, 1, 1, 2)


def test_summary_formulas_hand_worked() -> None:
    s = summarise(_coded(SESSION))
    assert s.rq_ratio == pytest.approx(3 / 2)  # (SR+CR)/Q = 3/2
    assert s.pct_complex_reflections == pytest.approx(100 * 2 / 3, abs=0.01)
    assert s.pct_open_questions == pytest.approx(50.0)
    assert s.mi_adherent == 2 and s.mi_non_adherent == 1  # PWP in neither
    assert s.change_talk_pct == pytest.approx(100 * 2 / 3, abs=0.01)
    assert s.thresholds["rq_ratio"] == {"value": 1.5, "fair": 1.0, "good": 2.0, "band": "fair"}
    assert s.thresholds["pct_complex_reflections"]["band"] == "good"
    assert s.thresholds["pct_open_questions"]["band"] == "fair"
    g = s.globals_estimated
    assert g["estimated"] is True
    for k in ("cultivating_change_talk", "softening_sustain_talk", "partnership", "empathy"):
        assert 1.0 <= g[k] <= 5.0
    assert g["technical"] == pytest.approx((g["cultivating_change_talk"] + g["softening_sustain_talk"]) / 2, abs=0.01)


def test_no_questions_gives_none() -> None:
    s = summarise(_coded([(0, "SR"), (1, "NEUTRAL")]))
    assert s.rq_ratio is None and s.pct_open_questions is None
    assert s.thresholds["rq_ratio"]["band"] == "n/a"
    assert s.change_talk_pct is None


def test_talk_time_share() -> None:
    s = summarise(_coded([(0, "Q_OPEN"), (1, "NEUTRAL"), (1, "CHANGE")], timed=True))
    assert s.talk_time_share == {"practitioner": pytest.approx(1 / 3, abs=1e-3),
                                 "client": pytest.approx(2 / 3, abs=1e-3)}
    assert summarise(_coded([(0, "GI")])).talk_time_share is None


def test_bands() -> None:
    assert band(None, 1, 2) == "n/a"
    assert band(0.99, 1, 2) == "below fair"
    assert band(1.0, 1, 2) == "fair"
    assert band(2.0, 1, 2) == "good"


def test_question_run_counts_once_per_volley() -> None:
    v = volley_counts(_coded([(0, "Q_CLOSED"), (0, "Q_CLOSED"), (0, "Q_CLOSED"), (1, "NEUTRAL"),
                              (2, "Q_CLOSED")]))
    assert v["Q_CLOSED"] == 2


def test_composite_scores_from_ratings() -> None:
    ratings = {"cultivating_change_talk": 3, "softening_sustain_talk": 4, "partnership": 5,
               "empathy": None}
    assert composite_scores(ratings) == {"technical": 3.5, "relational": None}
