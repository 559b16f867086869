"""The coder learns from trainers: export reviewed recordings, retrain, promote, roll back.

Signed-off reviews are written to a plain CSV (the format
:func:`coding.corpus.read_reviewed` reads: ``recording_id,utterance_index,
speaker,text,code``), so the coding package never touches the database.
Each run is a :class:`CoderTraining` row whose ``report`` carries its status
(queued / running / done / failed) and the evaluation. Recordings keep the
``coder_version`` that coded them; promotion and rollback only move CURRENT.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coding.errors import CodingError

from ..models import CoderTraining, Recording, Review, ReviewStatus, User, utcnow
from . import ServiceError
from .review import _primary, review_codes

REVIEWED_HEADER = ("recording_id", "utterance_index", "speaker", "text", "code")


def training_review(reviews: list[Review]) -> Review | None:
    """The review whose codes train the coder: the published one, else the first signed off."""
    primary = _primary(reviews)
    if primary is not None:
        return primary
    signed = sorted((r for r in reviews if r.status is ReviewStatus.SIGNED_OFF),
                    key=lambda r: r.signed_off_at or r.updated_at)
    return signed[0] if signed else None


def export_reviewed(db: Session, path: Path) -> dict[str, int]:
    """Write every signed-off recording's codes to ``path``; returns recording/utterance counts."""
    rec_ids = list(db.scalars(select(Review.recording_id).where(
        Review.status == ReviewStatus.SIGNED_OFF).distinct().order_by(Review.recording_id)))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    recordings = utterances = 0
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(REVIEWED_HEADER)
        for rid in rec_ids:
            rec = db.get(Recording, rid)
            if rec is None:
                continue
            review = training_review(list(rec.reviews))
            if review is None:
                continue
            codes = review_codes(db, review)
            rows = [u for u in sorted(rec.utterances, key=lambda u: u.position) if u.text.strip()]
            for i, u in enumerate(rows):
                w.writerow([rec.id, i, u.speaker, u.text.strip(), codes[u.id]])
            recordings += 1
            utterances += len(rows)
    tmp.replace(path)
    return {"recordings": recordings, "utterances": utterances}


def retrain_settings(config: Mapping[str, Any], instance_path: str | Path) -> dict[str, Any]:
    """Paths a retraining run needs, from the app config (AnnoMI and corpus are optional)."""
    return {
        "model_dir": Path(config["MODEL_DIR"]),
        "work_dir": Path(instance_path),
        "corpus_dir": Path(config["CODER_CORPUS_DIR"]) if config.get("CODER_CORPUS_DIR") else None,
        "annomi_csv": Path(config["ANNOMI_CSV"]) if config.get("ANNOMI_CSV") else None,
    }


def request_retrain(db: Session, user: User | None) -> CoderTraining:
    """Record a queued retraining run (the caller queues or runs it)."""
    run = CoderTraining(requested_by=user.id if user else None,
                        report={"status": "queued", "requested_at": utcnow().isoformat()})
    db.add(run)
    db.commit()
    return run


def run_retrain(db: Session, training_id: int, *, model_dir: Path, work_dir: Path,
                corpus_dir: Path | None = None, annomi_csv: Path | None = None,
                holdout: float | None = None,
                progress: Callable[[str, int], None] | None = None) -> CoderTraining:
    """Run one retraining (safe to run twice: a finished run is left as it is)."""
    from coding.corpus import default_corpus_dir, read_annomi, read_corpus_paths, read_reviewed
    from coding.retrain import DEFAULT_HOLDOUT, retrain

    run = db.get(CoderTraining, training_id)
    if run is None:
        raise ServiceError(f"There is no retraining run {training_id}.")
    if (run.report or {}).get("status") == "done":
        return run
    run.report = {**(run.report or {}), "status": "running", "started_at": utcnow().isoformat()}
    db.commit()
    try:
        export = work_dir / "training" / f"reviewed-{training_id}.csv"
        counts = export_reviewed(db, export)
        reviewed = read_reviewed(export) if counts["recordings"] else []
        corpus = corpus_dir or default_corpus_dir()
        project = read_corpus_paths([corpus]) if Path(corpus).exists() else []
        annomi = read_annomi(annomi_csv) if annomi_csv else []
        report = retrain(model_dir, project=project, reviewed=reviewed, annomi=annomi,
                         holdout=holdout or DEFAULT_HOLDOUT, progress=progress)
    except CodingError as exc:
        _fail(db, run, str(exc))
        raise ServiceError(f"Retraining failed: {exc}") from exc
    except Exception as exc:
        _fail(db, run, f"{type(exc).__name__}: {exc}")
        raise
    run.candidate_version = report["candidate_version"]
    run.baseline_version = report["baseline_version"]
    run.promoted = report["promoted"]
    run.report = {**run.report, **report, "status": "done", "export": str(export),
                  "exported": counts, "finished_at": utcnow().isoformat(),
                  "annomi": str(annomi_csv) if annomi_csv else None}
    db.commit()
    return run


def _fail(db: Session, run: CoderTraining, message: str) -> None:
    db.rollback()
    run.report = {**(run.report or {}), "status": "failed", "error": message,
                  "finished_at": utcnow().isoformat()}
    db.commit()


def rollback(db: Session, model_dir: Path, version: str, user: User | None) -> CoderTraining:
    """Make an earlier (or any saved) version CURRENT again; recorded with the runs."""
    from coding.coder import current_version, set_current
    from coding.errors import ModelError

    previous = current_version(model_dir)
    try:
        set_current(model_dir, version)
    except ModelError as exc:
        raise ServiceError(str(exc)) from exc
    run = CoderTraining(requested_by=user.id if user else None, candidate_version=version,
                        baseline_version=previous, promoted=True,
                        report={"status": "done", "kind": "rollback",
                                "reason": f"{user.name if user else 'CLI'} made {version} "
                                          f"current (was {previous or 'none'})",
                                "finished_at": utcnow().isoformat()})
    db.add(run)
    db.commit()
    return run


def model_versions(db: Session, model_dir: Path) -> list[dict[str, Any]]:
    """Saved coder versions, newest first, with metrics, training data and recordings coded."""
    from coding.coder import list_versions

    coded = dict(db.execute(select(Recording.coder_version, func.count(Recording.id))
                            .group_by(Recording.coder_version)).all())
    out = []
    for v in reversed(list_versions(model_dir)):
        out.append({**v, "recordings_coded": int(coded.get(v["version"], 0))})
    return out


def training_runs(db: Session, limit: int = 30) -> list[CoderTraining]:
    """The latest retraining runs and rollbacks."""
    return list(db.scalars(select(CoderTraining).order_by(CoderTraining.id.desc()).limit(limit)))
