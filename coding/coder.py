"""The MITI coder: a two-level scikit-learn classifier; train, predict, save, load.

Level 1 (practitioner): question / reflection / input / other. Level 2, one
small classifier per level-1 class: open|closed, simple|complex,
GI|PERSUADE|PWP, AF|SEEK|EMPHASIZE|CONFRONT|NONE. Clients: CHANGE / NEUTRAL /
SUSTAIN. Level 1 trains on everything (AnnoMI included); level 2 trains on the
units whose full product code is known (project corpus, trainers' reviews,
AnnoMI questions/reflections/information). A level-2 head with no data falls
back to the MITI manual's default for that branch.

The whole model (features + classifier) is ONE ``sklearn.pipeline.Pipeline``
saved whole with joblib under ``<model_dir>/miti-coder/<version>/`` beside a
``meta.json`` recording library versions, labels, training data and metrics.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline

from coding.corpus import (
    CODE_LEVELS,
    LEVEL1_CLIENT,
    LEVEL1_PRACTITIONER,
    LEVELS_CODE,
    LabelledDialogue,
    LabelledUtterance,
    corpus_fingerprint,
    default_corpus_dir,
    read_corpus_paths,
    short_exchanges,
    summarise_corpus,
)
from coding.errors import InputError, ModelError
from coding.features import N_LING, N_STRUCT, UtteranceContext, build_contexts, make_features
from coding.segment import segment_turns
from coding.threads import single_threaded
from coding.types import Code, CodedUtterance, Role, Turn, Utterance

# 3: + level-1 gradient-boosted meta-learner, tuned class priors; 4: trained on short
# exchanges too (same file layout: the bump makes cached default coders retrain);
# 5: spaCy's token vectors as features, open/closed question cues, heads keep their
# weights as one matrix; 6: NB-LR client head, averaged open/closed meta-learners
FORMAT_VERSION = 6
MODEL_NAME = "miti-coder"
CURRENT_FILE = "CURRENT"
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")

# The manual's fallbacks when a level-2 decision has no trained head
# ("if simple vs complex is unclear, code Simple"; "Persuade vs GI unclear: GI").
_LEVEL2_DEFAULT = {"question": "open", "reflection": "simple", "input": "GI", "other": "NONE",
                   LEVEL1_CLIENT: "NEUTRAL"}
_LEVEL2_CLASSES = {
    "question": ("open", "closed"),
    "reflection": ("simple", "complex"),
    "input": ("GI", "PERSUADE", "PWP"),
    "other": ("AF", "SEEK", "EMPHASIZE", "CONFRONT", "NONE"),
    LEVEL1_CLIENT: ("CHANGE", "NEUTRAL", "SUSTAIN"),
}


def default_model_dir() -> Path:
    """``MITRAIN_MODEL_DIR`` if set, else ``<repo root>/models``."""
    env = os.environ.get("MITRAIN_MODEL_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "models"


# ---------------------------------------------------------------- the classifier
class _Head:
    """A logistic-regression head, or a constant when training saw one class.

    With ``nb_mix`` it is an NB-LR head (Wang & Manning 2012): each class's
    one-vs-rest model sees the sparse non-negative columns (the n-grams) scaled by
    ``nb_mix + (1 - nb_mix)·r``, r the naive-Bayes log-count ratio of the column for
    that class. The ratio is a prior on which words matter, which the penalty then
    respects: for client talk, where a few words carry the direction ("want", "stop",
    "can't be bothered") among many that do not, it added 1 point of macro-F1 on
    AnnoMI's development folds (0.509 to 0.519); it lost points on the practitioner heads.
    """

    def __init__(self, classes: Sequence[str], C: float, class_weight: str | None,
                 nb_mix: float | None = None) -> None:
        self.C = C
        self.class_weight = class_weight
        self.nb_mix = nb_mix
        self.classes_ = np.asarray(list(classes), dtype=object)
        self.model: LogisticRegression | OneVsRestClassifier | None = None
        self.constant: str | None = None

    def fit(self, X: sp.csr_matrix, y: Sequence[str] | np.ndarray) -> _Head:
        labels = sorted(set(y))
        if len(labels) == 1:
            self.constant = labels[0]
            return self
        # one-vs-rest liblinear: as accurate here as multinomial lbfgs and ~6x faster,
        # which keeps the default model's training well inside its 60 s budget
        base = LogisticRegression(C=self.C, class_weight=self.class_weight, solver="liblinear",
                                  random_state=0)
        y = np.asarray(y, dtype=object)
        if self.nb_mix is None:
            self.model = base if len(labels) == 2 else OneVsRestClassifier(base)
            self.model.fit(X, y)
            fitted = [self.model] if len(labels) == 2 else self.model.estimators_
            weights = [e.coef_.ravel() for e in fitted]
        else:
            # binary: one model for the second class, as scikit-learn does
            targets = labels[1:] if len(labels) == 2 else labels
            scales = _nb_scales(sp.csr_matrix(X), y, targets, self.nb_mix)
            fitted = [clone(base).fit(X @ sp.diags(sc), (y == c).astype(int))
                      for c, sc in zip(targets, scales)]
            weights = [e.coef_.ravel() * sc for e, sc in zip(fitted, scales)]
        # The fitted weights as one matrix: coding a transcript calls every head once,
        # and scikit-learn's input checks on each call cost more than the product itself.
        self.weights_ = np.column_stack(weights)
        self.intercepts_ = np.asarray([float(e.intercept_[0]) for e in fitted])
        self.columns_ = [list(self.classes_).index(c) for c in labels]
        return self

    def proba(self, X: sp.csr_matrix) -> np.ndarray:
        """Probabilities over ``self.classes_`` (all declared classes, zeros if unseen):
        scikit-learn's own (logistic of each decision; one-vs-rest normalised to sum 1)."""
        out = np.zeros((X.shape[0], len(self.classes_)))
        if self.constant is not None:
            out[:, list(self.classes_).index(self.constant)] = 1.0
            return out
        z = expit(np.asarray(X @ self.weights_) + self.intercepts_)
        p = np.c_[1.0 - z, z] if z.shape[1] == 1 else z / z.sum(axis=1, keepdims=True)
        out[:, self.columns_] = p
        return out


# NB-LR for the client head (see _Head): the interpolation towards plain LR, the
# smoothing added to the class sums of TF-IDF values, and the most rows a column may
# fill and still count as an n-gram. Chosen on AnnoMI's development folds: mix 0 gave
# 0.514, 0.5 gave 0.519, 0.75 gave 0.511.
_NB_MIX = 0.5
_NB_ALPHA = 1.0
_NB_MAX_DENSITY = 0.2


def _nb_scales(X: sp.csr_matrix, y: np.ndarray, targets: Sequence[str], mix: float
               ) -> list[np.ndarray]:
    """Per target class, the column scales of NB-LR (1 outside the n-gram columns:
    the dense cues and vectors keep their own scale)."""
    density = np.diff(X.tocsc().indptr) / X.shape[0]
    ngram = (X.min(axis=0).toarray().ravel() >= 0) & (density < _NB_MAX_DENSITY)
    out = []
    for c in targets:
        pos = y == c
        p = np.asarray(X[np.flatnonzero(pos)].sum(axis=0)).ravel()[ngram] + _NB_ALPHA
        q = np.asarray(X[np.flatnonzero(~pos)].sum(axis=0)).ravel()[ngram] + _NB_ALPHA
        sc = np.ones(X.shape[1])
        sc[ngram] = mix + (1.0 - mix) * np.log((p / p.sum()) / (q / q.sum()))
        out.append(sc)
    return out


_N_BASE = 7  # stage-1 probabilities per row: 4 practitioner level-1 + 3 client


def _fit_heads(X: sp.csr_matrix, is_p: np.ndarray, l1: np.ndarray, l2: np.ndarray,
               C: float, C_level2: float, C_client: float, class_weight: str | None
               ) -> dict[str, _Head]:
    heads: dict[str, _Head] = {}
    p_rows = np.flatnonzero(is_p)
    if len(p_rows):
        heads["level1"] = _Head(LEVEL1_PRACTITIONER, C, class_weight).fit(X[p_rows], l1[p_rows])
        for lv in LEVEL1_PRACTITIONER:
            rows = p_rows[(l1[p_rows] == lv) & (l2[p_rows] != "")]
            if len(rows):
                heads[lv] = _Head(_LEVEL2_CLASSES[lv], C_level2, class_weight).fit(X[rows], l2[rows])
    c_rows = np.flatnonzero(~is_p & (l2 != ""))
    if len(c_rows):
        heads[LEVEL1_CLIENT] = _Head(_LEVEL2_CLASSES[LEVEL1_CLIENT], C_client, class_weight,
                                     nb_mix=_NB_MIX).fit(X[c_rows], l2[c_rows])
    return heads


def _base_proba(heads: dict[str, _Head], X: sp.csr_matrix, is_p: np.ndarray) -> np.ndarray:
    """Stage-1 probabilities: level 1 for practitioner rows, talk type for client rows."""
    out = np.zeros((X.shape[0], _N_BASE))
    if "level1" in heads and is_p.any():
        out[is_p, :4] = heads["level1"].proba(X[np.flatnonzero(is_p)])
    if LEVEL1_CLIENT in heads and (~is_p).any():
        out[~is_p, 4:] = heads[LEVEL1_CLIENT].proba(X[np.flatnonzero(~is_p)])
    return out


def _sequence_features(P: np.ndarray, struct: np.ndarray) -> np.ndarray:
    """Conversation context from stage-1 probabilities: the previous and next utterance,
    the previous and next turn of the other speaker, and the whole conversation's mean.
    Rows are in conversation order; ``struct`` = (is-practitioner, start, turn index)."""
    n = P.shape[0]
    out = np.zeros((n, 5 * _N_BASE))
    starts = np.flatnonzero(struct[:, 1] > 0.5)
    if n and (not len(starts) or starts[0] != 0):
        starts = np.r_[0, starts]
    bounds = list(zip(starts, list(starts[1:]) + [n]))
    for a, b in bounds:
        turns = struct[a:b, 2]
        # contiguous turn runs inside this conversation
        tb = [a] + [a + i for i in range(1, b - a) if turns[i] != turns[i - 1]] + [b]
        turn_mean = [P[tb[k]:tb[k + 1]].mean(axis=0) for k in range(len(tb) - 1)]
        turn_of = np.repeat(np.arange(len(tb) - 1), np.diff(tb))
        conv_mean = P[a:b].mean(axis=0)
        for i in range(a, b):
            t = turn_of[i - a]
            if i > a:
                out[i, 0:7] = P[i - 1]
            if i + 1 < b:
                out[i, 7:14] = P[i + 1]
            if t > 0:
                out[i, 14:21] = turn_mean[t - 1]
            if t + 1 < len(turn_mean):
                out[i, 21:28] = turn_mean[t + 1]
            out[i, 28:35] = conv_mean
    return out


# Heads whose class priors are re-weighted after training (calibrated decisions):
# open|closed and client talk, where macro-F1 hinges on the minority class. Not
# simple|complex: its labels are too unreliable (AnnoMI's experts agree at kappa 0.11)
# for out-of-fold estimates to move a threshold usefully (it lost 1 point in CV).
_TUNED_HEADS = ("question", LEVEL1_CLIENT)
_BIAS_GRID = np.linspace(-1.0, 1.0, 11)  # log-prior shifts searched (e^±1 ≈ ×0.37..×2.7)
_MIN_TUNE_ROWS = 40  # fewer out-of-fold rows than this: keep the trained priors


def _macro_f1(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    """Macro-F1 over the classes present in ``y`` (integer labels 0..k-1)."""
    f = []
    for c in range(k):
        gold, hit = y == c, pred == c
        if not gold.any():
            continue
        tp = float(np.sum(gold & hit))
        f.append(2 * tp / (2 * tp + np.sum(hit & ~gold) + np.sum(gold & ~hit)))
    return float(np.mean(f)) if f else 0.0


def _tune_bias(P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Log-prior shifts (first class fixed at 0) that maximise macro-F1 of out-of-fold
    probabilities ``P`` against labels ``y``; smallest shifts win ties, zeros if unsure."""
    k = P.shape[1]
    if len(y) < _MIN_TUNE_ROWS or len(set(y.tolist())) < 2:
        return np.zeros(k)
    L = np.log(np.clip(P, 1e-9, 1.0))
    best, best_f = np.zeros(k), _macro_f1(y, L.argmax(axis=1), k)
    for shifts in sorted(itertools.product(_BIAS_GRID, repeat=k - 1), key=lambda t: sum(map(abs, t))):
        b = np.r_[0.0, shifts]
        f = _macro_f1(y, (L + b).argmax(axis=1), k)
        if f > best_f + 1e-3:  # a real gain, not noise from one row
            best, best_f = b, f
    return best


def _priors_from_oof(oof: dict[str, list[tuple[np.ndarray, np.ndarray]]], l2: np.ndarray
                     ) -> dict[str, np.ndarray]:
    """Prior shifts per head from its out-of-fold (row indices, probabilities) parts."""
    out = {}
    for lv, parts in oof.items():
        if parts:
            rows = np.concatenate([r for r, _ in parts])
            names = list(_LEVEL2_CLASSES[lv])
            y_idx = np.asarray([names.index(v) for v in l2[rows]])
            out[lv] = _tune_bias(np.vstack([q for _, q in parts]), y_idx)
    return out


def _reweight(P: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Shift class priors: p·e^b, renormalised (identity without a bias)."""
    if bias is None or not np.any(bias):
        return P
    Q = P * np.exp(bias)
    return Q / np.clip(Q.sum(axis=1, keepdims=True), 1e-12, None)


_QUESTION_META_MEMBERS = 5  # open|closed meta-learners averaged, seeds 0..4 (fixed a priori)


class _MetaEnsemble:
    """The average of several gradient-boosted meta-learners, each growing its trees on a
    random half of the cues: on a few thousand questions one model's decisions swing
    with every small change in its inputs; the average swings less."""

    def __init__(self, members: Sequence[HistGradientBoostingClassifier]) -> None:
        self.members = list(members)
        self.classes_ = self.members[0].classes_

    def predict_proba(self, D: np.ndarray) -> np.ndarray:
        return np.mean([m.predict_proba(D) for m in self.members], axis=0)


def _on_one_core(f: Callable[..., Any], *args: Any) -> Any:
    """``f(*args)`` with this thread's OpenMP on one thread."""
    with single_threaded("openmp"):
        return f(*args)


class TwoLevelClassifier(BaseEstimator, ClassifierMixin):  # type: ignore[misc]
    """Routes rows on the structure columns to level-1 / level-2 / client heads.

    ``y`` labels are ``"<level1>|<level2>"`` with level2 empty when unknown
    (e.g. ``"input|"`` for AnnoMI advice), e.g. ``"question|open"``, ``"client|CHANGE"``.

    With ``stack=True`` (sequence context) a first set of heads gives every row
    its level-1 / client-talk probabilities (out-of-fold, by conversation, during
    training); the final level-1 head sees the row's features plus those
    probabilities for its neighbours, the adjacent turns of the other speaker and
    the whole conversation — the conversation, not the single line. With
    ``meta_weight > 0`` a gradient-boosted meta-learner over those probabilities and
    the hand-made cues is blended into level 1 (probability average, weight
    ``meta_weight``): it captures interactions between MITI cues. Open|closed gets the
    same blend with an average of such meta-learners (:class:`_MetaEnsemble`), on the
    rows level 1 codes as questions (the only rows whose open|closed is read).

    With ``tune_priors`` the open|closed and client heads get class
    prior shifts chosen on the same out-of-fold probabilities (training data only) to
    maximise their macro-F1: balanced class weights equalise recall, not F1.

    ``n_jobs`` threads fit independent heads side by side (the out-of-fold folds; the
    final level-1 head and the meta-learners); the result does not depend on it.

    Decisions apply the MITI manual's tie rules with ``margin`` (probability gap
    under which a decision counts as unsure): Persuade≈GI → GI; Persuade≈PwP → PwP;
    Emphasize≈Seek → Seek; Confront when a reflection is also likely → no code;
    Complex only when P(complex) ≥ ``complex_threshold``, else Simple.
    """

    def __init__(self, C: float = 4.0, C_level2: float = 4.0, C_client: float = 2.0,
                 class_weight: str | None = "balanced", margin: float = 0.1,
                 complex_threshold: float = 0.5, stack: bool = True, stack_folds: int = 4,
                 stack_weight: float = 1.0, meta_weight: float = 0.5,
                 tune_priors: bool = True, n_jobs: int = 2) -> None:
        self.C = C
        self.C_level2 = C_level2
        self.C_client = C_client
        self.class_weight = class_weight
        self.margin = margin
        self.complex_threshold = complex_threshold
        self.stack = stack
        self.stack_folds = stack_folds
        self.stack_weight = stack_weight
        self.meta_weight = meta_weight
        self.tune_priors = tune_priors
        self.n_jobs = n_jobs

    def _split(self, X: Any) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        X = sp.csr_matrix(X)
        struct = X[:, :N_STRUCT].toarray()
        return X[:, N_STRUCT:].tocsr(), struct, struct[:, 0] > 0.5

    def _hp(self) -> tuple[float, float, float, str | None]:
        return self.C, self.C_level2, self.C_client, self.class_weight

    def fit(self, X: Any, y: Sequence[str], groups: Sequence[int] | None = None
            ) -> TwoLevelClassifier:
        """Train every head. ``groups`` (one id per row) keeps rows of one source
        together in the out-of-fold folds, e.g. a dialogue and the short exchanges cut
        from it; by default each conversation is its own group."""
        Xf, struct, is_p = self._split(X)
        l1 = np.asarray([s.split("|", 1)[0] for s in y], dtype=object)
        l2 = np.asarray([s.split("|", 1)[1] for s in y], dtype=object)
        self.meta_: HistGradientBoostingClassifier | None = None
        self.meta_question_: _MetaEnsemble | None = None
        self.bias_: dict[str, np.ndarray] = {}
        conv = np.cumsum(struct[:, 1] > 0.5) if groups is None else np.asarray(groups)
        ids = np.unique(conv)
        k = min(self.stack_folds, len(ids)) if self.stack else 0
        folds = [np.isin(conv, ids[f::k]) for f in range(k)] if k >= 2 else []
        # The heads on all rows and each fold's heads are independent: fit them side by
        # side (liblinear and the boosted trees release the GIL, so threads use every core)
        fitted = self._parallel(
            (_fit_heads, Xf[np.flatnonzero(keep)], is_p[keep], l1[keep], l2[keep], *self._hp())
            for keep in [np.ones(len(l1), dtype=bool)] + [~te for te in folds])
        self.base_heads_ = self.heads_ = fitted[0]
        self.classes_ = np.asarray([c.value for c in Code], dtype=object)
        if not self.stack:
            return self
        if folds:
            # out-of-fold probabilities, whole source dialogues per fold, so the final
            # heads learn how much to trust stage 1 on unseen conversations
            P = np.zeros((Xf.shape[0], _N_BASE))
            oof: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {lv: [] for lv in _TUNED_HEADS}
            for te, h in zip(folds, fitted[1:]):
                P[te] = _base_proba(h, Xf[np.flatnonzero(te)], is_p[te])
                for lv in _TUNED_HEADS:
                    rows = np.flatnonzero(te & (l1 == lv) & (l2 != ""))
                    if lv in h and len(rows):
                        oof[lv].append((rows, h[lv].proba(Xf[rows])))
            if self.tune_priors:
                self.bias_ = _priors_from_oof(oof, l2)
        else:
            P = _base_proba(self.base_heads_, Xf, is_p)
        S = _sequence_features(P, struct)
        X2 = self._with_sequence(Xf, S)
        D = self._dense(Xf, P, S)
        p_rows = np.flatnonzero(is_p)
        q_rows = np.flatnonzero(is_p & (l1 == "question") & (l2 != ""))
        # only level 1 gains from the sequence (measured on development folds: +0.6
        # points macro-F1); level-2 and client heads stay on the row's features
        jobs: dict[str, tuple[Any, ...]] = {}
        if len(p_rows):
            jobs["level1"] = (_Head(LEVEL1_PRACTITIONER, self.C, self.class_weight).fit,
                              X2[p_rows], l1[p_rows])
        if self.meta_weight > 0 and len(set(l1[p_rows])) > 1:
            jobs["meta"] = (self._fit_meta, D[p_rows], l1[p_rows])
        if self.meta_weight > 0 and len(set(l2[q_rows])) > 1:
            # open|closed hinges on interacting cues too: a wh-word AND "how often";
            # "do you" AND "tell me"; a question AND a yes/no reply
            jobs["question"] = (self._fit_meta_ensemble, D[q_rows], l2[q_rows])
        done = dict(zip(jobs, self._parallel(jobs.values())))
        if "level1" in done:
            self.heads_ = {**self.base_heads_, "level1": done["level1"]}
        self.meta_ = done.get("meta")
        self.meta_question_ = done.get("question")
        return self

    def _parallel(self, jobs: Iterable[tuple[Any, ...]]) -> list[Any]:
        """``[f(*args) for f, *args in jobs]``, on ``n_jobs`` threads, each on one core
        (liblinear's BLAS calls and the trees' OpenMP would otherwise add their own
        threads: training took 44 s here instead of 22)."""
        with single_threaded("blas"):
            return list(Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(_on_one_core)(f, *args) for f, *args in jobs))

    def _fit_meta(self, D: np.ndarray, y: np.ndarray, seed: int = 0,
                  max_features: float = 1.0) -> HistGradientBoostingClassifier:
        # Small trees over dense cues: the MITI rules interact (overlap with the client's
        # turn AND a you-subject AND a "yeah, exactly" reply), which a linear head cannot
        # represent. Fixed a priori, no early stopping: deterministic and fast.
        return HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=15, max_features=max_features,
            class_weight=self.class_weight, early_stopping=False, random_state=seed,
        ).fit(D, y.astype(str))

    def _fit_meta_ensemble(self, D: np.ndarray, y: np.ndarray) -> _MetaEnsemble:
        return _MetaEnsemble([self._fit_meta(D, y, seed, max_features=0.5)
                              for seed in range(_QUESTION_META_MEMBERS)])

    @staticmethod
    def _dense(Xf: sp.csr_matrix, P: np.ndarray, S: np.ndarray) -> np.ndarray:
        """Meta-learner input: the row's stage-1 probabilities, their sequence context
        ``S`` and the hand-made linguistic features (the last N_LING columns)."""
        return np.hstack([P, S, Xf[:, -N_LING:].toarray()])

    def _with_sequence(self, Xf: sp.csr_matrix, S: np.ndarray) -> sp.csr_matrix:
        return sp.hstack([Xf, sp.csr_matrix(S * self.stack_weight)], format="csr")

    def _blend(self, meta: HistGradientBoostingClassifier | _MetaEnsemble, p: np.ndarray,
               D: np.ndarray, classes: Sequence[str]) -> np.ndarray:
        """A calibrated blend of a linear head's probabilities ``p`` (over ``classes``)
        and its tree meta-learner's on the dense rows ``D``."""
        pm = np.zeros_like(p)
        pm[:, [list(classes).index(c) for c in meta.classes_]] = meta.predict_proba(D)
        return (1.0 - self.meta_weight) * p + self.meta_weight * pm

    def _level1(self, X: Any) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray | None]:
        """(row features, level-1 probabilities, is-practitioner, the meta-learners' dense
        input or None without sequence context)."""
        Xf, struct, is_p = self._split(X)
        if "level1" not in self.heads_:
            p1 = np.zeros((Xf.shape[0], 4))
            p1[:, 3] = 1.0
            return Xf, p1, is_p, None
        if not self.stack:
            return Xf, self.heads_["level1"].proba(Xf), is_p, None
        P = _base_proba(self.base_heads_, Xf, is_p)
        S = _sequence_features(P, struct)
        p1 = self.heads_["level1"].proba(self._with_sequence(Xf, S))
        D = self._dense(Xf, P, S)
        if self.meta_ is not None and is_p.any():
            # level 1 is only read on practitioner rows
            p1[is_p] = self._blend(self.meta_, p1[is_p], D[is_p], LEVEL1_PRACTITIONER)
        return Xf, p1, is_p, D

    def _level2(self, lv: str, X: sp.csr_matrix) -> np.ndarray:
        head = self.heads_.get(lv)
        classes = _LEVEL2_CLASSES[lv]
        if head is None:
            out = np.zeros((X.shape[0], len(classes)))
            out[:, classes.index(_LEVEL2_DEFAULT[lv])] = 1.0
            return out
        return _reweight(head.proba(X), self.bias_.get(lv))

    def decide(self, X: Any) -> tuple[list[Code], np.ndarray, dict[str, np.ndarray]]:
        """Codes, confidences, and the probability tables they came from."""
        Xf, p1, is_p, D = self._level1(X)
        n = Xf.shape[0]
        p2 = {lv: self._level2(lv, Xf) for lv in (*LEVEL1_PRACTITIONER, LEVEL1_CLIENT)}
        q = np.flatnonzero(is_p & (p1.argmax(axis=1) == 0))
        if self.meta_question_ is not None and D is not None and len(q):
            # open|closed matters only where level 1 chose "question"
            p2["question"][q] = self._blend(self.meta_question_, p2["question"][q], D[q],
                                            _LEVEL2_CLASSES["question"])
        codes: list[Code] = []
        conf = np.zeros(n)
        m = self.margin
        for i in range(n):
            if not is_p[i]:
                pc = p2[LEVEL1_CLIENT][i]
                k = int(np.argmax(pc))
                codes.append(LEVELS_CODE[(LEVEL1_CLIENT, _LEVEL2_CLASSES[LEVEL1_CLIENT][k])])
                conf[i] = pc[k]
                continue
            j = int(np.argmax(p1[i]))
            lv = LEVEL1_PRACTITIONER[j]
            probs = p2[lv][i]
            names = _LEVEL2_CLASSES[lv]
            pr = dict(zip(names, probs))
            sub = names[int(np.argmax(probs))]
            if lv == "reflection":
                sub = "complex" if pr["complex"] >= self.complex_threshold else "simple"
            elif lv == "input" and sub == "PERSUADE":
                if pr["PWP"] >= pr["PERSUADE"] - m:
                    sub = "PWP"
                elif pr["GI"] >= pr["PERSUADE"] - m:
                    sub = "GI"
            elif lv == "other":
                if sub == "CONFRONT" and p1[i][1] >= p1[i][3] - m:
                    sub = "NONE"
                elif sub == "EMPHASIZE" and pr["SEEK"] >= pr["EMPHASIZE"] - m:
                    sub = "SEEK"
            codes.append(LEVELS_CODE[(lv, sub)])
            conf[i] = p1[i][j] * pr[sub]
        return codes, np.clip(conf, 0.0, 1.0), {"level1": p1, **p2}

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray([c.value for c in self.decide(X)[0]], dtype=object)


def make_pipeline(**clf_params: Any) -> Pipeline:
    """A fresh, unfitted coder pipeline: features -> two-level classifier."""
    return Pipeline([("features", make_features()), ("classify", TwoLevelClassifier(**clf_params))])


# ---------------------------------------------------------------- the coder
class MitiCoder:
    """A trained coder: segments and codes transcripts; ``version`` is stored with results."""

    def __init__(self, pipeline: Pipeline, version: str, meta: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.version = version
        self.meta = meta

    def decide_contexts(self, rows: Sequence[UtteranceContext]
                        ) -> tuple[list[Code], np.ndarray, dict[str, np.ndarray]]:
        """Codes, confidences and probability tables for prepared rows."""
        if not rows:
            return [], np.zeros(0), {}
        X = self.pipeline.named_steps["features"].transform(list(rows))
        clf: TwoLevelClassifier = self.pipeline.named_steps["classify"]
        # One OpenMP thread for the tree meta-learners: on a transcript's few rows more
        # threads cost more than they save (a drill answer: 43 ms to code instead of 23)
        with single_threaded("openmp"):
            return clf.decide(X)

    def code_utterances(self, utts: Sequence[Utterance]) -> list[CodedUtterance]:
        """Code already-segmented utterances of ONE conversation, in order."""
        utts = list(utts)
        codes, conf, _ = self.decide_contexts(build_contexts(utts))
        return [CodedUtterance(u, c, float(p), self.version) for u, c, p in zip(utts, codes, conf)]

    def code_turns(self, turns: Sequence[Turn]) -> list[CodedUtterance]:
        """Segment turns into MITI utterances (spaCy) and code them."""
        return self.code_utterances(segment_turns(list(turns)))

    def __repr__(self) -> str:
        return f"MitiCoder(version={self.version!r})"


def _library_versions() -> dict[str, str]:
    import joblib
    import sklearn
    import spacy

    return {"scikit-learn": sklearn.__version__, "spacy": spacy.__version__,
            "numpy": np.__version__, "scipy": __import__("scipy").__version__,
            "joblib": joblib.__version__, "python": platform.python_version()}


def _major_minor(v: str) -> str:
    return ".".join(v.split(".")[:2])


def dialogue_rows(d: LabelledDialogue) -> tuple[list[Utterance], list[UtteranceContext], list[str]]:
    """Utterances, classifier rows and ``level1|level2`` labels of a labelled dialogue."""
    utts = [Utterance(u.role, u.text, u.turn_index, u.index_in_turn, u.start, u.end)
            for u in d.utterances]
    rows = build_contexts(utts)
    labels = [f"{u.level1}|{u.level2 or ''}" for u in d.utterances]
    return utts, rows, labels


def segment_units(units: Sequence[LabelledUtterance]) -> tuple[list[Utterance], list[int]]:
    """A labelled dialogue's units split into MITI utterances (spaCy, each unit on its
    own), numbered within the units' turns, and the unit index of each utterance."""
    segs = segment_turns([Turn(u.role, u.text) for u in units])
    counters: dict[int, int] = {}
    utts: list[Utterance] = []
    for s in segs:
        lu = units[s.turn_index]
        k = counters.get(lu.turn_index, 0)
        counters[lu.turn_index] = k + 1
        utts.append(Utterance(s.role, s.text, lu.turn_index, k, s.start, s.end))
    return utts, [s.turn_index for s in segs]


# The level-1 behaviours an AnnoMI unit contains: its main behaviour, each behaviour
# whose subtype is filled in (AnnoMI gives a subtype only where the behaviour exists),
# and "other" (greetings, fillers), which any unit may hold beside them.
_ANNOMI_SUBTYPE_FIELD = {"question": "question_subtype", "reflection": "reflection_subtype",
                         "input": "therapist_input_subtype"}


def _unit_behaviours(u: LabelledUtterance) -> set[str]:
    a = u.annomi or {}
    found = {lv for lv, f in _ANNOMI_SUBTYPE_FIELD.items() if a.get(f, "n/a") not in ("n/a", "")}
    return found | {u.level1, "other"}


def _segment_code(u: LabelledUtterance, lv: str) -> Code | None:
    """The product code of a part of unit ``u`` assigned behaviour ``lv``, if known."""
    if lv == u.level1:
        return u.code
    a = u.annomi or {}
    sub = a.get(_ANNOMI_SUBTYPE_FIELD.get(lv, ""), "n/a")
    if lv == "input":
        return Code.GI if sub == "information" else None
    return LEVELS_CODE.get((lv, sub))


def split_annomi_units(d: LabelledDialogue, coder: MitiCoder) -> LabelledDialogue:
    """An AnnoMI dialogue relabelled at the coder's own unit, the MITI utterance.

    AnnoMI labels whole turns; the coder codes sentences. Trained on whole turns and
    applied to sentences, it meets a mix it never saw ("OK. So what brings you here?").
    Each part of a practitioner unit split by spaCy gets, among the behaviours the
    unit contains (:func:`_unit_behaviours`), the one ``coder`` finds likeliest, and
    the unit's main behaviour is kept by at least one part (its likeliest). Client
    parts keep their unit's talk type: it labels the turn's stance as a whole (also
    giving neutral to parts the coder finds neutral lost 2 points of client macro-F1
    in cross-validation).
    """
    utts, unit_of = segment_units(d.utterances)
    p1 = coder.decide_contexts(build_contexts(utts))[2]["level1"]
    parts: dict[int, list[int]] = {}
    for j, ui in enumerate(unit_of):
        parts.setdefault(ui, []).append(j)
    names = list(LEVEL1_PRACTITIONER)
    out: list[LabelledUtterance] = []
    for ui, idx in sorted(parts.items()):
        u = d.utterances[ui]
        if u.role is Role.CLIENT:
            chosen = [u.level1] * len(idx)
        else:
            contains = _unit_behaviours(u)
            mask = np.asarray([n in contains for n in names])
            sub = np.where(mask, p1[idx], -1.0)
            chosen = [names[int(k)] for k in sub.argmax(axis=1)]
            if u.level1 not in chosen:
                chosen[int(np.argmax(sub[:, names.index(u.level1)]))] = u.level1
        for j, lv in zip(idx, chosen):
            s = utts[j]
            code = u.code if u.role is Role.CLIENT else _segment_code(u, lv)
            out.append(replace(u, text=s.text, level1=lv, code=code,
                               index_in_turn=s.index_in_turn, start=s.start, end=s.end))
    return LabelledDialogue(d.id, d.source, out, dict(d.meta))


def train_coder(examples: Sequence[LabelledDialogue], *, version: str | None = None,
                progress: Callable[[str], None] | None = None, exchanges: bool = True,
                split_units: bool = True, **clf_params: Any) -> MitiCoder:
    """Train a coder on labelled dialogues (utterances in their conversations).

    With ``exchanges`` every second client-turn/practitioner-turn pair of the
    project's and trainers' dialogues is added again as a dialogue of its own
    (:func:`~coding.corpus.short_exchanges`), so the coder also knows a response
    with no reply after it: a drill answer, or the end of a recording. Without
    them it read "no reply yet" as a closing remark: 37 of the shipped drills' 89
    model answers were coded as labelled (most reflections as affirmations); with
    them 71. With ``split_units`` AnnoMI's turn-sized units are first relabelled as
    MITI utterances (:func:`split_annomi_units`) by a quick unit-level coder, so
    the coder trains on the unit it codes. ``clf_params`` go to
    :class:`TwoLevelClassifier`.
    """
    t0 = time.perf_counter()
    training = list(examples)
    if split_units and any(d.source == "annomi" for d in training):
        if progress:
            progress("splitting AnnoMI units into MITI utterances")
        quick = train_coder(training, version="split", exchanges=False, split_units=False,
                            **{**clf_params, "stack": False, "tune_priors": False})
        training = [split_annomi_units(d, quick) if d.source == "annomi" else d
                    for d in training]
    rows: list[UtteranceContext] = []
    labels: list[str] = []
    groups: list[int] = []  # the source dialogue of each row, for out-of-fold stacking
    sources = list(enumerate(training))
    sources += [(g, x) for g, d in enumerate(training) if exchanges and d.source != "annomi"
                for x in short_exchanges(d)[::2]]
    for g, d in sources:
        _, r, lab = dialogue_rows(d)
        rows.extend(r)
        labels.extend(lab)
        groups.extend([g] * len(r))
    if not rows:
        raise InputError("no labelled utterances to train on")
    roles = {r.role for r in rows}
    if Role.PRACTITIONER not in roles:
        raise InputError("training data has no practitioner utterances")
    if progress:
        progress(f"training on {len(rows)} utterances from {len(examples)} dialogues")
    pipe = make_pipeline(**clf_params)
    pipe.fit(rows, labels, classify__groups=groups)
    version = version or _new_version_name()
    if not _VERSION_RE.match(version):
        raise InputError(f"bad version name {version!r}: letters, digits, '.', '_' and '-' only")
    meta = {
        "name": MODEL_NAME,
        "version": version,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "libraries": _library_versions(),
        "labels": {"practitioner": [c.value for c in Code if CODE_LEVELS[c][0] != LEVEL1_CLIENT],
                   "client": [c.value for c in Code if CODE_LEVELS[c][0] == LEVEL1_CLIENT],
                   "level1": list(LEVEL1_PRACTITIONER)},
        "heads": sorted(pipe.named_steps["classify"].heads_),
        "params": pipe.named_steps["classify"].get_params(),
        "training": summarise_corpus(examples),
        "training_seconds": round(time.perf_counter() - t0, 2),
        "metrics": None,
    }
    return MitiCoder(pipe, version, meta)


def _new_version_name(suffix: str = "") -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}{'-' + suffix if suffix else ''}"


# ---------------------------------------------------------------- storage
def _root(model_dir: Path) -> Path:
    return Path(model_dir) / MODEL_NAME


def _check_dir(model_dir: Path) -> None:
    p = Path(model_dir)
    if p.exists() and not p.is_dir():
        raise ModelError(f"model directory {p} is not a directory")
    root = _root(p)
    if root.exists() and (not root.is_dir() or not os.access(root, os.R_OK | os.X_OK)):
        raise ModelError(f"model directory {root} is not readable")


def save_coder(coder: MitiCoder, model_dir: Path, *, metrics: dict[str, Any] | None = None) -> Path:
    """Write ``model_dir/miti-coder/<version>/`` (coder.joblib + meta.json); returns that dir.

    Written to a temporary directory first and renamed, so readers never see half a model.
    """
    import joblib

    root = _root(model_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create model directory {root}: {exc.strerror}") from exc
    dest = root / coder.version
    if dest.exists():
        raise ModelError(f"model version {coder.version} already exists in {root}")
    if metrics is not None:
        coder.meta["metrics"] = metrics
    tmp = Path(tempfile.mkdtemp(prefix=f".{coder.version}-", dir=root))
    try:
        tmp.chmod(0o755)  # mkdtemp makes 0700; the web server and workers may run as other users
        joblib.dump(coder.pipeline, tmp / "coder.joblib", compress=3)
        (tmp / "meta.json").write_text(json.dumps(coder.meta, indent=2, default=str) + "\n",
                                       encoding="utf-8")
        os.replace(tmp, dest)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelError(f"cannot write model to {dest}: {exc}") from exc
    return dest


def current_version(model_dir: Path | None = None) -> str | None:
    """The version named in ``model_dir/miti-coder/CURRENT``, or None."""
    model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
    _check_dir(model_dir)
    f = _root(model_dir) / CURRENT_FILE
    try:
        v = f.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ModelError(f"cannot read {f}: {exc.strerror}") from exc
    return v or None


def set_current(model_dir: Path, version: str) -> None:
    """Point CURRENT at an existing version (promotion and rollback)."""
    root = _root(Path(model_dir))
    if not _VERSION_RE.match(version) or not (root / version / "meta.json").is_file():
        known = ", ".join(v["version"] for v in list_versions(model_dir)) or "none"
        raise ModelError(f"no coder version {version!r} in {root} (available: {known})")
    tmp = root / f".{CURRENT_FILE}.{os.getpid()}.{threading.get_ident()}"
    tmp.write_text(version + "\n", encoding="utf-8")
    os.replace(tmp, root / CURRENT_FILE)


def _read_meta(d: Path) -> dict[str, Any]:
    try:
        data = json.loads((d / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"model {d.name}: unreadable meta.json ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelError(f"model {d.name}: meta.json is not an object")
    return data


def list_versions(model_dir: Path | None = None) -> list[dict[str, Any]]:
    """Saved versions (oldest first): version, created_at, metrics, training summary, current."""
    model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
    _check_dir(model_dir)
    root = _root(model_dir)
    if not root.is_dir():
        return []
    cur = current_version(model_dir)
    out = []
    for d in sorted(root.iterdir()):
        if d.is_dir() and not d.name.startswith(".") and (d / "meta.json").is_file():
            try:
                m = _read_meta(d)
            except ModelError:
                continue
            out.append({"version": d.name, "created_at": m.get("created_at"),
                        "metrics": m.get("metrics"), "training": m.get("training"),
                        "libraries": m.get("libraries"), "current": d.name == cur})
    out.sort(key=lambda v: (str(v["created_at"]), v["version"]))
    return out


_cache: dict[tuple[str, str], MitiCoder] = {}
_cache_lock = threading.Lock()
_train_lock = threading.Lock()


def _load_version(model_dir: Path, version: str) -> MitiCoder:
    import joblib
    import sklearn

    if not _VERSION_RE.match(version):
        raise ModelError(f"bad coder version name {version!r}")
    d = _root(model_dir) / version
    if not (d / "meta.json").is_file():
        known = ", ".join(v["version"] for v in list_versions(model_dir)) or "none"
        raise ModelError(f"no coder version {version!r} in {_root(model_dir)} (available: {known})")
    meta = _read_meta(d)
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"model {version} has format version {meta.get('format_version')}; this mitrain reads "
            f"format {FORMAT_VERSION}: retrain with `mitrain coder train`"
        )
    trained = str((meta.get("libraries") or {}).get("scikit-learn", "unknown"))
    if _major_minor(trained) != _major_minor(sklearn.__version__):
        raise ModelError(
            f"model {version} was trained with scikit-learn {_major_minor(trained)}; this install "
            f"has {_major_minor(sklearn.__version__)}: retrain with `mitrain coder train`"
        )
    try:
        pipe = joblib.load(d / "coder.joblib")
    except Exception as exc:  # joblib raises many kinds for a corrupt/foreign file
        raise ModelError(f"model {version}: cannot load coder.joblib ({exc.__class__.__name__}: {exc})") from exc
    if not isinstance(pipe, Pipeline):
        raise ModelError(f"model {version}: coder.joblib does not hold a coder pipeline")
    return MitiCoder(pipe, version, meta)


def train_default(model_dir: Path, corpus_dir: Path | None = None) -> MitiCoder:
    """Train the default coder from the project corpus, save it and make it CURRENT."""
    corpus_dir = corpus_dir or default_corpus_dir()
    dialogues = read_corpus_paths([corpus_dir]) if Path(corpus_dir).is_dir() else []
    if not dialogues:
        raise ModelError(
            f"no coder model in {_root(model_dir)} and no project corpus in {corpus_dir} to "
            "train one from: run `mitrain coder train --corpus PATH --out DIR`"
        )
    coder = train_coder(dialogues, version=_new_version_name("default"))
    coder.meta["corpus_sha256"] = corpus_fingerprint(Path(corpus_dir))
    save_coder(coder, model_dir)
    set_current(model_dir, coder.version)
    return coder


def _outdated_default(meta: dict[str, Any], corpus_dir: Path | None) -> bool:
    """An automatically trained default of an older format, or trained on a corpus
    that has changed since (when the corpus is here to retrain from)."""
    if meta.get("format_version") != FORMAT_VERSION:
        return True
    now = corpus_fingerprint(Path(corpus_dir or default_corpus_dir()))
    return now is not None and meta.get("corpus_sha256") != now


def load_coder(model_dir: Path | None = None, version: str | None = None, *,
               corpus_dir: Path | None = None) -> MitiCoder:
    """Load a coder version (default: CURRENT), cached per process.

    With no model at all, trains the default from the project corpus
    (``coding/data``, or ``corpus_dir``), saves it and sets CURRENT. So does an
    automatically trained default in use that is of an older format or from an older
    corpus (after an upgrade): it is a cache of the corpus, not a trainer's choice;
    any other version of an older format is refused.
    """
    model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
    _check_dir(model_dir)
    key_dir = str(model_dir.resolve())
    if version is None:
        stale = current_version(model_dir)
        if stale and stale.endswith("-default") and _outdated_default(
                _read_meta(_root(model_dir) / stale), corpus_dir):
            with _train_lock:
                if current_version(model_dir) == stale:
                    coder = train_default(model_dir, corpus_dir)
                    with _cache_lock:
                        return _cache.setdefault((key_dir, coder.version), coder)
        version = current_version(model_dir)
        if version is None:
            existing = list_versions(model_dir)
            if existing:
                version = existing[-1]["version"]  # no pointer: the newest
    if version is not None:
        with _cache_lock:
            hit = _cache.get((key_dir, version))
        if hit is not None:
            return hit
        coder = _load_version(model_dir, version)
    else:
        with _train_lock:
            v = current_version(model_dir)
            if v is not None:
                return load_coder(model_dir, v)
            coder = train_default(model_dir, corpus_dir)
    with _cache_lock:
        return _cache.setdefault((key_dir, coder.version), coder)


def clear_cache() -> None:
    """Forget loaded coders (tests; after deleting versions)."""
    with _cache_lock:
        _cache.clear()
