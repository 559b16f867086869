"""A workforce lead opens the dashboard from the navigation, filters it and downloads
the CSV; the page draws its charts without breaking the CSP."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from mitrain.models import UserRole

from .conftest import screenshot, sign_in


def test_lead_filters_the_dashboard_and_downloads_csv(page, live_server, tmp_path: Path) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    sign_in(page, live_server, UserRole.LEAD)
    page.click("header nav >> text=Workforce skills")
    expect(page.locator("h1")).to_have_text("Workforce skills")
    # The harness has one practitioner: below the minimum group, so nothing is shown.
    expect(page.locator("#summary-h + p")).to_contain_text("every figure is suppressed")
    page.select_option("#w-team", label="E2E Team")
    page.select_option("#w-interval", "quarter")
    page.click("form.filters button[type=submit]")
    assert "interval=quarter" in page.url and "team=" in page.url
    teams = page.locator("section.workforce-table").first.locator("tr.group-team")
    expect(teams).to_have_count(1)
    expect(teams).to_contain_text("fewer than 3")
    with page.expect_download() as info:
        page.click("text=Download the table as CSV")
    path = tmp_path / "workforce.csv"
    info.value.save_as(path)
    text = path.read_text()
    assert text.startswith("group_type,group,") and "E2E Team" in text and "<3" in text
    screenshot(page, tmp_path / "workforce.png")
    assert not [p for p in problems if "Content Security Policy" in p], problems
