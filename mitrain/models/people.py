"""People: users, teams, disciplines, trainer-team assignments, login attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, str_enum, utcnow


class UserRole(StrEnum):
    PRACTITIONER = "practitioner"
    TRAINER = "trainer"
    LEAD = "lead"
    ADMIN = "admin"


class Discipline(StrEnum):
    SOCIAL_WORK = "social_work"
    DOMESTIC_ABUSE = "domestic_abuse"
    SUBSTANCE_MISUSE = "substance_misuse"
    MENTAL_HEALTH = "mental_health"
    OTHER = "other"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


trainer_teams = Table(
    "trainer_teams",
    Base.metadata,
    Column("trainer_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[User]] = relationship(back_populates="team", foreign_keys="User.team_id")
    trainers: Mapped[list[User]] = relationship(secondary=trainer_teams,
                                                back_populates="trained_teams")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[UserRole] = mapped_column(str_enum(UserRole, "user_role", 32))
    discipline: Mapped[Discipline] = mapped_column(str_enum(Discipline, "discipline", 32),
                                                   default=Discipline.OTHER)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    team: Mapped[Team | None] = relationship(back_populates="members", foreign_keys=[team_id])
    trained_teams: Mapped[list[Team]] = relationship(secondary=trainer_teams,
                                                     back_populates="trainers")

    # Flask-Login protocol (kept here so no web import is needed).
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class LoginAttempt(Base):
    """A failed login, kept for throttling (by email and by address)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    remote_addr: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
