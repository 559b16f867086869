from sqlalchemy import select

from mitrain.models import Team, User, UserRole


def test_admin_creates_team_and_user_and_deactivates(client, auth, people, db) -> None:
    auth.login(people[UserRole.ADMIN])
    assert client.post("/admin/teams", data={"name": "South"}).status_code == 302
    dup = client.post("/admin/teams", data={"name": "south"})
    assert "already a team called" in dup.get_data(as_text=True)
    team = db.scalar(select(Team).where(Team.name == "South"))
    resp = client.post("/admin/users", data={"name": "New Person", "email": "New@Example.org",
                                             "role": "practitioner", "discipline": "mental_health",
                                             "team": team.id})
    assert resp.status_code == 302
    user = db.scalar(select(User).where(User.email == "new@example.org"))
    assert user.team_id == team.id and user.password_hash is None
    bad = client.post("/admin/users", data={"name": "X", "email": "not-an-email",
                                            "role": "practitioner", "discipline": "other", "team": 0})
    assert "not a valid email address" in bad.get_data(as_text=True)
    client.post(f"/admin/users/{user.id}/active")
    db.refresh(user)
    assert user.active is False
    link_page = client.post(f"/admin/users/{user.id}/link").get_data(as_text=True)
    assert "/auth/set-password/" in link_page


def test_admin_cannot_deactivate_self(client, auth, people, db) -> None:
    admin = people[UserRole.ADMIN]
    auth.login(admin)
    page = client.post(f"/admin/users/{admin.id}/active", follow_redirects=True)
    assert "cannot deactivate your own account" in page.get_data(as_text=True)
    db.refresh(admin)
    assert admin.active


def test_admin_assigns_trainer_teams(client, auth, people, db) -> None:
    auth.login(people[UserRole.ADMIN])
    trainer = people[UserRole.TRAINER]
    other = Team(name="East")
    db.add(other)
    db.commit()
    client.post(f"/admin/users/{trainer.id}", data={"teams-teams": [other.id]})
    db.refresh(trainer)
    assert [t.name for t in trainer.trained_teams] == ["East"]
