"""A trainer plays, pauses and seeks the audio and recodes by keyboard, rates the globals
and signs off; the practitioner then sees the trainer's codes and comments beside the
machine's."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from mitrain.models import Review, ReviewStatus, User, UserRole

from ..review_factories import make_recording
from .conftest import screenshot, sign_in


def _insert_recording(live_server) -> int:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{live_server.instance / 'mitrain.db'}")
    try:
        with Session(engine, expire_on_commit=False) as db:
            owner = db.get(User, live_server.users[UserRole.PRACTITIONER].id)
            rec = make_recording(db, owner, title="E2E review role-play",
                                 audio_dir=live_server.instance / "recordings")
            return rec.id
    finally:
        engine.dispose()


def _audio(page) -> dict:  # type: ignore[no-untyped-def]
    # locator.evaluate runs through the DevTools protocol, which the page's CSP allows.
    return page.locator("#player").evaluate(
        "a => ({paused: a.paused, t: a.currentTime, ready: a.readyState})")


def _until(page, test: Callable[[dict], bool], what: str) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 10
    state = _audio(page)
    while not test(state):
        assert time.monotonic() < deadline, f"audio never {what}: {state}"
        page.wait_for_timeout(100)
        state = _audio(page)
    return state


def _keyboard_player(page) -> None:  # type: ignore[no-untyped-def]
    """Space plays and pauses; arrow keys seek 5 s either way."""
    _until(page, lambda a: a["ready"] >= 1, "loaded")
    page.keyboard.press(" ")
    _until(page, lambda a: not a["paused"] and a["t"] > 0, "played")
    page.keyboard.press(" ")
    t0 = _until(page, lambda a: a["paused"], "paused")["t"]
    assert t0 < 4, "played past the first utterance: the recoding below starts there"
    page.keyboard.press("ArrowRight")
    t1 = _until(page, lambda a: abs(a["t"] - (t0 + 5)) < 0.3, "seeked forward")["t"]
    rows = page.locator("#transcript .utt")
    # the transcript follows the audio (the factory's utterances start every 4 s)
    expect(rows.nth(int(t1 // 4))).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("ArrowLeft")
    _until(page, lambda a: abs(a["t"] - (t1 - 5)) < 0.3 and a["paused"], "seeked back")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))


def test_trainer_recodes_by_keyboard_signs_off_and_practitioner_sees_it(
        page, live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rec_id = _insert_recording(live_server)
    sign_in(page, live_server, UserRole.TRAINER)
    page.goto(live_server.url + "/review/")
    page.click("text=E2E review role-play >> xpath=ancestor::tr >> a.button")
    page.wait_for_url(f"{live_server.url}/review/recordings/{rec_id}")
    assert page.locator("#player").count() == 1
    page.wait_for_selector("#transcript .utt.current")
    _keyboard_player(page)

    rows = page.locator("#transcript .utt")
    # Utterance 1 (practitioner, machine Q_OPEN) -> closed question with "c";
    # utterance 2 (client, machine SUSTAIN) -> neutral with "n";
    # utterance 3 (practitioner, machine SR) -> complex reflection with "x".
    for key in ("c", "n", "x"):
        page.keyboard.press(key)
    # (waits use locators: the page's CSP rightly forbids the eval behind wait_for_function)
    for i, code in enumerate(("Q_CLOSED", "NEUTRAL", "CR")):
        expect(rows.nth(i)).to_have_class(re.compile(r"\bchanged\b"))
        expect(rows.nth(i).locator("select")).to_have_value(code)
    expect(rows.nth(3)).to_have_class(re.compile(r"\bcurrent\b"))  # the cursor moved on
    # the live summary follows the codes: one complex reflection of one -> 100%
    expect(page.locator('[data-summary="trainer.pct_complex_reflections"]')).to_have_text("100%")

    rows.nth(2).locator(".comment").fill("Lovely: you heard the feeling under it.")
    rows.nth(2).locator(".comment").press("Tab")
    expect(page.locator("#save-status")).to_have_attribute("data-kind", "saved")

    for name, value in (("cultivating_change_talk", 3), ("softening_sustain_talk", 4),
                        ("partnership", 4), ("empathy", 5)):
        page.check(f"input[name='g-{name}'][value='{value}']")
    expect(page.locator("#missing-globals")).to_be_hidden()
    page.fill("#overall-note", "Warm, curious and well paced. Try one more reflection "
                               "before each question.")
    page.locator("#overall-note").blur()
    expect(page.locator("#save-status")).to_have_text(re.compile("Saved at"))
    expect(page.locator("#save-status")).to_have_attribute("data-kind", "saved")
    screenshot(page, tmp_path / "review-workspace.png")
    page.click("#sign-off")
    page.wait_for_selector("text=Signed off.")
    screenshot(page, tmp_path / "review-signed-off.png")

    engine = create_engine(f"sqlite:///{live_server.instance / 'mitrain.db'}")
    with Session(engine) as db:
        review = db.scalar(select(Review).where(Review.recording_id == rec_id))
        assert review.status is ReviewStatus.SIGNED_OFF
        assert review.globals_rating == {"cultivating_change_talk": 3,
                                         "softening_sustain_talk": 4, "partnership": 4,
                                         "empathy": 5}
        assert review.overall_note.startswith("Warm, curious")
    engine.dispose()

    page.click("text=Sign out")
    sign_in(page, live_server, UserRole.PRACTITIONER)
    page.goto(f"{live_server.url}/practice/recordings/{rec_id}")
    feedback = page.locator(".trainer-feedback")
    feedback.wait_for()
    text = feedback.inner_text()
    assert "Feedback from E2E Trainer" in text
    assert "Lovely: you heard the feeling under it." in text
    assert "Warm, curious and well paced" in text
    assert "The trainer changed 3 of 8 machine codes" in text
    changed = feedback.locator("tr.changed")
    assert changed.count() == 3
    # each row: time, who, text, machine code, trainer code, comment
    cells = [changed.nth(i).locator("td").all_inner_texts() for i in range(3)]
    assert [(c[3], c[4].split()[0]) for c in cells] == [
        ("Q_OPEN", "Q_CLOSED"), ("SUSTAIN", "NEUTRAL"), ("SR", "CR")]
    assert cells[2][5] == "Lovely: you heard the feeling under it."
    screenshot(page, tmp_path / "practitioner-feedback.png")
