"""A practitioner answers a drill by voice in Chromium (fake microphone fed with an
espeak-ng WAV), and sees what was heard and the coder's feedback."""

from __future__ import annotations

from pathlib import Path

from mitrain.content import default_course_dir, load_course_dir
from mitrain.models import UserRole

from ..recording_factories import spoken_clip
from .conftest import LiveServer, fake_microphone, record_for, sign_in
from .test_learning import _shot, _sync_shipped_course


def test_practitioner_answers_a_drill_by_voice(browser, live_server: LiveServer,
                                               tmp_path: Path) -> None:
    drill = next(d for d in load_course_dir(default_course_dir()).drills
                 if d.skill == "open_question")
    _sync_shipped_course(live_server)
    wav = spoken_clip(tmp_path / "answer.wav",
                      "What would you like to be different for the children?")
    with fake_microphone(browser, wav) as page:
        sign_in(page, live_server, UserRole.PRACTITIONER)
        page.goto(f"{live_server.url}/learn/drills/{drill.slug}")
        # Sending with nothing recorded is stopped in the page, with a clear message.
        page.click("#spoken-submit")
        assert "Record your answer first" in page.inner_text("#rec-error")
        assert page.url.endswith(f"/learn/drills/{drill.slug}")

        record_for(page, 5)
        assert page.locator("#rec-level").count() == 1
        page.click("#rec-stop")
        page.wait_for_selector("#rec-playback:not([hidden])")
        assert "Recorded 0:0" in page.inner_text("#rec-status")
        _shot(page, tmp_path / "drill-recorded.png")
        # The first answer may train or load the coder and load Whisper in the server.
        page.click("#spoken-submit", timeout=180_000)
        page.wait_for_selector("#feedback")
        heard = page.inner_text("#heard").lower()
        assert "what would you like" in heard and "children" in heard
        heading = page.locator("#feedback h2").inner_text()
        assert heading.startswith(("That was", "That included"))
        assert "How sure the coder is" in page.inner_text("#feedback")
        _shot(page, tmp_path / "drill-spoken-feedback.png")
