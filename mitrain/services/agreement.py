"""Agreement over signed-off reviews: coder vs trainer, trainer vs trainer; CSV export.

Coder vs trainer pairs every utterance of every signed-off review in the set:
the machine's code against the code the review gives (the trainer's code, or
the machine's code the trainer accepted by signing off). Trainer vs trainer
uses recordings with two signed-off reviews (the first two by sign-off time):
κ over utterances, and ICC(2,1) (two-way random, absolute agreement, single
rater) across recordings for each summary score and global rating.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from coding.agreement import code_agreement, icc
from coding.miti import summarise

from ..models import Recording, Review, ReviewStatus, Team, User, UserRole
from .review import GLOBAL_LABELS, GLOBALS, coded, review_codes, trainer_team_ids

SCORES: dict[str, str] = {
    "rq_ratio": "R:Q", "pct_complex_reflections": "% complex reflections",
    "pct_open_questions": "% open questions", "mi_adherent": "MI-adherent",
    "mi_non_adherent": "MI-non-adherent", "change_talk_pct": "% change talk",
    **GLOBAL_LABELS,
}


@dataclass
class AgreementFilter:
    trainer_id: int | None = None
    team_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None

    def as_args(self) -> dict[str, str]:
        """Query-string arguments that reproduce this filter."""
        out = {"trainer": self.trainer_id, "team": self.team_id,
               "from": self.date_from.isoformat() if self.date_from else None,
               "to": self.date_to.isoformat() if self.date_to else None}
        return {k: str(v) for k, v in out.items() if v}


def _start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def scope_team_ids(db: Session, viewer: User) -> set[int] | None:
    """Teams whose figures the viewer may see (None: all, for admins)."""
    if viewer.role is UserRole.ADMIN:
        return None
    return trainer_team_ids(viewer)


def signed_off_reviews(db: Session, viewer: User, f: AgreementFilter) -> list[Review]:
    """Signed-off reviews the viewer may see, narrowed by the filter (period = sign-off date)."""
    q = (select(Review).join(Recording, Review.recording_id == Recording.id)
         .join(User, Recording.owner_id == User.id)
         .where(Review.status == ReviewStatus.SIGNED_OFF))
    teams = scope_team_ids(db, viewer)
    if teams is not None:
        q = q.where(or_(User.team_id.in_(teams), Review.trainer_id == viewer.id))
    if f.trainer_id:
        q = q.where(Review.trainer_id == f.trainer_id)
    if f.team_id:
        q = q.where(User.team_id == f.team_id)
    if f.date_from:
        q = q.where(Review.signed_off_at >= _start(f.date_from))
    if f.date_to:
        q = q.where(Review.signed_off_at < _start(f.date_to + timedelta(days=1)))
    return list(db.scalars(q.order_by(Review.signed_off_at, Review.id)))


def _scores(db: Session, review: Review, codes: dict[int, str]) -> dict[str, float | None]:
    utts = sorted(review.recording.utterances, key=lambda u: u.position)
    s = summarise(coded(utts, codes))
    out: dict[str, float | None] = {k: getattr(s, k) for k in SCORES if k not in GLOBALS}
    for g in GLOBALS:
        v = (review.globals_rating or {}).get(g)
        out[g] = float(v) if v is not None else None
    return out


def agreement_report(db: Session, viewer: User, f: AgreementFilter) -> dict[str, Any]:
    """Coder-vs-trainer and trainer-vs-trainer figures for the filtered set."""
    reviews = signed_off_reviews(db, viewer, f)
    machine: list[str] = []
    trainer: list[str] = []
    codes_by_review: dict[int, dict[int, str]] = {}
    for r in reviews:
        codes = review_codes(db, r)
        codes_by_review[r.id] = codes
        for u in r.recording.utterances:
            if u.id in codes:
                machine.append(u.code)
                trainer.append(codes[u.id])
    # Rows of the confusion matrix are the trainer (the reference), columns the machine.
    cvt = code_agreement(trainer, machine)
    cvt["reviews"] = len(reviews)
    cvt["recordings"] = len({r.recording_id for r in reviews})

    # Trainer vs trainer: every signed-off review of the recordings in the set counts.
    rec_ids = sorted({r.recording_id for r in reviews})
    pairs: list[tuple[Review, Review]] = []
    if rec_ids:
        all_signed: dict[int, list[Review]] = {}
        for r in db.scalars(select(Review).where(Review.recording_id.in_(rec_ids),
                                                 Review.status == ReviewStatus.SIGNED_OFF)
                            .order_by(Review.signed_off_at, Review.id)):
            all_signed.setdefault(r.recording_id, []).append(r)
        pairs = [(rs[0], rs[1]) for rs in all_signed.values() if len(rs) >= 2]
    a_codes: list[str] = []
    b_codes: list[str] = []
    score_rows: dict[str, list[list[float]]] = {k: [] for k in SCORES}
    for r1, r2 in pairs:
        c1 = codes_by_review.get(r1.id) or review_codes(db, r1)
        c2 = codes_by_review.get(r2.id) or review_codes(db, r2)
        for uid in c1:
            if uid in c2:
                a_codes.append(c1[uid])
                b_codes.append(c2[uid])
        s1, s2 = _scores(db, r1, c1), _scores(db, r2, c2)
        for k in SCORES:
            if s1[k] is not None and s2[k] is not None:
                score_rows[k].append([float(s1[k]), float(s2[k])])  # type: ignore[arg-type]
    tvt: dict[str, Any] = {"recordings": len(pairs)}
    tvt.update(code_agreement(a_codes, b_codes))
    tvt["icc_form"] = "ICC(2,1)"
    tvt["icc"] = {k: {"label": SCORES[k], "n": len(rows),
                      "icc": None if (v := icc(rows)) is None else round(v, 4)}
                  for k, rows in score_rows.items()}
    return {"coder_vs_trainer": cvt, "trainer_vs_trainer": tvt, "filter": f}


def filter_choices(db: Session, viewer: User) -> dict[str, list[Any]]:
    """Teams and trainers the viewer can filter by."""
    teams = scope_team_ids(db, viewer)
    team_q = select(Team).order_by(Team.name)
    if teams is not None:
        team_q = team_q.where(Team.id.in_(teams))
    team_list = list(db.scalars(team_q))
    trainers: dict[int, User] = {}
    for t in team_list:
        for tr in t.trainers:
            trainers[tr.id] = tr
    if viewer.role is UserRole.TRAINER:
        trainers[viewer.id] = viewer
    return {"teams": team_list, "trainers": sorted(trainers.values(), key=lambda u: u.name)}


def agreement_csv(report: dict[str, Any]) -> str:
    """The figures in long format: section, metric, row, column, value, n."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "metric", "row", "column", "value", "n"])
    for section in ("coder_vs_trainer", "trainer_vs_trainer"):
        s = report[section]
        for metric in ("kappa", "kappa_practitioner", "kappa_client", "percent_agreement"):
            w.writerow([section, metric, "", "", _v(s[metric]), s["n"]])
        for fam, v in s["families"].items():
            w.writerow([section, "family_kappa", fam, "", _v(v["kappa"]), v["n"]])
            w.writerow([section, "family_within_kappa", fam, "", _v(v["within_kappa"]),
                        v["n_within"]])
        labels = s["confusion"]["labels"]
        for i, row in enumerate(s["confusion"]["matrix"]):
            for j, count in enumerate(row):
                w.writerow([section, "confusion_count", labels[i], labels[j], count, ""])
    for k, v in report["trainer_vs_trainer"]["icc"].items():
        w.writerow(["trainer_vs_trainer", "icc_2_1", k, "", _v(v["icc"]), v["n"]])
    return out.getvalue()


def _v(x: Any) -> str:
    return "" if x is None else str(x)
