"""Users and teams: create, find, deactivate, assign trainers."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Discipline, Team, User, UserRole
from . import ServiceError
from .passwords import hash_password, password_problem

EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    """Why ``email`` is not a usable address, or None."""
    if not email:
        return "email is empty"
    if len(email) > 254 or not EMAIL_RE.match(email):
        return f"'{email}' is not a valid email address"
    return None


def user_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == normalise_email(email)))


def team_by_name(db: Session, name: str) -> Team | None:
    return db.scalar(select(Team).where(func.lower(Team.name) == name.strip().lower()))


def create_team(db: Session, name: str) -> Team:
    """Create a team; names are unique regardless of case."""
    name = name.strip()
    if not name:
        raise ServiceError("A team needs a name.")
    if team_by_name(db, name):
        raise ServiceError(f"There is already a team called '{name}'.")
    team = Team(name=name)
    db.add(team)
    db.commit()
    return team


def create_user(db: Session, *, name: str, email: str, role: UserRole,
                discipline: Discipline = Discipline.OTHER, team: Team | None = None,
                password: str | None = None, commit: bool = True) -> User:
    """Create a user. Without a password the account cannot log in until one is set."""
    email = normalise_email(email)
    if problem := email_problem(email):
        raise ServiceError(problem.capitalize() + ".")
    if not name.strip():
        raise ServiceError("A user needs a name.")
    if user_by_email(db, email):
        raise ServiceError(f"A user with email {email} already exists.")
    if password is not None and (problem := password_problem(password)):
        raise ServiceError(problem)
    user = User(name=name.strip(), email=email, role=role, discipline=discipline, team=team,
                password_hash=hash_password(password) if password else None)
    db.add(user)
    if commit:
        db.commit()
    return user


def set_password(db: Session, user: User, password: str) -> None:
    """Set a new password after checking its strength."""
    if problem := password_problem(password):
        raise ServiceError(problem)
    user.password_hash = hash_password(password)
    db.commit()


def set_active(db: Session, user: User, active: bool, *, acting: User | None = None) -> None:
    """Activate or deactivate an account (an admin cannot deactivate themselves)."""
    if acting is not None and acting.id == user.id and not active:
        raise ServiceError("You cannot deactivate your own account.")
    user.active = active
    db.commit()


def assign_trainer(db: Session, trainer: User, teams: list[Team]) -> None:
    """Set the teams a trainer reviews."""
    if trainer.role is not UserRole.TRAINER:
        raise ServiceError(f"{trainer.name} is not a trainer.")
    trainer.trained_teams = list(teams)
    db.commit()


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.role, User.name)))


def list_teams(db: Session) -> list[Team]:
    return list(db.scalars(select(Team).order_by(Team.name)))
