"""Retrain the coder from trainers' reviews; promote the candidate only if it is not worse.

Plain data in, a report dict out (no database, no web):

1. Reviewed recordings are split by recording into a training part and a
   held-out slice. The split is a stable hash of the recording id, so a
   recording held out once stays held out as data grows and is never trained on
   — otherwise the current coder (trained earlier) could have seen it.
2. A candidate is trained on project corpus + reviewed (training part) +
   AnnoMI (when given) and saved under ``model_dir``.
3. Candidate and current coder code the held-out utterances as segmented by
   the trainers (no re-segmentation); each is scored against the trainers'
   codes: Cohen's κ over product codes (the primary metric, the same figure
   trainers see on the agreement page), accuracy and macro-F1.
4. Promotion rule: the candidate becomes CURRENT when there is no current
   coder, or when its κ on the held-out slice is ≥ the current coder's
   ("not worse"). With no held-out recordings nothing can be compared, so the
   candidate is kept but not promoted. The report says which rule decided.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sklearn.metrics import f1_score

from coding.agreement import cohen_kappa
from coding.coder import (
    MitiCoder,
    current_version,
    list_versions,
    load_coder,
    save_coder,
    set_current,
    train_coder,
)
from coding.corpus import LabelledDialogue, summarise_corpus
from coding.types import Utterance

DEFAULT_HOLDOUT = 0.25


def _bucket(dialogue_id: str) -> float:
    """A stable number in [0, 1) for a recording id (same on every machine and run)."""
    h = hashlib.sha256(f"mitrain-holdout:{dialogue_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def split_holdout(reviewed: Sequence[LabelledDialogue], fraction: float = DEFAULT_HOLDOUT
                  ) -> tuple[list[LabelledDialogue], list[LabelledDialogue]]:
    """(train, held_out) grouped by recording; at least one held out when there are any."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("the held-out fraction must be between 0 and 1")
    ranked = sorted(reviewed, key=lambda d: _bucket(d.id))
    held = [d for d in ranked if _bucket(d.id) < fraction]
    if not held and ranked:
        held = ranked[:1]
    held_ids = {d.id for d in held}
    return [d for d in reviewed if d.id not in held_ids], held


def evaluate_on(coder: MitiCoder, dialogues: Sequence[LabelledDialogue]) -> dict[str, Any]:
    """Score a coder against the gold codes of labelled dialogues (as segmented)."""
    gold: list[str] = []
    pred: list[str] = []
    for d in dialogues:
        units = [u for u in d.utterances if u.code is not None]
        utts = [Utterance(u.role, u.text, u.turn_index, u.index_in_turn, u.start, u.end)
                for u in units]
        coded = coder.code_utterances(utts)
        gold.extend(u.code.value for u in units if u.code is not None)
        pred.extend(c.code.value for c in coded)
    if not gold:
        return {"n": 0, "kappa": None, "accuracy": None, "macro_f1": None}
    kappa = cohen_kappa(gold, pred)
    return {
        "n": len(gold),
        "kappa": None if kappa is None else round(kappa, 4),
        "accuracy": round(sum(g == p for g, p in zip(gold, pred)) / len(gold), 4),
        "macro_f1": round(float(f1_score(gold, pred, labels=sorted(set(gold)), average="macro",
                                         zero_division=0)), 4),
    }


def _score(metrics: dict[str, Any] | None) -> float | None:
    if not metrics:
        return None
    return metrics["kappa"] if metrics.get("kappa") is not None else metrics.get("accuracy")


def _version_name(model_dir: Path) -> str:
    base = datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + "-retrain"
    taken = {v["version"] for v in list_versions(model_dir)}
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}{k}"
    return name


def retrain(model_dir: Path, *, project: Sequence[LabelledDialogue],
            reviewed: Sequence[LabelledDialogue], annomi: Sequence[LabelledDialogue] = (),
            holdout: float = DEFAULT_HOLDOUT, version: str | None = None,
            progress: Callable[[str, int], None] | None = None) -> dict[str, Any]:
    """Train, evaluate and maybe promote a candidate coder; returns the report (see module doc)."""
    model_dir = Path(model_dir)

    def step(stage: str, pct: int) -> None:
        if progress:
            progress(stage, pct)

    train_reviewed, held = split_holdout(reviewed, holdout)
    training = list(project) + train_reviewed + list(annomi)
    step("training candidate", 10)
    candidate = train_coder(training, version=version or _version_name(model_dir))
    baseline_version = current_version(model_dir)
    if baseline_version is None and list_versions(model_dir):
        baseline_version = list_versions(model_dir)[-1]["version"]
    step("evaluating", 60)
    cand_metrics = evaluate_on(candidate, held) if held else None
    base_metrics = None
    if baseline_version is not None and held:
        base_metrics = evaluate_on(load_coder(model_dir, baseline_version), held)
    cand_score, base_score = _score(cand_metrics), _score(base_metrics)
    if baseline_version is None:
        promoted, reason = True, "no current coder: the candidate becomes current"
    elif not held:
        promoted, reason = False, ("no signed-off reviewed recordings to hold out: the candidate "
                                   "cannot be compared, so it was kept but not promoted")
    elif cand_score is None or base_score is None:
        promoted, reason = False, "held-out scores are undefined: not promoted"
    elif cand_score >= base_score:
        promoted, reason = True, (f"candidate κ {cand_score:.3f} ≥ current κ {base_score:.3f} "
                                  "on the held-out recordings: promoted")
    else:
        promoted, reason = False, (f"candidate κ {cand_score:.3f} < current κ {base_score:.3f} "
                                   "on the held-out recordings: not promoted")
    step("saving", 85)
    evaluation = {"held_out": cand_metrics, "baseline": baseline_version,
                  "baseline_held_out": base_metrics,
                  "held_out_recordings": [d.id for d in held]}
    save_coder(candidate, model_dir, metrics={"retrain": evaluation})
    if promoted:
        set_current(model_dir, candidate.version)
    step("done", 100)
    return {
        "candidate_version": candidate.version,
        "baseline_version": baseline_version,
        "promoted": promoted,
        "reason": reason,
        "rule": "promote when κ(candidate) ≥ κ(current) on held-out reviewed recordings",
        "candidate": cand_metrics,
        "baseline": base_metrics,
        "held_out_recordings": [d.id for d in held],
        "training": summarise_corpus(training),
        "training_reviewed_recordings": [d.id for d in train_reviewed],
        "holdout_fraction": holdout,
    }
