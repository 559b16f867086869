"""Workforce dashboard: access, hand-worked aggregates, reviewed-vs-machine precedence,
small-group suppression, filters (and bad values), charts and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from mitrain.config import load_settings
from mitrain.models import (
    Course,
    Discipline,
    Drill,
    DrillAttempt,
    Module,
    QuizAttempt,
    SkillsCheck,
    User,
    UserRole,
)
from mitrain.services import review as review_svc
from mitrain.services.workforce import WorkforceFilter, parse_filter, workforce_report

from ..factories import make_team, make_user
from ..review_factories import make_recording

FROM, TO = date(2025, 1, 1), date(2025, 6, 30)
PERIOD = {"from": FROM.isoformat(), "to": TO.isoformat()}
# The trainer's recoding of review_factories.DIALOGUE (positions 2 SR->CR, 3 Q_CLOSED->Q_OPEN):
# volleys give Q_OPEN 2, CR 1 -> R:Q 0.5, %CR 100, %open 100. The machine's own codes give
# Q_OPEN 1, Q_CLOSED 1, SR 1 -> R:Q 0.5, %CR 0, %open 50. Client talk: CT 1, ST 1 -> 50%.
RECODE = {2: "CR", 3: "Q_OPEN"}
RATING = {"cultivating_change_talk": 4, "softening_sustain_talk": 3, "partnership": 4,
          "empathy": 4}  # -> Technical 3.5, Relational 4.0


def at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, tzinfo=UTC)


def review(db: Session, trainer: User, rec, *, sign: bool = True, blind_by: User | None = None):
    """The trainer's review recoding RECODE and rating RATING (signed off unless ``sign``)."""
    rv = review_svc.open_review(db, trainer, rec)
    rows = review_svc.utterance_rows(db, rv)
    for pos, code in RECODE.items():
        review_svc.set_code(db, rv, rows[pos]["id"], code)
    for name, value in RATING.items():
        review_svc.set_global(db, rv, name, value)
    if sign:
        review_svc.sign_off(db, rv)
    return rv


@pytest.fixture
def world(db: Session, people):
    """North: A, B, C (3); South: D, E (2, below the minimum). Disciplines: social work
    A, B, D; domestic abuse C, E. Plus an inactive North practitioner who never counts."""
    trainer = people[UserRole.TRAINER]
    p = {"A": people[UserRole.PRACTITIONER]}  # a social worker in team "North"
    north, south = p["A"].team, make_team(db, "South Team")
    north.name = "North Team"
    trainer.trained_teams = [north, south]
    sw, da = Discipline.SOCIAL_WORK, Discipline.DOMESTIC_ABUSE
    p.update({k: make_user(db, team=team, discipline=d, name=f"Person {k}")
              for k, team, d in (("B", north, sw), ("C", north, da), ("D", south, sw),
                                 ("E", south, da))})
    gone = make_user(db, team=north, active=False, name="Person Gone")

    course = Course(slug="mi", title="MI", pass_mark=0.8)
    m1, m2 = Module(course=course, slug="m1", title="One", position=1, quiz=[]), \
        Module(course=course, slug="m2", title="Two", position=2, quiz=[])
    db.add_all([course, m1, m2])
    db.flush()
    for who, module, score, when in (
            ("A", m1, 0.9, at(2025, 2, 1)), ("A", m2, 1.0, at(2025, 4, 1)),
            ("B", m1, 0.8, at(2025, 2, 1)), ("B", m2, 0.5, at(2025, 2, 2)),
            ("D", m1, 0.6, at(2025, 3, 1)),
            ("C", m1, 1.0, at(2025, 7, 5))):   # after the period: not counted
        db.add(QuizAttempt(user_id=p[who].id, module_id=module.id, score=score,
                           passed=score >= 0.8, answers={}, created_at=when))
    db.add(QuizAttempt(user_id=gone.id, module_id=m1.id, score=1.0, passed=True, answers={},
                       created_at=at(2025, 2, 1)))

    oq = Drill(slug="oq", discipline="social_work", client_statement="...",
               skill="open_question")
    sr = Drill(slug="sr", discipline="social_work", client_statement="...",
               skill="simple_reflection")
    db.add_all([oq, sr])
    db.flush()
    for who, drill, hit in (("A", oq, True), ("A", oq, False), ("B", oq, True),
                            ("C", oq, False), ("C", sr, False)):
        db.add(DrillAttempt(user_id=p[who].id, drill_id=drill.id, response_text="x", code="X",
                            confidence=0.9, hit=hit, coder_version="t",
                            created_at=at(2025, 3, 3)))
    for who, phase, score in (("A", "pre", 0.4), ("A", "post", 0.8), ("B", "pre", 0.5),
                              ("B", "post", 0.6), ("C", "pre", 0.3), ("D", "pre", 0.2),
                              ("D", "post", 0.5)):
        sitting = SkillsCheck(user_id=p[who].id, phase=phase, score=score,
                              created_at=at(2025, 2, 1), completed_at=at(2025, 2, 1))
        db.add(sitting)
        if who == "A" and phase == "pre":  # a skills-check answer is not a practice drill
            db.flush()
            db.add(DrillAttempt(user_id=p["A"].id, drill_id=oq.id, skills_check_id=sitting.id,
                                response_text="x", code="X", confidence=0.9, hit=True,
                                coder_version="t", created_at=at(2025, 3, 3)))
    db.commit()

    recs = {
        "A": make_recording(db, p["A"], created_at=at(2025, 3, 10)),
        "A-old": make_recording(db, p["A"], created_at=at(2024, 12, 15)),  # before the period
        "B": make_recording(db, p["B"], created_at=at(2025, 3, 12)),
        "C-old": make_recording(db, p["C"], created_at=at(2025, 3, 5)),
        "C": make_recording(db, p["C"], created_at=at(2025, 5, 2)),
    }
    review(db, trainer, recs["B"])
    review(db, trainer, recs["C-old"])
    review(db, trainer, recs["C"], sign=False)   # a draft: the machine's figures still count
    return {"people": p, "recs": recs, "trainer": trainer, "north": north, "south": south}


def _report(db: Session, min_group: int = 3, **kw):
    return workforce_report(db, WorkforceFilter(FROM, TO, **kw), min_group=min_group)


def _group(report, label: str):
    return next(g for g in report.groups if g.label == label)


def _v(group, key: str):
    return group.cells[key].value


# ------------------------------------------------------------------ access
def test_access_by_role(client, auth, people) -> None:
    for url in ("/workforce/", "/workforce/export.csv"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/auth/login" in resp.headers["Location"]
        for role, expected in ((UserRole.PRACTITIONER, 403), (UserRole.TRAINER, 403),
                               (UserRole.LEAD, 200), (UserRole.ADMIN, 200)):
            auth.login(people[role])
            assert client.get(url).status_code == expected, (role, url)
            auth.logout()


def test_lead_navigation_links_the_dashboard(client, auth, people) -> None:
    auth.login(people[UserRole.LEAD])
    page = client.get("/").get_data(as_text=True)
    assert 'href="/workforce/"' in page


# ------------------------------------------------------------------ aggregates
def _north(db: Session, world, **kw):
    """North's own figures (filtered to it, so no secondary suppression applies)."""
    return _report(db, team_id=world["north"].id, **kw).organisation


def test_course_drill_and_check_figures_by_hand(db, world) -> None:
    org, north = _report(db).organisation, _north(db, world)
    assert org.practitioners == 5 and north.practitioners == 3  # the inactive one is left out
    # Complete: A only (C's pass came after the period). Modules passed: A 2/2, B 1/2, rest 0.
    assert _v(org, "course_completed") == pytest.approx(20.0)
    assert _v(north, "course_completed") == pytest.approx(100 / 3)
    assert _v(org, "modules_passed") == pytest.approx(30.0)
    assert _v(north, "modules_passed") == pytest.approx(50.0)
    # Best quiz (mean of each one's mean best): A .95, B .65, D .6 -> 73.3%; in North only
    # two practitioners sat a quiz, so it is suppressed there.
    assert _v(org, "quiz_best") == pytest.approx(220 / 3)
    assert north.cells["quiz_best"].suppressed and _v(north, "quiz_best") is None
    # Drills (practice answers only): North 5 answers, 2 hits; open questions 4 answers, 2 hits
    # by three people; simple reflection answered by C alone -> suppressed.
    assert _v(north, "drill_accuracy") == pytest.approx(40.0)
    assert _v(north, "drill:open_question") == pytest.approx(50.0)
    assert north.cells["drill:simple_reflection"].suppressed
    assert north.cells["drill:open_question"].n == 3
    # Skills check: before A .4 B .5 C .3 -> 40%; change A +40, B +10, D +30 -> +26.7 points.
    assert _v(north, "check_pre") == pytest.approx(40.0)
    assert north.cells["check_change"].suppressed  # only A and B have both in North
    assert _v(org, "check_change") == pytest.approx(80 / 3)


def test_miti_figures_use_trainer_values_where_signed_off(db, world) -> None:
    north = _north(db, world)
    # Latest recordings: A machine, B trainer-reviewed, C machine (its review is a draft).
    assert (_v(north, "latest_reviewed"), _v(north, "latest_machine")) == (1, 2)
    # Coded in the period: A, B, C-old, C (A-old is before it); B and C-old signed off.
    assert (_v(north, "recordings"), _v(north, "recordings_reviewed")) == (4, 2)
    assert _v(north, "rq_ratio") == pytest.approx(0.5)
    assert _v(north, "pct_complex_reflections") == pytest.approx(100 / 3)
    assert _v(north, "pct_open_questions") == pytest.approx(200 / 3)
    assert _v(north, "change_talk_pct") == pytest.approx(50.0)
    machine = world["recs"]["A"].summary["globals_estimated"]
    assert _v(north, "technical") == pytest.approx((2 * machine["technical"] + 3.5) / 3)
    assert _v(north, "relational") == pytest.approx((2 * machine["relational"] + 4.0) / 3)
    assert _v(north, "empathy") == pytest.approx((2 * machine["empathy"] + 4) / 3)
    # Thresholds on the latest recording: R:Q 0.5 is below fair for all; %CR good for B only;
    # %open 50 (fair) for A and C, 100 (good) for B.
    assert _v(north, "fair:rq_ratio") == 0.0
    assert _v(north, "good:pct_complex_reflections") == pytest.approx(100 / 3)
    assert _v(north, "fair:pct_open_questions") == pytest.approx(100.0)
    assert _v(north, "good:pct_open_questions") == pytest.approx(100 / 3)


def test_reopened_or_blind_reviews_fall_back_to_the_machine(db, world) -> None:
    trainer = world["trainer"]
    rv = review_svc.open_review(db, trainer, world["recs"]["B"])
    review_svc.reopen(db, rv)
    # A second coder's blind review is never the published one, even when signed off.
    second = make_user(db, UserRole.TRAINER, name="Second")
    second.trained_teams = [world["north"]]
    db.commit()
    blind = review_svc.assign_second(db, rv, second)
    rows = review_svc.utterance_rows(db, blind)
    review_svc.set_code(db, blind, rows[2]["id"], "CR")
    for name, value in RATING.items():
        review_svc.set_global(db, blind, name, value)
    review_svc.sign_off(db, blind)
    north = _north(db, world)
    assert (_v(north, "latest_reviewed"), _v(north, "latest_machine")) == (0, 3)
    assert _v(north, "pct_complex_reflections") == 0.0
    assert _v(north, "recordings_reviewed") == 1  # C-old is still signed off


# ------------------------------------------------------------------ suppression
def test_small_groups_are_suppressed_whole(db, world) -> None:
    report = _report(db)
    south = _group(report, "South Team")
    assert south.small and all(c.suppressed and c.value is None for c in south.cells.values())
    assert _group(report, "Domestic abuse").small  # C and E
    sw = _group(report, "Social work")           # A, B, D
    assert not sw.small and sw.practitioners == 3
    # Secondary suppression: with South hidden, North's figures would give South's away by
    # subtraction from the organisation's, so they are hidden too; likewise social work.
    north = _group(report, "North Team")
    assert north.cells["recordings"].suppressed and north.cells["course_completed"].suppressed
    assert _v(report.organisation, "recordings") == 4
    assert sw.cells["course_completed"].suppressed
    # The four disciplines always show, even when empty (nothing to suppress there).
    mh = _group(report, "Mental health")
    assert mh.practitioners == 0 and not mh.small and _v(mh, "course_completed") is None


def test_minimum_is_configurable(db, world) -> None:
    assert load_settings(environ={})["WORKFORCE_MIN_GROUP"] == 3
    assert load_settings(environ={"MITRAIN_WORKFORCE_MIN_GROUP": "5"})["WORKFORCE_MIN_GROUP"] == 5
    report = _report(db, min_group=2)
    south = _group(report, "South Team")
    assert not south.small and _v(south, "course_completed") == 0.0
    assert _v(_group(report, "North Team"), "course_completed") == pytest.approx(100 / 3)
    north = _group(_report(db, min_group=4), "North Team")
    assert north.small


def test_over_time_series_suppresses_small_months(db, world) -> None:
    report = _report(db)
    assert [b.label for b in report.series] == ["Jan 25", "Feb 25", "Mar 25", "Apr 25",
                                                "May 25", "Jun 25"]
    march = report.series[2].cells
    # March: A, B and C-old recorded; latest each: A machine 0%, B trainer 100%, C-old trainer.
    assert march["pct_complex_reflections"].value == pytest.approx(200 / 3)
    assert report.series[4].cells["recordings"].suppressed  # May: C alone
    # ... and March's count with it: 4 in the period minus March's 3 would give May's away.
    assert march["recordings"].suppressed and march["recordings"].n == 3
    assert report.series[0].cells["recordings"].value == 0  # nobody, nothing to hide
    assert _report(db, min_group=1).series[2].cells["recordings"].value == 3
    # Completion as at each month's end: A completes in April.
    assert report.series[2].cells["course_completed"].value == 0.0
    assert report.series[3].cells["course_completed"].value == pytest.approx(20.0)
    quarterly = _report(db, interval="quarter").series
    assert [b.label for b in quarterly] == ["Q1 2025", "Q2 2025"]


# ------------------------------------------------------------------ filters
def test_team_and_discipline_filters(db, world) -> None:
    report = _report(db, team_id=world["north"].id)
    assert report.organisation.practitioners == 3
    assert [g.label for g in report.groups if g.kind == "team"] == ["North Team"]
    report = _report(db, discipline=Discipline.SOCIAL_WORK)
    assert report.organisation.practitioners == 3  # A, B, D
    assert [g.label for g in report.groups if g.kind == "discipline"] == ["Social work"]
    assert _v(report.organisation, "course_completed") == pytest.approx(100 / 3)


@pytest.mark.parametrize("args, message", [
    ({"team": "abc"}, "There is no team 'abc'"),
    ({"team": "99999"}, "There is no team '99999'"),
    ({"team": "123456789012345678901234567890"}, "There is no team '1234567890"),
    ({"team": "²"}, "There is no team '²'"),
    ({"to": "0001-01-05"}, "outside the years 2000–2100"),
    ({"from": "9999-12-31"}, "outside the years 2000–2100"),
    ({"discipline": "wizardry"}, "'wizardry' is not a discipline"),
    ({"from": "2025-13-01"}, "The start date '2025-13-01' is not a date"),
    ({"to": "yesterday"}, "The end date 'yesterday' is not a date"),
    ({"from": "2025-06-01", "to": "2025-01-01"}, "The start date is after the end date"),
    ({"from": "2001-01-01", "to": "2025-01-01"}, "longer than ten years"),
    ({"interval": "weekly"}, "'weekly' is not an interval"),
])
def test_bad_filter_values_get_a_clear_message(db, client, auth, people, args, message) -> None:
    today = date(2025, 7, 15)
    f, errors = parse_filter(db, args, today)
    assert len(errors) == 1 and message in errors[0]
    assert (f.team_id, f.discipline, f.interval) == (None, None, "month")
    auth.login(people[UserRole.LEAD])
    page = client.get("/workforce/", query_string=args)
    assert page.status_code == 200 and message.replace("'", "&#39;") in page.get_data(as_text=True)
    export = client.get("/workforce/export.csv", query_string=args)
    assert export.status_code == 400 and message in export.get_data(as_text=True)


def test_default_and_partial_periods(db) -> None:
    f, errors = parse_filter(db, {}, date(2025, 7, 15))
    assert not errors and (f.date_from, f.date_to) == (date(2024, 8, 1), date(2025, 7, 15))
    f, _ = parse_filter(db, {"from": "2025-03-01"}, date(2025, 7, 15))
    assert (f.date_from, f.date_to) == (date(2025, 3, 1), date(2025, 7, 15))
    f, _ = parse_filter(db, {"to": "2025-01-31"}, date(2025, 7, 15))
    assert (f.date_from, f.date_to) == (date(2024, 2, 1), date(2025, 1, 31))


# ------------------------------------------------------------------ page and CSV
def test_page_shows_figures_charts_and_suppression(client, auth, people, world) -> None:
    auth.login(people[UserRole.LEAD])
    html = client.get("/workforce/", query_string=PERIOD).get_data(as_text=True)
    assert "Whole organisation" in html and 'data-metric="course_completed">20%' in html
    assert "fewer than 3" in html and 'class="suppressed">suppressed' in html
    assert 'data-chart="recordings"' in html and "<svg" in html and "<polyline" in html
    assert "1 with a trainer" in html and "2 with the machine" in html
    # aggregates only: no practitioner names and no transcript text
    assert "Person B" not in html and "tired of people checking" not in html
    assert "style=" not in html and "<script>" not in html


def test_csv_export_matches_the_table(client, auth, people, world) -> None:
    auth.login(people[UserRole.ADMIN])
    resp = client.get("/workforce/export.csv",
                      query_string={**PERIOD, "discipline": "social_work"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "workforce-2025-01-01-to-2025-06-30.csv" in resp.headers["Content-Disposition"]
    rows = {(r["group_type"], r["group"]): r
            for r in csv.DictReader(io.StringIO(resp.get_data(as_text=True)))}
    org = rows[("organisation", "Everyone selected")]
    assert org["practitioners"] == "3" and org["course_completed"] == "33.33"
    assert org["check_change"] == "26.67" and org["period_from"] == "2025-01-01"
    north = rows[("team", "North Team")]   # A, B in social work: below the minimum
    assert north["practitioners"] == "<3" and north["course_completed"] == "suppressed"
    assert rows[("discipline", "Social work")]["rq_ratio"] == "suppressed"  # A, B recorded
    assert set(rows) >= {("team", "South Team"), ("discipline", "Social work")}
    assert not any("Person" in v for r in rows.values() for v in r.values())


def test_demo_organisation_fills_the_dashboard(app, db) -> None:
    from mitrain.services.content_sync import course_dir, sync_course_dir
    from mitrain.services.demo import create_demo_organisation
    sync_course_dir(db, course_dir(app))
    assert create_demo_organisation(db)
    today = datetime.now(UTC).date()
    report = workforce_report(db, parse_filter(db, {}, today)[0], min_group=3)
    org = report.organisation
    assert org.practitioners == 12 and not org.small
    teams = [g for g in report.groups if g.kind == "team"]
    assert len(teams) == 3 and not any(g.small for g in teams)
    for key in ("course_completed", "drill_accuracy", "check_change", "rq_ratio", "technical"):
        assert _v(org, key) is not None, key
    # Both sources appear: the demo trainer signed some recordings off, not all.
    assert _v(org, "latest_reviewed") > 0 and _v(org, "latest_machine") > 0
    shown = [b.cells["recordings"].value for b in report.series
             if not b.cells["recordings"].suppressed]
    assert sum(v or 0 for v in shown) <= _v(org, "recordings")
    assert sum(1 for v in shown if v) >= 3  # several months to draw a line through
