"""A demo organisation for a first run: a few teams, one of each role, practitioners,
and six months of made-up activity (``demo_activity``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Discipline, Team, User, UserRole
from .demo_activity import create_demo_activity
from .passwords import random_password
from .people import create_user

TEAMS = ("Family Safeguarding North", "Family Safeguarding South", "Family Safeguarding East")
PEOPLE: tuple[tuple[str, str, UserRole, Discipline, int | None], ...] = (
    ("Alex Admin", "admin@demo.mitrain.local", UserRole.ADMIN, Discipline.OTHER, None),
    ("Tara Trainer", "trainer@demo.mitrain.local", UserRole.TRAINER, Discipline.SOCIAL_WORK, 0),
    ("Leigh Lead", "lead@demo.mitrain.local", UserRole.LEAD, Discipline.SOCIAL_WORK, None),
    ("Priya Patel", "priya@demo.mitrain.local", UserRole.PRACTITIONER, Discipline.SOCIAL_WORK, 0),
    ("Dan Okafor", "dan@demo.mitrain.local", UserRole.PRACTITIONER, Discipline.DOMESTIC_ABUSE, 0),
    ("Sam Hughes", "sam@demo.mitrain.local", UserRole.PRACTITIONER, Discipline.SUBSTANCE_MISUSE, 1),
    ("Mia Clarke", "mia@demo.mitrain.local", UserRole.PRACTITIONER, Discipline.MENTAL_HEALTH, 1),
    ("Jo Evans", "jo@demo.mitrain.local", UserRole.PRACTITIONER, Discipline.SOCIAL_WORK, 2),
    ("Kieran Walsh", "kieran@demo.mitrain.local", UserRole.PRACTITIONER,
     Discipline.DOMESTIC_ABUSE, 2),
)
# Practitioners without a login, so that each team and discipline has enough people for the
# workforce figures to show (groups under MITRAIN_WORKFORCE_MIN_GROUP are suppressed).
COLLEAGUES: tuple[tuple[str, Discipline, int], ...] = (
    ("Nia Brown", Discipline.MENTAL_HEALTH, 0), ("Owen Price", Discipline.SUBSTANCE_MISUSE, 0),
    ("Ruth Adeyemi", Discipline.SOCIAL_WORK, 1), ("Tom Byrne", Discipline.DOMESTIC_ABUSE, 1),
    ("Lucy Ward", Discipline.SUBSTANCE_MISUSE, 2), ("Aled Morgan", Discipline.MENTAL_HEALTH, 2),
)


@dataclass(frozen=True)
class DemoLogin:
    role: str
    name: str
    email: str
    password: str


def create_demo_organisation(db: Session) -> list[DemoLogin]:
    """Create the demo organisation if the database has no users; return the logins.

    Passwords are random and returned once: they are never stored in clear.
    """
    if db.scalar(select(func.count()).select_from(User)):
        return []
    teams = [Team(name=name) for name in TEAMS]
    db.add_all(teams)
    logins = []
    for name, email, role, discipline, team_index in PEOPLE:
        password = random_password()
        user = create_user(db, name=name, email=email, role=role, discipline=discipline,
                           team=teams[team_index] if team_index is not None else None,
                           password=password, commit=False)
        if role is UserRole.TRAINER:
            user.trained_teams = teams[:2]
        logins.append(DemoLogin(role.value, name, email, password))
    for name, discipline, team_index in COLLEAGUES:
        create_user(db, name=name, email=f"{name.split()[0].lower()}@demo.mitrain.local",
                    role=UserRole.PRACTITIONER, discipline=discipline, team=teams[team_index],
                    commit=False)
    db.commit()
    practitioners = list(db.scalars(select(User).where(User.role == UserRole.PRACTITIONER)
                                    .order_by(User.id)))
    trainer = db.scalar(select(User).where(User.role == UserRole.TRAINER))
    create_demo_activity(db, practitioners, trainer)
    return logins
