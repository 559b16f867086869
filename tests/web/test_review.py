"""Trainer review: access, every recode operation and its audit trail, autosave, sign-off,
bad input (invalid codes, missing globals, concurrent edits), export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from mitrain.models import (
    Recording,
    Review,
    ReviewEvent,
    ReviewStatus,
    User,
    UserRole,
    Utterance,
    utcnow,
)
from mitrain.services import review as svc

from ..factories import make_team, make_user
from ..review_factories import make_recording

GLOBALS_ALL = {"cultivating_change_talk": 4, "softening_sustain_talk": 3, "partnership": 4,
               "empathy": 5}


@pytest.fixture
def setup(db, people):
    """North (the people fixture's team) with a coded recording; South with one too."""
    trainer = people[UserRole.TRAINER]
    prac = people[UserRole.PRACTITIONER]
    south = make_team(db, "South")
    other_prac = make_user(db, UserRole.PRACTITIONER, team=south, name="Sam South")
    rec = make_recording(db, prac, title="Tyler school visit")
    other = make_recording(db, other_prac, title="Southern role-play")
    return {"trainer": trainer, "prac": prac, "rec": rec, "other": other, "north": prac.team,
            "south": south}


def _review(db, rec: Recording, trainer: User) -> Review:
    return db.scalar(select(Review).where(Review.recording_id == rec.id,
                                          Review.trainer_id == trainer.id))


def _utts(db, rec: Recording) -> list[Utterance]:
    db.expire_all()
    return list(db.scalars(select(Utterance).where(Utterance.recording_id == rec.id)
                           .order_by(Utterance.position)))


def _events(db, **where) -> list[ReviewEvent]:
    db.expire_all()
    q = select(ReviewEvent).order_by(ReviewEvent.id)
    for k, v in where.items():
        q = q.where(getattr(ReviewEvent, k) == v)
    return list(db.scalars(q))


def _open(client, auth, db, trainer, rec) -> Review:
    auth.login(trainer)
    assert client.get(f"/review/recordings/{rec.id}").status_code == 200
    return _review(db, rec, trainer)


def _op(client, review: Review, utt_id: int, op: str, **body):
    return client.post(f"/review/reviews/{review.id}/utterances/{utt_id}/{op}", json=body)


# ------------------------------------------------------------------ access
def test_trainer_sees_only_their_teams_recordings(client, auth, db, setup) -> None:
    auth.login(setup["trainer"])
    page = client.get("/review/").get_data(as_text=True)
    assert "Tyler school visit" in page and "Southern role-play" not in page
    assert client.get(f"/review/recordings/{setup['other'].id}").status_code == 403
    assert client.get(f"/review/recordings/{setup['other'].id}/coding.csv").status_code == 403
    assert client.get(f"/review/recordings/{setup['rec'].id}").status_code == 200


def test_other_roles_cannot_open_the_workspace(client, auth, db, people, setup) -> None:
    for role in (UserRole.PRACTITIONER, UserRole.LEAD, UserRole.ADMIN):
        auth.login(people[role])
        assert client.get(f"/review/recordings/{setup['rec'].id}").status_code == 403
        auth.logout()


def test_a_trainer_cannot_change_another_trainers_review(client, auth, db, setup) -> None:
    review = _open(client, auth, db, setup["trainer"], setup["rec"])
    auth.logout()
    other = make_user(db, UserRole.TRAINER)
    other.trained_teams = [setup["north"]]
    db.commit()
    auth.login(other)
    u = _utts(db, setup["rec"])[0]
    assert _op(client, review, u.id, "code", code="GI").status_code == 403
    assert client.post(f"/review/reviews/{review.id}/sign-off").status_code == 403


def test_utterance_of_another_recording_is_refused(client, auth, db, setup) -> None:
    review = _open(client, auth, db, setup["trainer"], setup["rec"])
    foreign = _utts(db, setup["other"])[0]
    resp = _op(client, review, foreign.id, "code", code="GI")
    assert resp.status_code == 409 and "not part of this recording" in resp.json["error"]


# ------------------------------------------------------------------ queue
def test_queue_order_filters_and_counts(client, auth, db, setup) -> None:
    trainer, prac = setup["trainer"], setup["prac"]
    old = make_recording(db, prac, title="Oldest visit", created_at=utcnow() - timedelta(days=20))
    second = make_user(db, UserRole.PRACTITIONER, team=setup["north"], name="Pat Second")
    make_recording(db, second, title="Pat's role-play")
    queue = svc.review_queue(db, trainer)
    titles = [i.recording.title for i in queue.items]
    assert titles[0] == "Oldest visit" and "Southern role-play" not in titles
    assert queue.counts == {"new": 3, "draft": 0, "signed_off": 0, "total": 3}

    auth.login(trainer)
    page = client.get(f"/review/?practitioner={second.id}").get_data(as_text=True)
    assert "Pat&#39;s role-play" in page and "Oldest visit" not in page
    since = (utcnow() - timedelta(days=5)).date().isoformat()
    page = client.get(f"/review/?from={since}").get_data(as_text=True)
    assert "Oldest visit" not in page and "Tyler school visit" in page
    page = client.get(f"/review/?team={setup['south'].id}").get_data(as_text=True)
    assert "Tyler school visit" not in page  # not my team: the filter cannot widen access

    client.get(f"/review/recordings/{old.id}")  # opening starts a draft
    assert svc.review_queue(db, trainer, status="draft").counts["draft"] == 1
    draft_page = client.get("/review/?status=draft").get_data(as_text=True)
    assert "Oldest visit" in draft_page and "Tyler school visit" not in draft_page


# ------------------------------------------------------------------ recoding + audit
def test_set_code_autosaves_with_audit_and_live_summary(client, auth, db, setup) -> None:
    trainer, rec = setup["trainer"], setup["rec"]
    review = _open(client, auth, db, trainer, rec)
    sr = _utts(db, rec)[2]  # machine: SR
    resp = _op(client, review, sr.id, "code", code="CR", version=0)
    assert resp.status_code == 200
    data = resp.json
    assert data["utterance"]["code"] == "CR" and data["utterance"]["changed"]
    assert data["notice"] is None
    assert data["summary"]["trainer"]["pct_complex_reflections"] == 100.0
    assert data["summary"]["machine"]["pct_complex_reflections"] == 0.0
    ev = _events(db, action="code")[-1]
    assert (ev.user_id, ev.utterance_id, ev.before, ev.after) == (trainer.id, sr.id, None, "CR")
    assert ev.at is not None and ev.review_id == review.id
    # clearing goes back to the machine's code, and is audited too
    data = _op(client, review, sr.id, "code", code=None,
               version=data["utterance"]["version"]).json
    assert data["utterance"]["effective_code"] == "SR" and not data["utterance"]["changed"]
    assert [e.after for e in _events(db, action="code")] == ["CR", None]


@pytest.mark.parametrize("code, message", [
    ("XYZ", "'XYZ' is not a MITI code"),
    ("SUSTAIN", "SUSTAIN is not a code for a practitioner utterance"),
    (5, "The code must be text"),
])
def test_invalid_codes_are_refused_clearly(client, auth, db, setup, code, message) -> None:
    review = _open(client, auth, db, setup["trainer"], setup["rec"])
    u = _utts(db, setup["rec"])[0]
    resp = _op(client, review, u.id, "code", code=code)
    assert resp.status_code == 400
    assert message in resp.json["error"]
    assert _events(db, action="code") == []


def test_non_json_body_is_refused(client, auth, db, setup) -> None:
    review = _open(client, auth, db, setup["trainer"], setup["rec"])
    u = _utts(db, setup["rec"])[0]
    resp = client.post(f"/review/reviews/{review.id}/utterances/{u.id}/code", data="code=GI")
    assert resp.status_code == 400 and "JSON" in resp.json["error"]


def test_comment_speaker_and_text_edits_are_audited(client, auth, db, setup) -> None:
    rec = setup["rec"]
    review = _open(client, auth, db, setup["trainer"], rec)
    utts = _utts(db, rec)
    assert _op(client, review, utts[3].id, "comment",
               comment="A closed question here shut the conversation down.").status_code == 200
    # Speaker fix: utterance 5 ("You really need to stop...") was coded GI for the practitioner
    assert _op(client, review, utts[5].id, "code", code="PERSUADE").status_code == 200
    resp = _op(client, review, utts[5].id, "speaker", speaker="client")
    assert resp.status_code == 200
    assert resp.json["utterance"]["speaker"] == "client"
    assert resp.json["utterance"]["code"] is None  # PERSUADE does not fit a client
    assert resp.json["utterance"]["effective_code"] == "NEUTRAL"
    resp = _op(client, review, utts[6].id, "text", text="I know, I know.")
    assert resp.status_code == 200 and resp.json["utterance"]["edited"]
    fresh = _utts(db, rec)
    assert fresh[6].text == "I know, I know." and fresh[6].original_text == "I know."
    assert fresh[5].speaker == "client"
    actions = [(e.action, e.utterance_id) for e in _events(db, review_id=review.id)]
    assert ("comment", utts[3].id) in actions and ("speaker", utts[5].id) in actions
    assert ("text", utts[6].id) in actions
    sp = _events(db, action="speaker")[0]
    assert sp.before == {"speaker": "practitioner", "code": "PERSUADE"}
    assert sp.after == {"speaker": "client", "code": None}
    assert _op(client, review, utts[6].id, "text", text="   ").status_code == 400
    assert _op(client, review, utts[6].id, "speaker", speaker="robot").status_code == 400


def test_split_and_merge_keep_order_and_history(client, auth, db, setup) -> None:
    rec = setup["rec"]
    review = _open(client, auth, db, setup["trainer"], rec)
    utts = _utts(db, rec)
    target = utts[4]  # "A bit. I want to be there for the kids in the mornings though."
    text, start, end = target.text, target.start, target.end
    resp = _op(client, review, target.id, "split", at=len("A bit."))
    assert resp.status_code == 200 and resp.json["reload"]
    after = _utts(db, rec)
    assert len(after) == len(utts) + 1
    assert [u.position for u in after] == list(range(len(after)))
    assert after[4].text == "A bit." and after[5].text.startswith("I want to be there")
    assert after[5].code == "CHANGE" and after[4].original_text == text
    assert after[4].start == start and after[5].end == end
    assert after[4].end == after[5].start
    assert _op(client, review, target.id, "split", at=0).status_code == 400

    # recode and comment the new piece, then merge it back: nothing is lost
    new_id = after[5].id
    resp = _op(client, review, new_id, "comment", comment="Desire: reflect this!")
    assert resp.status_code == 200, resp.json
    resp = _op(client, review, target.id, "merge")
    assert resp.status_code == 200
    merged = _utts(db, rec)
    assert len(merged) == len(utts)
    assert merged[4].text == text and merged[4].end == end
    assert [u.position for u in merged] == list(range(len(merged)))
    rc = db.scalar(select(svc.ReviewCode).where(svc.ReviewCode.utterance_id == target.id))
    assert "Desire: reflect this!" in rc.comment
    gone = next(e for e in _events(db, action="merge") if e.utterance_id == new_id)
    assert gone.before["text"].startswith("I want to be there")
    assert gone.before["review_codes"][0]["comment"] == "Desire: reflect this!"
    # a stale client still holding the merged-away utterance gets a clear 409
    resp = _op(client, review, new_id, "code", code="CHANGE")
    assert resp.status_code == 409 and "merged this utterance" in resp.json["error"]
    # merging across speakers is refused
    resp = _op(client, review, merged[0].id, "merge")
    assert resp.status_code == 400 and "same speaker" in resp.json["error"]


# ------------------------------------------------------------------ globals, note, sign-off
def test_globals_and_note_autosave(client, auth, db, setup) -> None:
    review = _open(client, auth, db, setup["trainer"], setup["rec"])
    url = f"/review/reviews/{review.id}"
    resp = client.post(url + "/globals", json={"name": "empathy", "value": 4})
    assert resp.status_code == 200 and resp.json["globals"] == {"empathy": 4}
    assert "Empathy" not in resp.json["missing"]
    assert client.post(url + "/globals", json={"name": "empathy", "value": 6}).status_code == 400
    assert client.post(url + "/globals", json={"name": "warmth", "value": 3}).status_code == 400
    for text in ("Good start", "Good start. Try more reflections."):
        assert client.post(url + "/note", json={"note": text}).status_code == 200
    db.expire_all()
    fresh = db.get(Review, review.id)
    assert fresh.globals_rating == {"empathy": 4}
    assert fresh.overall_note == "Good start. Try more reflections."
    notes = _events(db, action="note")
    assert len(notes) == 1 and notes[0].before == "" and notes[0].after == fresh.overall_note
    assert _events(db, action="global")[0].after == {"empathy": 4}


def test_sign_off_needs_all_four_globals(client, auth, db, setup) -> None:
    review = _open(client, auth, db, setup["trainer"], setup["rec"])
    client.post(f"/review/reviews/{review.id}/globals", json={"name": "empathy", "value": 4})
    resp = client.post(f"/review/reviews/{review.id}/sign-off", follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "Rate all four global scores before signing off" in page
    assert "Cultivating Change Talk, Softening Sustain Talk, Partnership" in page
    db.expire_all()
    assert db.get(Review, review.id).status is ReviewStatus.DRAFT


def _sign_off(client, review: Review) -> None:
    for name, value in GLOBALS_ALL.items():
        assert client.post(f"/review/reviews/{review.id}/globals",
                           json={"name": name, "value": value}).status_code == 200
    resp = client.post(f"/review/reviews/{review.id}/sign-off", follow_redirects=True)
    assert "Signed off." in resp.get_data(as_text=True)


def test_practitioner_sees_feedback_only_after_sign_off(client, auth, db, setup, people) -> None:
    rec, prac = setup["rec"], setup["prac"]
    review = _open(client, auth, db, setup["trainer"], rec)
    utts = _utts(db, rec)
    _op(client, review, utts[2].id, "code", code="CR")
    _op(client, review, utts[2].id, "comment", comment="Nice depth: a complex reflection.")
    client.post(f"/review/reviews/{review.id}/note", json={"note": "Warm and curious."})
    auth.logout()

    auth.login(prac)  # a draft stays private
    assert svc.published_feedback(db, rec) is None
    page = client.get(f"/practice/recordings/{rec.id}").get_data(as_text=True)
    assert "Feedback from" not in page and "Nice depth" not in page
    auth.logout()

    auth.login(setup["trainer"])
    _sign_off(client, review)
    auth.logout()

    auth.login(prac)
    page = client.get(f"/practice/recordings/{rec.id}").get_data(as_text=True)
    assert f"Feedback from {setup['trainer'].name}" in page
    assert "Nice depth: a complex reflection." in page and "Warm and curious." in page
    db.expire_all()
    fb = svc.published_feedback(db, rec)
    assert fb is not None and fb.changed == 1 and fb.globals_rating == GLOBALS_ALL
    auth.logout()
    # another practitioner never sees it
    auth.login(make_user(db, UserRole.PRACTITIONER, team=setup["north"]))
    assert client.get(f"/practice/recordings/{rec.id}").status_code == 403


def test_signed_off_review_is_locked_until_reopened(client, auth, db, setup) -> None:
    review = _open(client, auth, db, setup["trainer"], setup["rec"])
    _sign_off(client, review)
    u = _utts(db, setup["rec"])[0]
    resp = _op(client, review, u.id, "code", code="GI")
    assert resp.status_code == 400 and "signed off" in resp.json["error"]
    resp = client.post(f"/review/reviews/{review.id}/reopen", follow_redirects=True)
    assert "the practitioner no longer sees it" in resp.get_data(as_text=True)
    assert _op(client, review, u.id, "code", code="GI").status_code == 200
    db.expire_all()
    assert db.get(Review, review.id).status is ReviewStatus.DRAFT
    assert svc.published_feedback(db, setup["rec"]) is None
    assert [e.action for e in _events(db, review_id=review.id)][-3:] == [
        "sign_off", "reopen", "code"]


# ------------------------------------------------------------------ concurrency
def test_concurrent_edits_last_write_wins_with_notice(app, db, setup) -> None:
    rec = setup["rec"]
    a = setup["trainer"]
    b = make_user(db, UserRole.TRAINER, name="Bea Second")
    b.trained_teams = [setup["north"]]
    db.commit()
    ca, cb = app.test_client(), app.test_client()
    for c, user in ((ca, a), (cb, b)):
        c.post("/auth/login", data={"email": user.email, "password":
                                    "correct horse battery staple"})
        assert c.get(f"/review/recordings/{rec.id}").status_code == 200
    ra, rb = _review(db, rec, a), _review(db, rec, b)
    u = _utts(db, rec)[6]
    seen_a = svc.utterance_versions(db, ra).get(u.id, 0)
    seen_b = svc.utterance_versions(db, rb).get(u.id, 0)
    # A edits the text; B, still on the old page, edits it too: B wins, with a notice
    assert _op(ca, ra, u.id, "text", text="I know, yeah.", version=seen_a).json["notice"] is None
    resp = _op(cb, rb, u.id, "text", text="I know that.", version=seen_b)
    assert resp.status_code == 200
    assert resp.json["notice"].startswith(a.name) and "edited the text" in resp.json["notice"]
    assert _utts(db, rec)[6].text == "I know that."
    texts = [(e.user_id, e.before, e.after) for e in _events(db, action="text")]
    assert texts == [(a.id, "I know.", "I know, yeah."), (b.id, "I know, yeah.", "I know that.")]
    # A's own code changes are not B's business: no notice for B's code change
    _op(ca, ra, u.id, "code", code="CHANGE", version=seen_a)
    vb = resp.json["utterance"]["version"]
    assert _op(cb, rb, u.id, "code", code="SUSTAIN", version=vb).json["notice"] is None
    # the same trainer in two windows gets told too
    resp = _op(cb, rb, u.id, "code", code="NEUTRAL", version=vb)
    assert "another window" in resp.json["notice"]


# ------------------------------------------------------------------ double coding
def test_second_trainer_codes_blind(client, auth, db, setup) -> None:
    rec, a = setup["rec"], setup["trainer"]
    b = make_user(db, UserRole.TRAINER, name="Bea Blind")
    b.trained_teams = [setup["north"]]
    db.commit()
    review = _open(client, auth, db, a, rec)
    u = _utts(db, rec)[2]
    _op(client, review, u.id, "code", code="CR")
    resp = client.post(f"/review/reviews/{review.id}/assign", data={"trainer": b.id},
                       follow_redirects=True)
    assert "will code this recording blind" in resp.get_data(as_text=True)
    blind = _review(db, rec, b)
    assert blind is not None and blind.blind and blind.status is ReviewStatus.DRAFT
    assert _events(db, action="assign")[0].after["trainer_id"] == b.id
    auth.logout()

    auth.login(b)
    queue = client.get("/review/").get_data(as_text=True)
    assert "second coder (blind)" in queue
    page = client.get(f"/review/recordings/{rec.id}").get_data(as_text=True)
    assert a.name not in page.split("<main>")[1]  # nothing of the first review shows
    rows = svc.utterance_rows(db, blind)
    assert rows[2]["code"] is None and rows[2]["effective_code"] == "SR"
    history = client.get(f"/review/recordings/{rec.id}/history").get_data(as_text=True)
    assert "&#34;CR&#34;" not in history and '"CR"' not in history
    # assigning twice is refused
    auth.logout()
    auth.login(a)
    resp = client.post(f"/review/reviews/{review.id}/assign", data={"trainer": b.id},
                       follow_redirects=True)
    assert "cannot be assigned" in resp.get_data(as_text=True)


def _second_trainer(db, team, name: str) -> User:
    b = make_user(db, UserRole.TRAINER, name=name)
    b.trained_teams = [team]
    db.commit()
    return b


def test_history_hides_the_first_reviews_codes_from_the_blind_coder(client, auth, db,
                                                                    setup) -> None:
    rec, a = setup["rec"], setup["trainer"]
    b = _second_trainer(db, setup["north"], "Bea Blind")
    first = _open(client, auth, db, a, rec)
    client.post(f"/review/reviews/{first.id}/assign", data={"trainer": b.id})
    auth.logout()
    blind = _open(client, auth, db, b, rec)
    u = _utts(db, rec)
    _op(client, blind, u[3].id, "code", code="GI")
    _op(client, blind, u[3].id, "comment", comment="Blind note")
    auth.logout()
    auth.login(a)
    _op(client, first, u[0].id, "code", code="CONFRONT")
    _op(client, first, u[0].id, "speaker", speaker="client")  # the event records A's code
    _op(client, first, u[3].id, "code", code="Q_OPEN")
    _op(client, first, u[3].id, "comment", comment="Ask it openly")
    assert _op(client, first, u[2].id, "merge").status_code == 200  # gone: u[3], both reviews
    mine = str(svc.review_events(db, first))
    assert "CONFRONT" in mine and "Ask it openly" in mine  # A's own trail is whole
    auth.logout()

    auth.login(b)
    events = svc.review_events(db, blind)
    assert {"speaker", "merge"} <= {e["action"] for e in events}
    seen = str(events)
    assert "CONFRONT" not in seen and "Q_OPEN" not in seen and "Ask it openly" not in seen
    assert "Blind note" in seen  # B's own code of the merged utterance stays visible to B
    page = client.get(f"/review/recordings/{rec.id}/history").get_data(as_text=True)
    assert "CONFRONT" not in page and "Ask it openly" not in page and "Blind note" in page


def test_transcript_is_fixed_once_a_review_is_signed_off(client, auth, db, setup) -> None:
    rec, a = setup["rec"], setup["trainer"]
    b = _second_trainer(db, setup["north"], "Bo Other")
    first = _open(client, auth, db, a, rec)
    _sign_off(client, first)
    auth.logout()
    second = _open(client, auth, db, b, rec)
    u = _utts(db, rec)
    before = len(_events(db))
    for op, body in (("text", {"text": "Changed."}), ("speaker", {"speaker": "client"}),
                     ("split", {"at": 5}), ("merge", {})):
        resp = _op(client, second, u[2].id, op, **body)
        assert resp.status_code == 400, op
        assert f"{a.name} signed off a review" in resp.json["error"]
    assert len(_events(db)) == before and _utts(db, rec)[2].text == u[2].text
    assert _op(client, second, u[2].id, "code", code="CR").status_code == 200  # codes still can
    page = client.get(f"/review/recordings/{rec.id}").get_data(as_text=True)
    assert 'id="transcript-fixed"' in page and 'data-action="edit"' not in page
    auth.logout()
    auth.login(a)
    client.post(f"/review/reviews/{first.id}/reopen")
    auth.logout()
    auth.login(b)
    assert _op(client, second, u[2].id, "text", text="Changed.").status_code == 200


# ------------------------------------------------------------------ export and pages
def test_coding_export_csv_and_json(client, auth, db, setup) -> None:
    rec = setup["rec"]
    review = _open(client, auth, db, setup["trainer"], rec)
    utts = _utts(db, rec)
    _op(client, review, utts[5].id, "code", code="PERSUADE")
    _op(client, review, utts[5].id, "comment", comment="Righting reflex")
    resp = client.get(f"/review/recordings/{rec.id}/coding.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert len(rows) == len(utts)
    assert rows[5]["machine_code"] == "GI" and rows[5]["trainer_code"] == "PERSUADE"
    assert rows[5]["comment"] == "Righting reflex" and rows[5]["recoded"] == "yes"
    assert rows[0]["speaker"] == "practitioner" and rows[0]["start"] == "0.0"
    data = client.get(f"/review/recordings/{rec.id}/coding.json").json
    assert data["coder_version"] == "test-v1"
    assert data["utterances"][5]["trainer_code"] == "PERSUADE"
    assert set(svc.EXPORT_COLUMNS) == set(data["utterances"][0])


def test_workspace_page_has_keys_estimates_and_flags(client, auth, db, setup) -> None:
    auth.login(setup["trainer"])
    page = client.get(f"/review/recordings/{setup['rec'].id}").get_data(as_text=True)
    assert 'name="csrf-token"' in page and "review.js" in page
    assert "low confidence" in page  # utterances under 50% are flagged
    assert "machine estimate 3." in page  # estimates shown beside the globals
    assert "<kbd>x</kbd>" in page and "Complex Reflection" in page
    assert "style=" not in page and "<script>" not in page  # CSP: no inline style or script
    history = client.get(f"/review/recordings/{setup['rec'].id}/history")
    assert history.status_code == 200 and "open" in history.get_data(as_text=True)
