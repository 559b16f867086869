"""Stored utterance rows <-> the coding package's plain types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from coding.types import Code, CodedUtterance, Role
from coding.types import Utterance as PlainUtterance

from ..models import Utterance


def plain_utterances(rows: Sequence[Utterance]) -> list[PlainUtterance]:
    """Rows as coding utterances; a volley (turn) is a run of one speaker's rows."""
    out: list[PlainUtterance] = []
    turn, index, previous = -1, 0, None
    for row in rows:
        if row.speaker != previous:
            turn, index, previous = turn + 1, 0, row.speaker
        out.append(PlainUtterance(role=Role(row.speaker), text=row.text, turn_index=turn,
                                  index_in_turn=index, start=row.start, end=row.end))
        index += 1
    return out


def coded_utterances(rows: Sequence[Utterance],
                     code_of: Callable[[Utterance], str | None] = lambda u: u.code,
                     version: str = "") -> list[CodedUtterance]:
    """Rows with a code each (``code_of`` picks machine or trainer codes; None skips a row)."""
    out = []
    for row, plain in zip(rows, plain_utterances(rows), strict=True):
        code = code_of(row)
        if code is not None:
            out.append(CodedUtterance(plain, Code(code), row.confidence, version))
    return out


def summary_of(rows: Sequence[Utterance],
               code_of: Callable[[Utterance], str | None] = lambda u: u.code) -> dict[str, Any]:
    """MITI summary scores of the rows under the chosen codes."""
    from coding.miti import summarise
    return summarise(coded_utterances(rows, code_of)).to_dict()
