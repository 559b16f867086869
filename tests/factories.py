"""Test factories: people and teams with known passwords."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from mitrain.models import Discipline, Team, User, UserRole
from mitrain.services.passwords import hash_password

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)
# Hashing once keeps the suite fast; each user still gets a real Argon2 hash.
_HASH = hash_password(PASSWORD)


def make_team(db: Session, name: str | None = None) -> Team:
    team = Team(name=name or f"Team {next(_seq)}")
    db.add(team)
    db.commit()
    return team


def make_user(db: Session, role: UserRole = UserRole.PRACTITIONER, *, team: Team | None = None,
              email: str | None = None, active: bool = True,
              discipline: Discipline = Discipline.SOCIAL_WORK, name: str | None = None) -> User:
    n = next(_seq)
    user = User(name=name or f"{role.value.capitalize()} {n}",
                email=email or f"{role.value}{n}@example.org", role=role, team=team,
                discipline=discipline, active=active, password_hash=_HASH)
    db.add(user)
    db.commit()
    return user
