"""A recording that cannot be coded, in Chromium: the live progress bar notices the failed
job, the page explains why in plain words and offers Try again, which re-queues it."""

from pathlib import Path

from mitrain.models import UserRole

from ..recording_factories import tiny_wav
from .conftest import sign_in


def test_failed_job_shows_the_reason_and_a_retry_button(live_server, page, tmp_path: Path) -> None:
    silent = tmp_path / "silent-roleplay.wav"
    silent.write_bytes(tiny_wav(seconds=3, amplitude=0))
    failed_polls: list[str] = []  # job status responses the page's script received

    def pass_through(route) -> None:  # type: ignore[no-untyped-def]
        # Read the body here: once the script reloads the page it is no longer available.
        resp = route.fetch()
        if resp.ok and resp.json()["status"] == "failed":
            failed_polls.append(route.request.url)
        route.fulfill(response=resp)

    page.route("**/jobs/*.json", pass_through)
    sign_in(page, live_server, UserRole.PRACTITIONER)
    page.goto(live_server.url + "/practice/record")
    page.set_input_files("#audio", str(silent))
    page.check("#consent")
    page.click("#upload-button")
    page.wait_for_url("**/practice/recordings/*", timeout=30000)
    report_url = page.url

    for attempt in (1, 2):
        # No reload from here: the progress script reloads the page when the job fails.
        page.wait_for_selector("#coding-failed", timeout=90000)
        assert page.url == report_url
        message = page.inner_text("#coding-failed")
        assert "silent-roleplay.wav: the recording is silent" in message, message
        assert "will not retry it automatically" in message
        assert page.locator(".job-progress").count() == 0
        page.screenshot(path=str(tmp_path / f"failed-{attempt}.png"), full_page=True)
        if attempt == 1:
            page.click("#retry-button")  # a real form post with the page's CSRF token
            page.wait_for_selector("text=back in the queue", timeout=30000)
    # At least one of the two failures reached the page through the live poller (the
    # other may have finished before the page was rendered).
    assert failed_polls, "the progress script never saw the failed job"
