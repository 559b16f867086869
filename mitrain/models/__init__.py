"""ORM classes (typed SQLAlchemy 2.0). Import from here."""

from .base import Base, utcnow
from .jobs import Job, JobStatus
from .people import Discipline, LoginAttempt, Team, User, UserRole, trainer_teams

__all__ = ["Base", "utcnow", "Job", "JobStatus", "Discipline", "LoginAttempt", "Team", "User",
           "UserRole", "trainer_teams"]
