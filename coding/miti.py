"""MITI 4.2.1 summary scores from coded utterances (pure functions, no models).

Counting (documented choice): ``counts`` are raw per-utterance counts;
``counts_volley`` apply MITI's volley rules — at most one Question per volley
(practitioner turn; the volley's *last* question gives open/closed, as it is the
one the client answers) and a run of consecutive reflections in one volley
counts once (Complex if any reflection in the run is complex). All summary
scores (R:Q, %CR, %open, MI-adherent/non-adherent) use the volley counts, as a
MITI coder would; client talk has no volley rule.

Percentages are 0–100. Thresholds (MITI 4.2.1; %open from MITI 3.1.1):
%CR 40/50, R:Q 1/2, %open 50/70, Relational 3.5/4, Technical 3/4 (fair/good).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from coding.types import Code, CodedUtterance, MitiSummary, Role

THRESHOLDS: dict[str, tuple[float, float]] = {
    "rq_ratio": (1.0, 2.0),
    "pct_complex_reflections": (40.0, 50.0),
    "pct_open_questions": (50.0, 70.0),
    "relational": (3.5, 4.0),
    "technical": (3.0, 4.0),
}
_REFLECTIONS = (Code.SR, Code.CR)
_QUESTIONS = (Code.Q_OPEN, Code.Q_CLOSED)


def band(value: float | None, fair: float, good: float) -> str:
    """"good" (≥ good), "fair" (≥ fair), "below fair", or "n/a" when there is no value."""
    if value is None:
        return "n/a"
    if value >= good:
        return "good"
    if value >= fair:
        return "fair"
    return "below fair"


def raw_counts(coded: Sequence[CodedUtterance]) -> dict[str, int]:
    """Per-utterance counts of every code (all 15 present, zero-filled)."""
    out = {c.value: 0 for c in Code}
    for cu in coded:
        out[cu.code.value] += 1
    return out


def volley_counts(coded: Sequence[CodedUtterance]) -> dict[str, int]:
    """Counts under MITI's volley rules (see module docstring)."""
    out = {c.value: 0 for c in Code}
    volleys: dict[int, list[CodedUtterance]] = {}
    for cu in coded:
        volleys.setdefault(cu.utterance.turn_index, []).append(cu)
    for items in volleys.values():
        last_q: Code | None = None
        run: list[Code] = []
        # a trailing None closes the last run of reflections
        codes: list[Code | None] = [c.code for c in items] + [None]
        for code in codes:
            if code in _REFLECTIONS:
                run.append(code)
                continue
            if run:  # a run of reflections ended: count it once
                out[(Code.CR if Code.CR in run else Code.SR).value] += 1
                run = []
            if code is None:
                break
            if code in _QUESTIONS:
                last_q = code
            else:
                out[code.value] += 1
        if last_q is not None:
            out[last_q.value] += 1
    return out


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _pct(a: float, b: float) -> float | None:
    return 100.0 * a / b if b else None


def _clip(x: float) -> float:
    return round(min(5.0, max(1.0, x)), 2)


def composite_scores(globals_: Mapping[str, float | None]) -> dict[str, float | None]:
    """MITI 4.2.1 Technical = (Cultivating Change Talk + Softening Sustain Talk) / 2 and
    Relational = (Partnership + Empathy) / 2; None where a rating is missing."""
    def mean(a: str, b: str) -> float | None:
        x, y = globals_.get(a), globals_.get(b)
        return None if x is None or y is None else round((x + y) / 2, 2)
    return {"technical": mean("cultivating_change_talk", "softening_sustain_talk"),
            "relational": mean("partnership", "empathy")}


def estimate_globals(counts: dict[str, int], change_talk_pct: float | None) -> dict[str, Any]:
    """Estimates of the four MITI globals (1–5) from code rates — NOT a rating.

    Basis (a transparent heuristic, each starting from the neutral 3 and moving
    by rates of the behaviours the MITI manual names for that global; P = all
    practitioner utterances counted, rates are per practitioner utterance):

    - Cultivating Change Talk: 3 + 4·(Q_OPEN+CR)/P − 3·(Q_CLOSED+GI)/P·0.5
      + 1 if client change talk ≥ 60% of CT+ST, − 1 if ≤ 30%.
    - Softening Sustain Talk: 3 + 4·(SR+CR+EMPHASIZE)/P − 8·(CONFRONT+PERSUADE)/P
      − 1 if change talk ≤ 30%.
    - Partnership: 3 + 6·(SEEK+EMPHASIZE+PWP)/P + 2·Q_OPEN/P − 8·(CONFRONT+PERSUADE)/P
      − 2·GI/P.
    - Empathy: 2 + 5·(SR+CR)/P + 3·CR/P (reflections are the behavioural signature
      of understanding).

    Clipped to 1–5. Technical = mean of the first two, Relational = mean of the
    last two. A trainer's rating replaces all of these.
    """
    c = counts
    p = sum(c[x.value] for x in Code if x not in (Code.CHANGE, Code.NEUTRAL, Code.SUSTAIN))
    keys = ("cultivating_change_talk", "softening_sustain_talk", "partnership", "empathy")
    if p == 0:
        return {**{k: None for k in keys}, "technical": None, "relational": None,
                "estimated": True, "basis": "no practitioner utterances"}

    def r(*codes: Code) -> float:
        return sum(c[x.value] for x in codes) / p

    ct = change_talk_pct
    cct = 3 + 4 * r(Code.Q_OPEN, Code.CR) - 1.5 * r(Code.Q_CLOSED, Code.GI)
    sst = 3 + 4 * r(Code.SR, Code.CR, Code.EMPHASIZE) - 8 * r(Code.CONFRONT, Code.PERSUADE)
    if ct is not None:
        cct += 1 if ct >= 60 else (-1 if ct <= 30 else 0)
        sst += -1 if ct <= 30 else 0
    part = (3 + 6 * r(Code.SEEK, Code.EMPHASIZE, Code.PWP) + 2 * r(Code.Q_OPEN)
            - 8 * r(Code.CONFRONT, Code.PERSUADE) - 2 * r(Code.GI))
    emp = 2 + 5 * r(Code.SR, Code.CR) + 3 * r(Code.CR)
    vals = dict(zip(keys, (_clip(cct), _clip(sst), _clip(part), _clip(emp))))
    return {
        **vals,
        **composite_scores(vals),
        "estimated": True,
        "basis": "heuristic from code rates per practitioner utterance (coding.miti.estimate_globals); "
                 "a trainer's rating replaces it",
    }


def talk_time(coded: Sequence[CodedUtterance]) -> dict[str, float] | None:
    """Share of speaking time per role (0–1), or None unless every utterance has timings."""
    tot = {r.value: 0.0 for r in Role}
    for cu in coded:
        u = cu.utterance
        if u.start is None or u.end is None:
            return None
        tot[u.role.value] += max(0.0, u.end - u.start)
    s = sum(tot.values())
    if not coded or s <= 0:
        return None
    return {k: round(v / s, 4) for k, v in tot.items()}


def summarise(coded: Sequence[CodedUtterance]) -> MitiSummary:
    """MITI 4.2.1 summary of one conversation (see the module docstring for the rules)."""
    raw = raw_counts(coded)
    vc = volley_counts(coded)
    q = vc["Q_OPEN"] + vc["Q_CLOSED"]
    refl = vc["SR"] + vc["CR"]
    ct, st = raw["CHANGE"], raw["SUSTAIN"]
    change_pct = _pct(ct, ct + st)
    rq = _ratio(refl, q)
    pcr = _pct(vc["CR"], refl)
    popen = _pct(vc["Q_OPEN"], q)
    g = estimate_globals(vc, change_pct)
    values = {"rq_ratio": rq, "pct_complex_reflections": pcr, "pct_open_questions": popen,
              "relational": g["relational"], "technical": g["technical"]}
    thresholds = {
        k: {"value": None if v is None else round(v, 4), "fair": THRESHOLDS[k][0],
            "good": THRESHOLDS[k][1], "band": band(v, *THRESHOLDS[k])}
        for k, v in values.items()
    }
    return MitiSummary(
        counts=raw,
        rq_ratio=None if rq is None else round(rq, 4),
        pct_complex_reflections=None if pcr is None else round(pcr, 2),
        pct_open_questions=None if popen is None else round(popen, 2),
        mi_adherent=vc["SEEK"] + vc["AF"] + vc["EMPHASIZE"],
        mi_non_adherent=vc["CONFRONT"] + vc["PERSUADE"],
        change_talk_pct=None if change_pct is None else round(change_pct, 2),
        talk_time_share=talk_time(coded),
        globals_estimated=g,
        thresholds=thresholds,
        counts_volley=vc,
    )
