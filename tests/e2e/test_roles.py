"""Each role signs in through a real browser and sees its own navigation."""

from pathlib import Path

import pytest

from mitrain.models import UserRole

from .conftest import sign_in

NAV = {
    UserRole.PRACTITIONER: ["Home", "Learn", "Drills", "Practice", "My progress"],
    UserRole.TRAINER: ["Home", "Review queue", "Agreement", "Course"],
    UserRole.LEAD: ["Home", "Workforce skills", "Course"],
    UserRole.ADMIN: ["Home", "Users", "Teams", "Import", "Jobs", "Retention", "Coder",
                     "Workforce skills"],
}


@pytest.mark.parametrize("role", list(UserRole))
def test_role_signs_in_and_sees_its_navigation(page, live_server, role, tmp_path: Path) -> None:
    sign_in(page, live_server, role)
    links = page.locator("header nav a").all_inner_texts()
    assert links == NAV[role]
    assert page.locator(".role-badge").inner_text() == role.value
    shot = tmp_path / f"home-{role.value}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 1000
    page.click("text=Sign out")
    page.wait_for_url(live_server.url + "/auth/login")


def test_no_access_page_for_the_wrong_role(page, live_server) -> None:
    sign_in(page, live_server, UserRole.PRACTITIONER)
    resp = page.goto(live_server.url + "/admin/users")
    assert resp.status == 403
    assert "You do not have access to this page" in page.content()
