"""The coder learns: export of signed-off reviews, retraining end to end (admin button ->
job), the promotion rule, rollback, the CLI. A two-dialogue corpus keeps training quick."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from coding import retrain as retrain_mod
from coding.coder import current_version, list_versions, save_coder, set_current, train_coder
from coding.corpus import read_corpus_paths, read_reviewed
from mitrain.db import get_db
from mitrain.jobs import get_queue
from mitrain.models import CoderTraining, Job, JobStatus, Recording, User, UserRole
from mitrain.services import review as svc
from mitrain.services.retraining import export_reviewed

from ..conftest import build_app
from ..factories import make_team, make_user
from ..review_factories import make_recording

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "review_corpus"
GLOBALS = {"cultivating_change_talk": 3, "softening_sustain_talk": 3, "partnership": 3,
           "empathy": 3}


@pytest.fixture
def app(tmp_path: Path):
    app = build_app(tmp_path, MODEL_DIR=str(tmp_path / "models"), CODER_CORPUS_DIR=str(CORPUS))
    yield app
    get_db(app).engine.dispose()


@pytest.fixture
def model_dir(app: Flask) -> Path:
    """A baseline coder, trained on the tiny corpus, as CURRENT."""
    d = Path(app.config["MODEL_DIR"])
    coder = train_coder(read_corpus_paths([CORPUS]), version="base")
    save_coder(coder, d)
    set_current(d, "base")
    return d


def _reviewed_world(db: Session, n: int = 4) -> tuple[User, list[Recording]]:
    team = make_team(db)
    trainer = make_user(db, UserRole.TRAINER)
    trainer.trained_teams = [team]
    db.commit()
    prac = make_user(db, UserRole.PRACTITIONER, team=team)
    recs = []
    for i in range(n):
        rec = make_recording(db, prac, title=f"reviewed {i}", coder_version="base")
        review = svc.open_review(db, trainer, rec)
        rows = svc.utterance_rows(db, review)
        svc.set_code(db, review, rows[2]["id"], "CR")
        svc.set_code(db, review, rows[5]["id"], "PERSUADE")
        for k, v in GLOBALS.items():
            svc.set_global(db, review, k, v)
        svc.sign_off(db, review)
        recs.append(rec)
    # a draft never becomes training data
    draft = make_recording(db, prac, title="draft only")
    svc.set_code(db, svc.open_review(db, trainer, draft),
                 svc.utterance_rows(db, svc.open_review(db, trainer, draft))[0]["id"], "GI")
    return trainer, recs


def test_export_is_the_plain_format_coding_reads(db, tmp_path: Path) -> None:
    _, recs = _reviewed_world(db, n=2)
    counts = export_reviewed(db, tmp_path / "reviewed.csv")
    assert counts == {"recordings": 2, "utterances": 16}
    dialogues = read_reviewed(tmp_path / "reviewed.csv")
    assert sorted(d.id for d in dialogues) == sorted(str(r.id) for r in recs)
    codes = [u.code.value for u in dialogues[0].utterances]
    assert codes == ["Q_OPEN", "SUSTAIN", "CR", "Q_CLOSED", "CHANGE", "PERSUADE", "NEUTRAL", "AF"]
    assert dialogues[0].source == "reviewed"


def test_retrain_from_admin_button_runs_as_a_job(app, client, auth, db, model_dir) -> None:
    _, recs = _reviewed_world(db)
    admin = make_user(db, UserRole.ADMIN)
    auth.login(admin)
    page = client.get("/admin/coder/").get_data(as_text=True)
    assert "base" in page and "current" in page
    resp = client.post("/admin/coder/retrain")
    assert resp.status_code == 302 and "job=" in resp.headers["Location"]
    assert get_queue(app).run_pending() >= 1
    db.expire_all()
    job = db.scalar(select(Job).where(Job.kind == "coder.retrain"))
    assert job.status is JobStatus.DONE, job.error
    run = db.scalar(select(CoderTraining))
    report = run.report
    assert report["status"] == "done" and run.baseline_version == "base"
    assert report["exported"]["recordings"] == 4
    assert report["held_out_recordings"] and set(report["held_out_recordings"]) | set(
        report["training_reviewed_recordings"]) == {str(r.id) for r in recs}
    assert not set(report["held_out_recordings"]) & set(report["training_reviewed_recordings"])
    assert report["training"]["dialogues_per_source"]["reviewed"] == len(
        report["training_reviewed_recordings"])
    cand, base = report["candidate"], report["baseline"]
    assert cand["n"] == base["n"] > 0
    # the promotion rule, as applied
    assert run.promoted == (cand["kappa"] >= base["kappa"])
    assert current_version(model_dir) == (run.candidate_version if run.promoted else "base")
    versions = {v["version"]: v for v in list_versions(model_dir)}
    assert run.candidate_version in versions
    assert versions[run.candidate_version]["metrics"]["retrain"]["held_out"] == cand
    # the job is idempotent: running the finished run again changes nothing
    from mitrain.services.retraining import retrain_settings, run_retrain
    with app.app_context():
        again = run_retrain(get_db(app).session(), run.id,
                            **retrain_settings(app.config, app.instance_path))
        assert again.candidate_version == run.candidate_version
    assert len(list_versions(model_dir)) == 2
    page = client.get("/admin/coder/").get_data(as_text=True)
    assert run.candidate_version in page and "Training reports" in page
    assert client.get(f"/admin/coder/runs/{run.id}").status_code == 200


def test_rollback_keeps_recordings_coder_version(app, client, auth, db, model_dir) -> None:
    _, _recs = _reviewed_world(db, n=2)
    newer = train_coder(read_corpus_paths([CORPUS]), version="newer")
    save_coder(newer, model_dir)
    set_current(model_dir, "newer")
    auth.login(make_user(db, UserRole.ADMIN))
    resp = client.post("/admin/coder/current", data={"version": "base"}, follow_redirects=True)
    assert "Coder base is now current" in resp.get_data(as_text=True)
    assert current_version(model_dir) == "base"
    db.expire_all()
    assert {r.coder_version for r in db.scalars(select(Recording))} == {"base", "test-v1"}
    log = db.scalar(select(CoderTraining).where(CoderTraining.candidate_version == "base"))
    assert log.report["kind"] == "rollback" and log.baseline_version == "newer"
    resp = client.post("/admin/coder/current", data={"version": "nope"}, follow_redirects=True)
    assert "no coder version &#39;nope&#39;" in resp.get_data(as_text=True)
    assert current_version(model_dir) == "base"


def test_coder_admin_is_admin_only(client, auth, db, people) -> None:
    for role in (UserRole.PRACTITIONER, UserRole.TRAINER, UserRole.LEAD):
        auth.login(people[role])
        assert client.get("/admin/coder/").status_code == 403
        assert client.post("/admin/coder/retrain").status_code == 403
        auth.logout()


def test_promotion_rule(tmp_path: Path, monkeypatch) -> None:
    project = read_corpus_paths([CORPUS])
    d = tmp_path / "models"
    save_coder(train_coder(project, version="base"), d)
    set_current(d, "base")
    reviewed = [project[0].__class__(f"r{i}", "reviewed", project[i % 2].utterances)
                for i in range(4)]
    scores = {}

    def fake_eval(coder, dialogues):
        return {"n": 10, "kappa": scores[coder.version == "base"], "accuracy": 0.5,
                "macro_f1": 0.5}

    monkeypatch.setattr(retrain_mod, "evaluate_on", fake_eval)
    scores.update({True: 0.6, False: 0.5})  # candidate worse: kept, not promoted
    r = retrain_mod.retrain(d, project=project, reviewed=reviewed, version="worse")
    assert not r["promoted"] and current_version(d) == "base" and "not promoted" in r["reason"]
    assert "worse" in {v["version"] for v in list_versions(d)}
    scores.update({True: 0.6, False: 0.6})  # equal: "not worse" -> promoted
    r = retrain_mod.retrain(d, project=project, reviewed=reviewed, version="equal")
    assert r["promoted"] and current_version(d) == "equal"
    # no reviewed recordings: nothing to compare, not promoted
    r = retrain_mod.retrain(d, project=project, reviewed=[], version="blind")
    assert not r["promoted"] and current_version(d) == "equal"


def test_holdout_is_stable_and_grouped() -> None:
    project = read_corpus_paths([CORPUS])
    ds = [project[0].__class__(str(i), "reviewed", project[0].utterances) for i in range(40)]
    train, held = retrain_mod.split_holdout(ds, 0.25)
    _train2, held2 = retrain_mod.split_holdout(list(reversed(ds)), 0.25)
    assert {d.id for d in held} == {d.id for d in held2}
    assert 4 <= len(held) <= 18 and len(train) + len(held) == 40
    assert retrain_mod.split_holdout(ds[:1], 0.25)[1] == ds[:1]  # at least one held out


def test_cli_retrain(app, db, model_dir, monkeypatch) -> None:
    _reviewed_world(db, n=2)
    from mitrain.coder_cli import retrain
    monkeypatch.setenv("MITRAIN_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("MITRAIN_MODEL_DIR", str(model_dir))
    result = CliRunner().invoke(retrain, ["--corpus", str(CORPUS)])
    assert result.exit_code == 0, result.output
    assert "candidate" in result.output and ("PROMOTED" in result.output
                                             or "not promoted" in result.output)
    db.expire_all()
    assert db.scalar(select(CoderTraining)).report["status"] == "done"
