"""Evaluate the coder against AnnoMI at AnnoMI's unit, and grouped cross-validation.

AnnoMI gives one label per turn-sized unit; the coder segments a unit into MITI
utterances. **Roll-up rule** (one rule, used everywhere). AnnoMI's main
behaviour is the one that carries the turn, so per unit each behaviour scores
the average of two views: its probability averaged over the unit's utterances
weighted by their length in words (what most of the turn does), and the
"any of it" view from AnnoMI's label structure (a unit is "other" only when it
holds no question, reflection or input): a behaviour's *highest* probability
in any utterance, "other"'s *lowest*. The main behaviour is the best score.
(Max/min alone let a closing "Does that make sense?" turn a long piece of
information into a question.) Its subtype (open/closed, simple/complex) comes
from the utterance with the highest probability of that behaviour. Client units:
change and sustain score their maximum, neutral its minimum.

Session metrics are per transcript: Pearson r between gold and predicted counts
of reflection units and question units, and of R:Q (transcripts with gold and
predicted Q > 0); AUC separating high from low ``mi_quality`` transcripts by the
coder's estimated global quality ((Technical + Relational) / 2, from
:func:`coding.miti.summarise` over the coded utterances). How far a macro-F1 could
move on other transcripts of the same kind is shown by resampling whole transcripts
(:func:`bootstrap_intervals`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from coding.coder import MitiCoder, segment_units
from coding.corpus import (
    CODE_LEVELS,
    LEVEL1_CLIENT,
    LEVEL1_PRACTITIONER,
    LEVEL1_TO_ANNOMI_BEHAVIOUR,
    LabelledDialogue,
)
from coding.features import build_contexts
from coding.miti import summarise
from coding.types import Code, CodedUtterance, Role, Utterance

_CLIENT = ("CHANGE", "NEUTRAL", "SUSTAIN")


def _scores(gold: list[str], pred: list[str]) -> dict[str, Any]:
    labels = sorted(set(gold) | set(pred))
    if not gold:
        return {"macro_f1": None, "accuracy": None, "per_class": {}}
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    gold_labels = sorted(set(gold))
    return {
        "macro_f1": round(float(f1_score(gold, pred, labels=gold_labels, average="macro",
                                         zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "per_class": {lab: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                            "f1": round(float(f[i]), 4), "support": int(s[i])}
                      for i, lab in enumerate(labels)},
    }


def predict_units(coder: MitiCoder, d: LabelledDialogue, *, segment: bool = True
                  ) -> tuple[list[dict[str, str]], list[CodedUtterance]]:
    """AnnoMI-style labels for each unit of a dialogue (roll-up rule above), and the
    coded utterances they came from."""
    units = d.utterances
    if segment:
        utts, unit_of = segment_units(units)
    else:
        utts = [Utterance(u.role, u.text, u.turn_index, u.index_in_turn) for u in units]
        unit_of = list(range(len(units)))
    codes, conf, probs = coder.decide_contexts(build_contexts(utts))
    coded = [CodedUtterance(u, c, float(p), coder.version) for u, c, p in zip(utts, codes, conf)]
    by_unit: dict[int, list[int]] = {}
    for j, ui in enumerate(unit_of):
        by_unit.setdefault(ui, []).append(j)
    out: list[dict[str, str]] = []
    p1 = probs["level1"]
    for ui, u in enumerate(units):
        idx = by_unit.get(ui, [])
        if not idx:
            out.append({})
            continue
        if u.role is Role.CLIENT:
            pc = probs["client"][idx]
            score = np.array([pc[:, 0].max(), pc[:, 1].min(), pc[:, 2].max()])
            out.append({"client_talk_type": _CLIENT[int(np.argmax(score))].lower()})
            continue
        sub = p1[idx]
        w = np.asarray([max(len(utts[j].text.split()), 1) for j in idx], dtype=float)
        any_of = np.array([sub[:, 0].max(), sub[:, 1].max(), sub[:, 2].max(), sub[:, 3].min()])
        score = 0.5 * (w / w.sum()) @ sub + 0.5 * any_of
        k = int(np.argmax(score))
        lv = LEVEL1_PRACTITIONER[k]
        lab = {"main_therapist_behaviour": LEVEL1_TO_ANNOMI_BEHAVIOUR[lv]}
        best = idx[int(np.argmax(sub[:, k]))]
        if lv == "question":
            lab["question_subtype"] = "open" if codes[best] is Code.Q_OPEN or (
                codes[best] is not Code.Q_CLOSED and probs["question"][best][0] >= 0.5) else "closed"
        elif lv == "reflection":
            lab["reflection_subtype"] = "complex" if codes[best] is Code.CR or (
                codes[best] is not Code.SR
                and probs["reflection"][best][1] >= coder.pipeline.named_steps["classify"].complex_threshold
            ) else "simple"
        out.append(lab)
    return out, coded


def _pearson(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return round(float(np.corrcoef(a, b)[0, 1]), 4)


TASKS = ("therapist_behaviour", "question_subtype", "reflection_subtype", "client_talk_type")


def _label_pairs(d: LabelledDialogue, units: list[dict[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """(gold, predicted) AnnoMI labels of one dialogue's units, task by task."""
    out: dict[str, list[tuple[str, str]]] = {t: [] for t in TASKS}
    for u, lab in zip(d.utterances, units):
        a = u.annomi or {}
        if u.role is Role.CLIENT:
            out["client_talk_type"].append((a.get("client_talk_type", ""),
                                            lab.get("client_talk_type", "neutral")))
            continue
        gb = a.get("main_therapist_behaviour", "")
        pb = lab.get("main_therapist_behaviour", "other")
        out["therapist_behaviour"].append((gb, pb))
        # subtypes are scored where gold AND prediction agree on the behaviour
        if gb == pb == "question" and a.get("question_subtype") in ("open", "closed"):
            out["question_subtype"].append((a["question_subtype"], lab["question_subtype"]))
        if gb == pb == "reflection" and a.get("reflection_subtype") in ("simple", "complex"):
            out["reflection_subtype"].append((a["reflection_subtype"], lab["reflection_subtype"]))
    return out


def evaluate_predictions(dialogues: Sequence[LabelledDialogue],
                         preds: Sequence[tuple[list[dict[str, str]], list[CodedUtterance]]]
                         ) -> dict[str, Any]:
    """Metrics (the documented dict) from per-dialogue unit predictions."""
    pooled: dict[str, list[tuple[str, str]]] = {t: [] for t in TASKS}
    sess: dict[str, list[float]] = {k: [] for k in ("gr", "pr", "gq", "pq", "grq", "prq")}
    auc_y: list[int] = []
    auc_s: list[float] = []
    n = 0
    for d, (units, coded) in zip(dialogues, preds):
        n += min(len(d.utterances), len(units))
        pairs = _label_pairs(d, units)
        for t in TASKS:
            pooled[t] += pairs[t]
        b = pairs["therapist_behaviour"]
        gr, pr = sum(g == "reflection" for g, _ in b), sum(p == "reflection" for _, p in b)
        gq, pq = sum(g == "question" for g, _ in b), sum(p == "question" for _, p in b)
        sess["gr"].append(gr)
        sess["pr"].append(pr)
        sess["gq"].append(gq)
        sess["pq"].append(pq)
        if gq and pq:
            sess["grq"].append(gr / gq)
            sess["prq"].append(pr / pq)
        q = d.meta.get("mi_quality")
        if q in ("high", "low"):
            s = summarise(coded).globals_estimated
            if s.get("technical") is not None:
                auc_y.append(int(q == "high"))
                auc_s.append((s["technical"] + s["relational"]) / 2)
    auc = (round(float(roc_auc_score(auc_y, auc_s)), 4) if len(set(auc_y)) == 2 else None)
    return {
        **{t: _scores(*_unzip(pooled[t])) for t in TASKS},
        "session": {
            "reflections_pearson": _pearson(sess["gr"], sess["pr"]),
            "questions_pearson": _pearson(sess["gq"], sess["pq"]),
            "rq_pearson": _pearson(sess["grq"], sess["prq"]),
            "auc_high_vs_low": auc,
        },
        "n_utterances": n,
    }


def bootstrap_intervals(dialogues: Sequence[LabelledDialogue],
                        preds: Sequence[tuple[list[dict[str, str]], list[CodedUtterance]]],
                        *, reps: int = 2000, seed: int = 0) -> dict[str, list[float]]:
    """95% percentile intervals of the four macro-F1s, resampling whole transcripts.

    Units of one transcript are not independent (one practitioner, one client, one
    topic), so the transcript is what is drawn with replacement; each draw's macro-F1
    averages the classes that occur in its gold labels, as :func:`_scores` does.
    """
    pairs = [_label_pairs(d, units) for d, (units, _) in zip(dialogues, preds)]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(pairs), size=(reps, len(pairs)))
    out: dict[str, list[float]] = {}
    for t in TASKS:
        labels = sorted({x for ps in pairs for pair in ps[t] for x in pair})
        if not labels:
            continue
        ix = {lab: i for i, lab in enumerate(labels)}
        conf = np.zeros((len(pairs), len(labels), len(labels)))
        for j, ps in enumerate(pairs):
            for g, p in ps[t]:
                conf[j, ix[g], ix[p]] += 1
        m = conf[draws].sum(axis=1)  # one confusion matrix per draw
        tp = np.diagonal(m, axis1=1, axis2=2)
        gold, pred = m.sum(axis=2), m.sum(axis=1)
        f1 = np.divide(2 * tp, gold + pred, out=np.zeros_like(tp), where=gold + pred > 0)
        present = gold > 0
        macro = (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
        out[t] = [round(float(v), 4) for v in np.percentile(macro, [2.5, 97.5])]
    return out


def code_agreement(gold: Sequence[Code], pred: Sequence[Code]) -> dict[str, Any]:
    """Agreement of predicted with gold product codes, utterance by utterance: the
    practitioner's twelve codes (with Cohen's kappa), their level 1 (question /
    reflection / input / other) and the client's talk type."""
    pairs = list(zip(gold, pred, strict=True))
    prac = [(g, p) for g, p in pairs if CODE_LEVELS[g][0] != LEVEL1_CLIENT]
    client = [(g.value, p.value) for g, p in pairs if CODE_LEVELS[g][0] == LEVEL1_CLIENT]
    codes = [(g.value, p.value) for g, p in prac]
    kappa = (round(float(cohen_kappa_score(*zip(*codes))), 4)
             if len({c for pair in codes for c in pair}) > 1 else None)
    return {
        "practitioner_code": {**_scores(*_unzip(codes)), "kappa": kappa},
        "practitioner_level1": _scores(*_unzip([(CODE_LEVELS[g][0], CODE_LEVELS[p][0])
                                                for g, p in prac])),
        "client_talk": _scores(*_unzip(client)),
        "n_utterances": len(pairs),
    }


def _unzip(pairs: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    return [g for g, _ in pairs], [p for _, p in pairs]


def evaluate_codes(coder: MitiCoder, dialogues: Sequence[LabelledDialogue]) -> dict[str, Any]:
    """Evaluate a coder on dialogues coded in the product's own codes (the project corpus
    format, one MITI utterance per line): each dialogue coded as one conversation, its
    lines as the utterances, then :func:`code_agreement`."""
    gold: list[Code] = []
    pred: list[Code] = []
    for d in dialogues:
        utts = [Utterance(u.role, u.text, u.turn_index, u.index_in_turn, u.start, u.end)
                for u in d.utterances if u.code is not None]
        gold += [u.code for u in d.utterances if u.code is not None]
        pred += [c.code for c in coder.code_utterances(utts)]
    return code_agreement(gold, pred)


def evaluate_coder(coder: MitiCoder, dialogues: Sequence[LabelledDialogue], *,
                   segment: bool = True) -> dict[str, Any]:
    """Evaluate a coder on AnnoMI dialogues at AnnoMI's unit (see module docstring)."""
    return evaluate_predictions(dialogues, [predict_units(coder, d, segment=segment)
                                            for d in dialogues])


def grouped_folds(dialogues: Sequence[LabelledDialogue], n_splits: int = 5, seed: int = 0
                  ) -> list[list[int]]:
    """Dialogue indices per fold: whole transcripts, stratified by ``mi_quality``."""
    strata: dict[str, list[int]] = {}
    for i, d in enumerate(dialogues):
        strata.setdefault(str(d.meta.get("mi_quality", "")), []).append(i)
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(n_splits)]
    k = 0
    for key in sorted(strata):
        idx = strata[key][:]
        rng.shuffle(idx)
        for i in idx:
            folds[k % n_splits].append(i)
            k += 1
    return folds


def cross_validate(dialogues: Sequence[LabelledDialogue],
                   train: Callable[[list[LabelledDialogue]], MitiCoder], *, n_splits: int = 5,
                   seed: int = 0, extra_train: Sequence[LabelledDialogue] = (),
                   segment: bool = True) -> dict[str, Any]:
    """Grouped K-fold CV by transcript: metrics on the pooled out-of-fold predictions, each
    fold's macro-F1s (``per_fold``) and transcript-bootstrap intervals (``interval_95``)."""
    folds = grouped_folds(dialogues, n_splits, seed)
    preds: list[Any] = [None] * len(dialogues)
    for f in folds:
        held = set(f)
        coder = train([d for i, d in enumerate(dialogues) if i not in held] + list(extra_train))
        for i in f:
            preds[i] = predict_units(coder, dialogues[i], segment=segment)
    out = evaluate_predictions(dialogues, preds)
    out["folds"] = n_splits
    out["per_fold"] = [{t: r[t]["macro_f1"] for t in TASKS} for r in (
        evaluate_predictions([dialogues[i] for i in f], [preds[i] for i in f]) for f in folds)]
    out["interval_95"] = bootstrap_intervals(dialogues, preds)
    return out
