"""Agreement statistics against hand-worked values (no database, no models)."""

import pytest

from coding.agreement import code_agreement, cohen_kappa, confusion_matrix, icc


def test_kappa_hand_worked_two_by_two() -> None:
    # 10 items. Both "A": 4, both "B": 3, a=A/b=B: 2, a=B/b=A: 1.
    # p_o = 7/10; a: A 6, B 4; b: A 5, B 5; p_e = (6*5 + 4*5)/100 = 0.5
    # κ = (0.7 - 0.5) / (1 - 0.5) = 0.4
    a = ["A"] * 4 + ["B"] * 3 + ["A"] * 2 + ["B"]
    b = ["A"] * 4 + ["B"] * 3 + ["B"] * 2 + ["A"]
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_kappa_three_categories_hand_worked() -> None:
    # 6 utterances: SR/SR, SR/CR, CR/CR, Q_OPEN/Q_OPEN, Q_OPEN/Q_CLOSED, Q_CLOSED/Q_CLOSED
    # p_o = 4/6. a: SR 2, CR 1, Q_OPEN 2, Q_CLOSED 1; b: SR 1, CR 2, Q_OPEN 1, Q_CLOSED 2
    # p_e = (2*1 + 1*2 + 2*1 + 1*2) / 36 = 8/36; κ = (24/36 - 8/36) / (28/36) = 16/28 = 4/7
    a = ["SR", "SR", "CR", "Q_OPEN", "Q_OPEN", "Q_CLOSED"]
    b = ["SR", "CR", "CR", "Q_OPEN", "Q_CLOSED", "Q_CLOSED"]
    assert cohen_kappa(a, b) == pytest.approx(4 / 7)


def test_kappa_edge_cases() -> None:
    assert cohen_kappa([], []) is None
    assert cohen_kappa(["SR", "SR"], ["SR", "SR"]) is None  # p_e = 1: undefined, not 1
    assert cohen_kappa(["SR", "CR"], ["SR", "CR"]) == pytest.approx(1.0)
    assert cohen_kappa(["SR", "CR"], ["CR", "SR"]) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        cohen_kappa(["SR"], [])


def test_confusion_matrix_rows_are_rater_a_in_code_order() -> None:
    cm = confusion_matrix(["SR", "CR", "CR", "Q_OPEN"], ["SR", "SR", "CR", "Q_CLOSED"])
    assert cm["labels"] == ["Q_OPEN", "Q_CLOSED", "SR", "CR"]
    assert cm["matrix"] == [[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]]


def test_code_agreement_families_hand_worked() -> None:
    trainer = ["Q_OPEN", "Q_CLOSED", "SR", "CR", "GI", "CHANGE", "SUSTAIN", "NEUTRAL"]
    machine = ["Q_OPEN", "Q_OPEN", "SR", "SR", "PERSUADE", "CHANGE", "NEUTRAL", "NEUTRAL"]
    r = code_agreement(trainer, machine)
    assert r["n"] == 8
    assert r["percent_agreement"] == 50.0
    # Question family presence over the 5 practitioner utterances: both say yes for 2,
    # both say no for 3 -> κ = 1. Within: (Q_OPEN,Q_OPEN), (Q_CLOSED,Q_OPEN):
    # p_o = 1/2, p_e = (1*2 + 1*0)/4 = 1/2 -> κ = 0.
    q = r["families"]["question"]
    assert (q["kappa"], q["within_kappa"], q["n"], q["n_within"]) == (1.0, 0.0, 5, 2)
    # Reflections within: (SR,SR), (CR,SR): p_o=1/2, p_e=(1*2+1*0)/4=1/2 -> 0
    assert r["families"]["reflection"]["within_kappa"] == 0.0
    # Client: (CHANGE,CHANGE), (SUSTAIN,NEUTRAL), (NEUTRAL,NEUTRAL): p_o = 2/3,
    # a: C1 S1 N1; b: C1 N2 -> p_e = (1*1 + 1*2)/9 = 1/3; κ = (1/3)/(2/3) = 0.5
    assert r["kappa_client"] == 0.5
    assert r["families"]["client"]["kappa"] is None  # all client talk: presence says nothing
    assert r["families"]["client"]["within_kappa"] == 0.5


SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9],
                 [6, 2, 4, 7]]


def test_icc_matches_shrout_and_fleiss_table() -> None:
    # Shrout & Fleiss (1979), Table 4: ICC(2,1) = .29, ICC(3,1) = .71
    assert icc(SHROUT_FLEISS, "ICC(2,1)") == pytest.approx(0.2898, abs=1e-4)
    assert icc(SHROUT_FLEISS, "ICC(3,1)") == pytest.approx(0.7148, abs=1e-4)


def test_icc_small_hand_worked() -> None:
    # Three recordings, two trainers: (1,2), (3,3), (5,4). Grand mean 3.
    # Row means 1.5, 3, 4.5 -> SSR = 2*(2.25+0+2.25) = 9, MSR = 4.5
    # Column means 3, 3 -> SSC = 0, MSC = 0. SST = 4+1+0+0+4+1 = 10 -> SSE = 1, MSE = 0.5
    # ICC(2,1) = (4.5-0.5) / (4.5 + 0.5 + 2*(0-0.5)/3) = 4 / (5 - 1/3) = 6/7
    # ICC(3,1) = 4 / 5 = 0.8
    data = [[1, 2], [3, 3], [5, 4]]
    assert icc(data) == pytest.approx(6 / 7)
    assert icc(data, "ICC(3,1)") == pytest.approx(0.8)


def test_icc_undefined_cases() -> None:
    assert icc([[3, 3]]) is None  # one recording
    assert icc([[3, 3], [3, 3]]) is None  # no variance at all
    with pytest.raises(ValueError):
        icc([[1, 2], [3]])
