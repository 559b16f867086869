"""Benchmark the MITI coder on AnnoMI (training part) — accuracy and speed.

    .venv/bin/python benchmarks/coder_annomi.py [PATH/TO/train.csv] [--folds 5] [--quick]

1. AnnoMI-trained coder: grouped 5-fold CV by transcript (stratified by
   mi_quality), evaluated at AnnoMI's unit with the production path (spaCy
   segmentation + the roll-up rule in coding.evaluate); also without segmentation
   (each AnnoMI unit coded as one utterance) for comparison. Each CV also gives
   per-fold macro-F1s and 95% intervals from resampling whole transcripts.
2. AnnoMI + project corpus: same CV, the project corpus added to every training fold.
3. The default model (project corpus only) evaluated on the whole AnnoMI file, and
   on the project's held-out dialogues (``coding/data/heldout``: transcript-style
   family safeguarding dialogues never trained on) code by code; the AnnoMI-trained
   coder on the same held-out dialogues (how far AnnoMI carries to this domain).
4. Throughput: utterances/s of ``MitiCoder.code_turns`` on one core after load
   (segmentation + features + classification, spaCy analysis cache cleared).
5. Default-model training time (read corpus + train).

Prints a summary and writes ``benchmarks/results/coder_annomi.json``.
"""

from __future__ import annotations

import os

# one core: set before numpy/scipy/spaCy start their thread pools
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from results_file import write_results

from coding import segment
from coding.coder import train_coder
from coding.corpus import default_corpus_dir, read_annomi, read_corpus_paths
from coding.evaluate import TASKS, cross_validate, evaluate_coder, evaluate_codes
from coding.types import Turn

TARGETS = {"therapist_behaviour": 0.78, "question_subtype": 0.80, "reflection_subtype": 0.62,
           "client_talk_type": 0.56, "reflections_pearson": 0.90, "questions_pearson": 0.90,
           "auc_high_vs_low": 0.85, "throughput": 1000.0}


def _brief(r: dict[str, Any]) -> dict[str, Any]:
    out = {k: r[k]["macro_f1"] for k in TASKS}
    out.update(r["session"])
    if "interval_95" in r:  # cross-validation: how far each figure could move on other transcripts
        out["interval_95"] = r["interval_95"]
    return out


def _brief_codes(r: dict[str, Any]) -> dict[str, Any]:
    return {"practitioner_code": r["practitioner_code"]["macro_f1"],
            "practitioner_kappa": r["practitioner_code"]["kappa"],
            "practitioner_level1": r["practitioner_level1"]["macro_f1"],
            "client_talk": r["client_talk"]["macro_f1"], "n_utterances": r["n_utterances"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("annomi", nargs="?", default=str(ROOT / ".." / "shared" / "annomi" / "train.csv"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="skip the unsegmented and combined runs")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "coder_annomi.json"))
    args = ap.parse_args()

    annomi = read_annomi(Path(args.annomi))
    project = read_corpus_paths([default_corpus_dir()])
    heldout_dir = default_corpus_dir() / "heldout"
    heldout = read_corpus_paths([heldout_dir]) if heldout_dir.is_dir() else []
    res: dict[str, Any] = {"annomi_file": str(Path(args.annomi).resolve()), "folds": args.folds,
                           "annomi_transcripts": len(annomi),
                           "annomi_units": sum(len(d.utterances) for d in annomi),
                           "project_corpus_utterances": sum(len(d.utterances) for d in project),
                           "targets": TARGETS}

    t = time.perf_counter()
    res["annomi_cv"] = cross_validate(annomi, train_coder, n_splits=args.folds)
    res["annomi_cv"]["seconds"] = round(time.perf_counter() - t, 1)
    print("AnnoMI-trained, grouped CV (segmented + roll-up):", _brief(res["annomi_cv"]), flush=True)
    if not args.quick:
        res["annomi_cv_unsegmented"] = cross_validate(annomi, train_coder, n_splits=args.folds,
                                                      segment=False)
        print("AnnoMI-trained, grouped CV (unit = one utterance):",
              _brief(res["annomi_cv_unsegmented"]), flush=True)
        if project:
            res["annomi_plus_project_cv"] = cross_validate(annomi, train_coder, n_splits=args.folds,
                                                           extra_train=project)
            print("AnnoMI + project corpus, grouped CV:", _brief(res["annomi_plus_project_cv"]),
                  flush=True)

    if project:
        t = time.perf_counter()
        default = train_coder(read_corpus_paths([default_corpus_dir()]), version="bench-default")
        res["default_training_seconds"] = round(time.perf_counter() - t, 2)
        res["default_on_annomi"] = evaluate_coder(default, annomi)
        print(f"default model trained in {res['default_training_seconds']} s; on AnnoMI:",
              _brief(res["default_on_annomi"]), flush=True)
        if heldout:
            res["default_on_heldout"] = evaluate_codes(default, heldout)
            print("default model on the held-out project dialogues:",
                  _brief_codes(res["default_on_heldout"]), flush=True)

    # throughput after load: one full AnnoMI-trained coder, cold analysis cache
    coder = train_coder(annomi, version="bench-throughput")
    if heldout:
        res["annomi_trained_on_heldout"] = evaluate_codes(coder, heldout)
        print("AnnoMI-trained coder on the held-out project dialogues:",
              _brief_codes(res["annomi_trained_on_heldout"]), flush=True)
    convs = [[Turn(u.role, u.text) for u in d.utterances] for d in annomi]
    coder.code_turns(convs[0])  # load spaCy, warm up
    with segment._cache_lock:
        segment._cache.clear()
    t = time.perf_counter()
    n = sum(len(coder.code_turns(c)) for c in convs)
    dt = time.perf_counter() - t
    res["throughput"] = {"utterances": n, "seconds": round(dt, 2),
                         "utterances_per_second": round(n / dt, 1),
                         "note": "code_turns per transcript, one core, spaCy cache cleared"}
    print(f"throughput: {n / dt:.0f} utterances/s ({n} utterances, {dt:.1f} s)")
    import sklearn
    import spacy
    res["environment"] = {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                          "spacy": spacy.__version__, "cpu_count": os.cpu_count()}
    write_results(res, args.out)


if __name__ == "__main__":
    main()
