"""The role access matrix: every route declares its rule, and the server applies it."""

import re

import pytest
from flask import Flask

from mitrain.models import UserRole
from mitrain.web.access import ANY_USER, PUBLIC

# What each role may open; everything else must answer 403 ("no access").
EXPECTED: dict[str, frozenset] = {
    "home.index": ANY_USER,
    "auth.account": ANY_USER,
    "learn.index": ANY_USER,
    "learn.drills": frozenset({UserRole.PRACTITIONER}),
    "learn.progress": frozenset({UserRole.PRACTITIONER}),
    "learn.certificate": frozenset({UserRole.PRACTITIONER}),
    "learn.skills_check": frozenset({UserRole.PRACTITIONER}),
    "practice.index": frozenset({UserRole.PRACTITIONER}),
    "practice.record": frozenset({UserRole.PRACTITIONER}),
    "review.index": frozenset({UserRole.TRAINER}),
    "review.agreement": frozenset({UserRole.TRAINER, UserRole.ADMIN}),
    "review.agreement_csv": frozenset({UserRole.TRAINER, UserRole.ADMIN}),
    "coder_admin.index": frozenset({UserRole.ADMIN}),
    "workforce.index": frozenset({UserRole.LEAD, UserRole.ADMIN}),
    "workforce.export_csv": frozenset({UserRole.LEAD, UserRole.ADMIN}),
    "admin.users": frozenset({UserRole.ADMIN}),
    "admin.teams": frozenset({UserRole.ADMIN}),
    "admin.import_people": frozenset({UserRole.ADMIN}),
    "admin.jobs": frozenset({UserRole.ADMIN}),
    "admin.retention": frozenset({UserRole.ADMIN}),
}


def _rules(app: Flask):
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def test_every_route_declares_an_access_rule(app: Flask) -> None:
    undeclared = [r.endpoint for r in _rules(app)
                  if getattr(app.view_functions[r.endpoint], "_mitrain_access", None) is None]
    assert undeclared == []


def test_public_routes_are_only_the_sign_in_ones(app: Flask) -> None:
    public = {r.endpoint for r in _rules(app)
              if app.view_functions[r.endpoint]._mitrain_access is PUBLIC}
    assert public == {"auth.login", "auth.logout", "auth.set_password_with_link"}


def test_every_parameterless_page_is_in_the_matrix(app: Flask) -> None:
    pages = {r.endpoint for r in _rules(app)
             if "GET" in r.methods and not r.arguments
             and app.view_functions[r.endpoint]._mitrain_access is not PUBLIC}
    assert pages == set(EXPECTED)


@pytest.mark.parametrize("role", list(UserRole))
def test_role_access_matrix(app: Flask, client, auth, people, role: UserRole) -> None:
    auth.login(people[role])
    for rule in _rules(app):
        if rule.endpoint not in EXPECTED:
            continue
        resp = client.get(rule.rule)
        expected = 200 if role in EXPECTED[rule.endpoint] else 403
        assert resp.status_code == expected, f"{role.value} GET {rule.rule}"
        if expected == 403:
            assert "No access" in resp.get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_sign_in(app: Flask, client) -> None:
    for endpoint in EXPECTED:
        rule = next(r for r in _rules(app) if r.endpoint == endpoint)
        resp = client.get(rule.rule)
        assert resp.status_code == 302 and "/auth/login?next=" in resp.headers["Location"]


def test_routes_with_ids_refuse_other_roles(client, auth, people, db) -> None:
    target = people[UserRole.PRACTITIONER]
    for role in (UserRole.PRACTITIONER, UserRole.TRAINER, UserRole.LEAD):
        auth.login(people[role])
        assert client.get(f"/admin/users/{target.id}").status_code == 403
        assert client.post(f"/admin/users/{target.id}/active").status_code == 403
        auth.logout()


def test_navigation_matches_role(client, auth, people) -> None:
    for role, must_have, must_not in [
        (UserRole.PRACTITIONER, "Drills", "Users"),
        (UserRole.TRAINER, "Review queue", "Users"),
        (UserRole.LEAD, "Workforce skills", "Review queue"),
        (UserRole.ADMIN, "Users", "Drills"),
    ]:
        auth.login(people[role])
        nav = re.search(r"<nav.*?</nav>", client.get("/").get_data(as_text=True), re.DOTALL).group(0)
        assert must_have in nav and must_not not in nav, role
        auth.logout()
