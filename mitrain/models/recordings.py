"""Practice recordings, their coded utterances, and trainers' reviews."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, str_enum, utcnow
from .people import User


class RecordingStatus(StrEnum):
    UPLOADED = "uploaded"
    PROCESSING = "processing"
    CODED = "coded"
    FAILED = "failed"


# SQLite reuses the highest id after a delete unless AUTOINCREMENT is set; ids of deleted
# recordings and utterances stay named in jobs and review_events, so they must never recur.
_NO_ID_REUSE = {"sqlite_autoincrement": True}


class Recording(Base):
    __tablename__ = "recordings"
    __table_args__ = _NO_ID_REUSE

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scenario_id: Mapped[int | None] = mapped_column(
        ForeignKey("scenarios.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    # Server-generated file name inside RECORDINGS_DIR; never the uploaded name.
    audio_file: Mapped[str | None] = mapped_column(String(100))
    original_filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(100), default="")
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float | None] = mapped_column(Float)
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[RecordingStatus] = mapped_column(str_enum(RecordingStatus, "recording_status", 16),
                                                    default=RecordingStatus.UPLOADED, index=True)
    job_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    coder_version: Mapped[str | None] = mapped_column(String(64))
    transcriber: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    speakers: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    roles_swapped: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    coded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the retention policy deleted the audio (services.retention); transcript,
    # codes and reviews stay. audio_file is cleared in the same commit.
    audio_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    audio_deleted_reason: Mapped[str | None] = mapped_column(String(32))

    owner: Mapped[User] = relationship()
    utterances: Mapped[list[Utterance]] = relationship(
        back_populates="recording", order_by="Utterance.position",
        cascade="all, delete-orphan")
    reviews: Mapped[list[Review]] = relationship(back_populates="recording",
                                                 cascade="all, delete-orphan")


class Utterance(Base):
    __tablename__ = "utterances"
    __table_args__ = (UniqueConstraint("recording_id", "position"), _NO_ID_REUSE)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"),
                                              index=True)
    position: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))  # practitioner | client
    speaker_label: Mapped[str] = mapped_column(String(16), default="")  # raw diarisation label
    start: Mapped[float | None] = mapped_column(Float)
    end: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    original_text: Mapped[str | None] = mapped_column(Text)  # kept when a trainer edits
    code: Mapped[str] = mapped_column(String(16))  # the machine's code
    confidence: Mapped[float] = mapped_column(Float, default=0.0)

    recording: Mapped[Recording] = relationship(back_populates="utterances")


class ReviewStatus(StrEnum):
    DRAFT = "draft"
    SIGNED_OFF = "signed_off"


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("recording_id", "trainer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"),
                                              index=True)
    trainer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                            index=True)
    status: Mapped[ReviewStatus] = mapped_column(str_enum(ReviewStatus, "review_status", 16),
                                                 default=ReviewStatus.DRAFT)
    blind: Mapped[bool] = mapped_column(Boolean, default=False)  # second coder, blind to first
    globals_rating: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    overall_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    recording: Mapped[Recording] = relationship(back_populates="reviews")
    trainer: Mapped[User] = relationship()
    codes: Mapped[list[ReviewCode]] = relationship(back_populates="review",
                                                   cascade="all, delete-orphan")


class ReviewCode(Base):
    """A trainer's code (and comment) for one utterance in one review."""

    __tablename__ = "review_codes"
    __table_args__ = (UniqueConstraint("review_id", "utterance_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"),
                                           index=True)
    utterance_id: Mapped[int] = mapped_column(ForeignKey("utterances.id", ondelete="CASCADE"),
                                              index=True)
    code: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    review: Mapped[Review] = relationship(back_populates="codes")


class ReviewEvent(Base):
    """Audit trail: every change a trainer makes, attributed and time-stamped."""

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"),
                                              index=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    utterance_id: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class CoderTraining(Base):
    """One retraining run: candidate vs current on held-out reviewed recordings."""

    __tablename__ = "coder_trainings"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    candidate_version: Mapped[str | None] = mapped_column(String(64))
    baseline_version: Mapped[str | None] = mapped_column(String(64))
    promoted: Mapped[bool] = mapped_column(Boolean, default=False)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
