"""Plain data types shared by every stage of the coding pipeline."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """Who is speaking in a practice conversation."""

    PRACTITIONER = "practitioner"
    CLIENT = "client"


class Code(StrEnum):
    """MITI 4.2.1 behaviour codes (practitioner) and client talk types."""

    # practitioner
    GI = "GI"
    PERSUADE = "PERSUADE"
    PWP = "PWP"
    Q_OPEN = "Q_OPEN"
    Q_CLOSED = "Q_CLOSED"
    SR = "SR"
    CR = "CR"
    AF = "AF"
    SEEK = "SEEK"
    EMPHASIZE = "EMPHASIZE"
    CONFRONT = "CONFRONT"
    NONE = "NONE"
    # client
    CHANGE = "CHANGE"
    SUSTAIN = "SUSTAIN"
    NEUTRAL = "NEUTRAL"


PRACTITIONER_CODES: tuple[Code, ...] = (
    Code.GI, Code.PERSUADE, Code.PWP, Code.Q_OPEN, Code.Q_CLOSED, Code.SR, Code.CR,
    Code.AF, Code.SEEK, Code.EMPHASIZE, Code.CONFRONT, Code.NONE,
)
CLIENT_CODES: tuple[Code, ...] = (Code.CHANGE, Code.SUSTAIN, Code.NEUTRAL)


def codes_for(role: Role) -> tuple[Code, ...]:
    """The codes valid for a speaker role."""
    return PRACTITIONER_CODES if role is Role.PRACTITIONER else CLIENT_CODES


@dataclass(frozen=True, slots=True)
class Turn:
    """One uninterrupted stretch of one speaker's talk (a MITI volley)."""

    role: Role
    text: str
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True)
class Utterance:
    """One MITI utterance (one complete thought) inside a turn."""

    role: Role
    text: str
    turn_index: int
    index_in_turn: int = 0
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True)
class CodedUtterance:
    """An utterance with the code the coder gave it."""

    utterance: Utterance
    code: Code
    confidence: float
    coder_version: str

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape of one coded utterance."""
        u = self.utterance
        return {
            "speaker": u.role.value,
            "start": u.start,
            "end": u.end,
            "text": u.text,
            "code": self.code.value,
            "confidence": round(float(self.confidence), 4),
        }


@dataclass(slots=True)
class MitiSummary:
    """MITI 4.2.1 summary scores for one conversation (see coding.miti)."""

    counts: dict[str, int]
    rq_ratio: float | None
    pct_complex_reflections: float | None
    pct_open_questions: float | None
    mi_adherent: int
    mi_non_adherent: int
    change_talk_pct: float | None
    talk_time_share: dict[str, float] | None
    globals_estimated: dict[str, Any]
    thresholds: dict[str, Any] = field(default_factory=dict)
    # counts under MITI's volley rules (one Question per volley, a run of
    # reflections counts once); ``counts`` stays per utterance. See coding.miti.
    counts_volley: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape of the summary."""
        return asdict(self)
