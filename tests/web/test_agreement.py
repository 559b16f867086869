"""Agreement page and CSV: coder vs trainer, trainer vs trainer, filters and scope."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy.orm import Session

from mitrain.models import Recording, User, UserRole
from mitrain.services import review as svc
from mitrain.services.agreement import AgreementFilter, agreement_report

from ..factories import make_team, make_user
from ..review_factories import make_recording

GLOBALS = {"cultivating_change_talk": 4, "softening_sustain_talk": 3, "partnership": 4,
           "empathy": 4}


def _signed(db: Session, trainer: User, rec: Recording, recode: dict[int, str],
            globals_: dict[str, int] | None = None) -> None:
    """A signed-off review recoding utterance positions -> codes."""
    review = svc.open_review(db, trainer, rec)
    rows = svc.utterance_rows(db, review)
    for pos, code in recode.items():
        svc.set_code(db, review, rows[pos]["id"], code)
    for name, value in (globals_ or GLOBALS).items():
        svc.set_global(db, review, name, value)
    svc.sign_off(db, review)


@pytest.fixture
def world(db: Session, people):
    trainer = people[UserRole.TRAINER]
    north = people[UserRole.PRACTITIONER].team
    second = make_user(db, UserRole.TRAINER, name="Second Trainer")
    second.trained_teams = [north]
    south = make_team(db, "South")
    south_trainer = make_user(db, UserRole.TRAINER, name="South Trainer")
    south_trainer.trained_teams = [south]
    db.commit()
    r1 = make_recording(db, people[UserRole.PRACTITIONER], title="one")
    r2 = make_recording(db, people[UserRole.PRACTITIONER], title="two")
    r3 = make_recording(db, make_user(db, UserRole.PRACTITIONER, team=south), title="south")
    # DIALOGUE machine codes by position:
    # 0 Q_OPEN 1 SUSTAIN 2 SR 3 Q_CLOSED 4 CHANGE 5 GI 6 NEUTRAL 7 AF
    _signed(db, trainer, r1, {2: "CR", 5: "PERSUADE"})
    _signed(db, second, r1, {2: "CR"}, {**GLOBALS, "empathy": 3})
    _signed(db, trainer, r2, {})
    _signed(db, second, r2, {5: "PERSUADE"}, {**GLOBALS, "partnership": 5})
    _signed(db, south_trainer, r3, {0: "Q_CLOSED"})
    return {"trainer": trainer, "second": second, "south_trainer": south_trainer,
            "north": north, "south": south}


def test_coder_vs_trainer_figures(db, world) -> None:
    report = agreement_report(db, world["trainer"], AgreementFilter(trainer_id=world["trainer"].id))
    cvt = report["coder_vs_trainer"]
    # Trainer 1 over 16 utterances recoded 2 (SR->CR, GI->PERSUADE): 14/16 agree.
    assert cvt["n"] == 16 and cvt["percent_agreement"] == 87.5
    labels = cvt["confusion"]["labels"]
    m = cvt["confusion"]["matrix"]
    assert m[labels.index("CR")][labels.index("SR")] == 1  # rows trainer, columns machine
    assert m[labels.index("PERSUADE")][labels.index("GI")] == 1
    assert m[labels.index("Q_OPEN")][labels.index("Q_OPEN")] == 2
    assert cvt["kappa_client"] == 1.0
    # Practitioner pairs (10): p_o = 8/10. Trainer: Q_OPEN 2, CR 1, SR 1, Q_CLOSED 2,
    # PERSUADE 1, GI 1, AF 2; machine: Q_OPEN 2, SR 2, Q_CLOSED 2, GI 2, AF 2.
    # p_e = (4 + 0 + 2 + 4 + 0 + 2 + 4) / 100 = 0.16 -> κ = 0.64 / 0.84
    assert cvt["kappa_practitioner"] == pytest.approx(0.64 / 0.84, abs=1e-4)


def test_trainer_vs_trainer_kappa_and_icc(db, world) -> None:
    report = agreement_report(db, world["trainer"], AgreementFilter())
    tvt = report["trainer_vs_trainer"]
    assert tvt["recordings"] == 2 and tvt["n"] == 16
    # r1: trainers differ on position 5 (PERSUADE vs GI); r2: on position 5 (GI vs PERSUADE)
    assert tvt["percent_agreement"] == 87.5
    assert tvt["icc_form"] == "ICC(2,1)"
    # Empathy: r1 (4, 3), r2 (4, 4): hand-worked ICC(2,1)
    # grand 3.75; rows 3.5, 4 -> SSR = 2*(0.0625*2) = 0.25; cols 4, 3.5 -> SSC = 0.25
    # SST = 0.0625+0.5625+0.0625+0.0625 = 0.75 -> SSE = 0.25; MSR .25, MSC .25, MSE .25
    # ICC = 0 / (...) = 0
    assert tvt["icc"]["empathy"]["icc"] == 0.0 and tvt["icc"]["empathy"]["n"] == 2
    # Cultivating: both 4 on both recordings: no variance -> undefined
    assert tvt["icc"]["cultivating_change_talk"]["icc"] is None


def test_scope_and_filters(db, world) -> None:
    # A North trainer never sees South's figures, even when asking for them
    r = agreement_report(db, world["trainer"], AgreementFilter(team_id=world["south"].id))
    assert r["coder_vs_trainer"]["n"] == 0
    r = agreement_report(db, world["south_trainer"], AgreementFilter())
    assert r["coder_vs_trainer"]["reviews"] == 1
    admin = make_user(db, UserRole.ADMIN)
    r = agreement_report(db, admin, AgreementFilter())
    assert r["coder_vs_trainer"]["reviews"] == 5
    from datetime import date, timedelta
    future = date.today() + timedelta(days=2)
    assert agreement_report(db, admin, AgreementFilter(date_from=future))[
        "coder_vs_trainer"]["n"] == 0


def test_agreement_page_and_csv(client, auth, db, world) -> None:
    auth.login(world["trainer"])
    page = client.get(f"/review/agreement?trainer={world['trainer'].id}").get_data(as_text=True)
    assert "Coder vs trainer" in page and "Confusion matrix" in page and "ICC(2,1)" in page
    assert "87%" in page or "88%" in page
    resp = client.get(f"/review/agreement.csv?trainer={world['trainer'].id}")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    pa = next(r for r in rows if r["section"] == "coder_vs_trainer"
              and r["metric"] == "percent_agreement")
    assert pa["value"] == "87.5" and pa["n"] == "16"
    assert any(r["metric"] == "confusion_count" and r["row"] == "CR" and r["column"] == "SR"
               and r["value"] == "1" for r in rows)
    assert any(r["metric"] == "icc_2_1" and r["row"] == "empathy" for r in rows)
    assert client.get("/review/agreement?from=not-a-date").status_code == 200
