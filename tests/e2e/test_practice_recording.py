"""A practitioner records a role-play in Chromium (fake microphone fed with a
fixture WAV), uploads it, waits for the real coding job and reads the report."""

from pathlib import Path

from mitrain.models import UserRole

from .conftest import fake_microphone, record_for, sign_in

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "audio" / "home_mono.wav"


def test_record_upload_and_read_the_coded_report(live_server, browser, tmp_path: Path) -> None:
    assert FIXTURE.exists(), "run tests/fixtures/audio/make_fixtures.py"
    with fake_microphone(browser, FIXTURE) as page:
        sign_in(page, live_server, UserRole.PRACTITIONER)
        page.goto(live_server.url + "/practice/record")
        page.fill("#title", "Browser role-play")
        record_for(page, 8)
        page.click("#rec-stop")
        page.wait_for_selector("#rec-playback:not([hidden])")
        page.screenshot(path=str(tmp_path / "recorded.png"), full_page=True)
        page.click("#upload-button")
        page.wait_for_timeout(500)
        assert page.url.endswith("/practice/record")  # consent is required before upload
        assert page.locator("#consent:invalid").count() == 1
        page.check("#consent")
        page.click("#upload-button")
        page.wait_for_url("**/practice/recordings/*", timeout=30000)
        page.screenshot(path=str(tmp_path / "progress.png"), full_page=True)
        page.wait_for_selector("#transcript .utt", timeout=240000)
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        assert page.locator(".score-table").count() == 1
        codes = page.locator("#transcript .utt .code").all_inner_texts()
        assert len(codes) >= 2 and any(c in ("Q_OPEN", "Q_CLOSED", "SR", "CR") for c in codes)
        text = " ".join(page.locator("#transcript .utt .text").all_inner_texts()).lower()
        assert len(text.split()) > 10
        assert page.locator(".tips li").count() == 3
    assert (tmp_path / "report.png").stat().st_size > 10000
