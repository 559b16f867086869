"""ORM classes (typed SQLAlchemy 2.0). Import from here."""

from .base import Base, utcnow
from .jobs import Job, JobStatus
from .learning import (
    Course,
    Drill,
    DrillAttempt,
    Lesson,
    LessonProgress,
    Module,
    QuizAttempt,
    Scenario,
    SkillsCheck,
)
from .people import Discipline, LoginAttempt, Team, User, UserRole, trainer_teams
from .recordings import (
    CoderTraining,
    Recording,
    RecordingStatus,
    Review,
    ReviewCode,
    ReviewEvent,
    ReviewStatus,
    Utterance,
)

__all__ = [
    "Base",
    "CoderTraining",
    "Course",
    "Discipline",
    "Drill",
    "DrillAttempt",
    "Job",
    "JobStatus",
    "Lesson",
    "LessonProgress",
    "LoginAttempt",
    "Module",
    "QuizAttempt",
    "Recording",
    "RecordingStatus",
    "Review",
    "ReviewCode",
    "ReviewEvent",
    "ReviewStatus",
    "Scenario",
    "SkillsCheck",
    "Team",
    "User",
    "UserRole",
    "Utterance",
    "trainer_teams",
    "utcnow",
]
