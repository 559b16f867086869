"""Transcript readers: plain text, CSV, JSON, WebVTT and SRT -> ``list[Turn]``.

Every error is an :class:`InputError` naming the file and, where there is one,
the line, e.g. ``transcript.txt line 7: unknown speaker 'X' — use P:/C: ...``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from coding.errors import InputError
from coding.types import Role, Turn

MAX_FILE_BYTES = 20 * 1024 * 1024  # a transcript of a long session is well under 1 MB
MAX_LINE_CHARS = 20_000  # about 40 minutes of speech on one line: more is not a transcript
MAX_TURN_CHARS = 50_000

_SPEAKERS: dict[str, Role] = {
    "p": Role.PRACTITIONER, "practitioner": Role.PRACTITIONER,
    "t": Role.PRACTITIONER, "therapist": Role.PRACTITIONER,
    "worker": Role.PRACTITIONER, "counsellor": Role.PRACTITIONER,
    "c": Role.CLIENT, "client": Role.CLIENT, "parent": Role.CLIENT,
}
_HINT = "use P:/C: (or Practitioner:/Client:, T:/Therapist:)"
_PREFIX = re.compile(r"^\s*([A-Za-z][A-Za-z ]{0,30}?)\s*:\s*(.*)$")
_TIMING = re.compile(
    r"^\s*(\d{1,2}:)?(\d{1,2}):(\d{1,2})[.,](\d{1,3})\s*-->\s*(\d{1,2}:)?(\d{1,2}):(\d{1,2})[.,](\d{1,3})"
)
_VOICE = re.compile(r"^\s*<v(?:\.[^ >]*)?\s+([^>]+)>(.*?)(?:</v>)?\s*$", re.IGNORECASE)
_TAGS = re.compile(r"</?[a-z][^>]*>", re.IGNORECASE)

AUDIO_EXTENSIONS = frozenset({".wav", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".webm", ".flac"})


def parse_speaker(label: str) -> Role | None:
    """The role a speaker label stands for, or None if unknown."""
    return _SPEAKERS.get(label.strip().lower())


def _decode(path: Path) -> str:
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(
                f"{name}: {size / 1e6:.1f} MB is too large for a transcript "
                f"(limit {MAX_FILE_BYTES // (1024 * 1024)} MB)"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{name} line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the transcript as UTF-8"
        ) from exc
    if "\x00" in text:
        raise InputError(f"{name}: contains NUL bytes — this looks like a binary file, not a transcript")
    return text


def _check_line(name: str, lineno: int, line: str) -> None:
    if len(line) > MAX_LINE_CHARS:
        raise InputError(
            f"{name} line {lineno}: line is {len(line):,} characters long "
            f"(limit {MAX_LINE_CHARS:,}); split the transcript into turns"
        )


class _TurnBuilder:
    """Collects (role, text, start, end) pieces; merges consecutive same-speaker pieces."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.turns: list[list[Any]] = []  # [role, text, start, end, first line]

    def add(self, role: Role, text: str, lineno: int, start: float | None = None,
            end: float | None = None, merge: bool = True) -> None:
        text = " ".join(text.split())
        if not text:
            return
        if merge and self.turns and self.turns[-1][0] is role:
            t = self.turns[-1]
            t[1] = f"{t[1]} {text}"
            if end is not None:
                t[3] = end
            if t[2] is None:
                t[2] = start
        else:
            self.turns.append([role, text, start, end, lineno])
        if len(self.turns[-1][1]) > MAX_TURN_CHARS:
            raise InputError(
                f"{self.name} line {lineno}: turn is longer than {MAX_TURN_CHARS:,} characters; "
                "is a speaker label missing?"
            )

    def append_continuation(self, text: str, lineno: int) -> bool:
        if not self.turns:
            return False
        self.add(self.turns[-1][0], text, lineno)
        return True

    def finish(self) -> list[Turn]:
        if not self.turns:
            raise InputError(f"{self.name}: empty transcript — no speaker turns found")
        roles = {t[0] for t in self.turns}
        if len(roles) < 2:
            only = next(iter(roles)).value
            raise InputError(
                f"{self.name}: only one speaker ({only}) — a MITI transcript needs "
                f"practitioner and client turns ({_HINT})"
            )
        return [Turn(r, text, s, e) for r, text, s, e, _ in self.turns]


def read_text(text: str, name: str = "transcript.txt") -> list[Turn]:
    """Plain text: ``P: ...`` / ``C: ...`` lines; unprefixed lines continue the previous turn."""
    b = _TurnBuilder(name)
    for lineno, line in enumerate(text.splitlines(), 1):
        _check_line(name, lineno, line)
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _PREFIX.match(line)
        if m:
            role = parse_speaker(m.group(1))
            if role is None and len(m.group(1).split()) == 1:
                raise InputError(
                    f"{name} line {lineno}: unknown speaker {m.group(1)!r} — {_HINT}"
                )
            if role is not None:
                b.add(role, m.group(2), lineno)
                continue
        if not b.append_continuation(line, lineno):
            raise InputError(
                f"{name} line {lineno}: text before any speaker label — start lines with "
                f"a speaker ({_HINT})"
            )
    return b.finish()


def _float(value: str | None, name: str, lineno: int, what: str) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise InputError(f"{name} line {lineno}: {what} {value!r} is not a number of seconds") from None


def read_csv_text(text: str, name: str = "transcript.csv") -> list[Turn]:
    """CSV ``speaker,text[,start,end]``, header optional; same-speaker rows merge."""
    for lineno, line in enumerate(text.splitlines(), 1):
        _check_line(name, lineno, line)
    b = _TurnBuilder(name)
    reader = csv.reader(io.StringIO(text))
    first = True
    try:
        for row in reader:
            lineno = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if first:
                first = False
                if row[0].strip().lower() in ("speaker", "role", "interlocutor"):
                    continue
            if len(row) < 2:
                raise InputError(f"{name} line {lineno}: expected speaker,text[,start,end]")
            role = parse_speaker(row[0])
            if role is None:
                raise InputError(f"{name} line {lineno}: unknown speaker {row[0].strip()!r} — {_HINT}")
            start = _float(row[2] if len(row) > 2 else None, name, lineno, "start")
            end = _float(row[3] if len(row) > 3 else None, name, lineno, "end")
            b.add(role, row[1], lineno, start, end)
    except csv.Error as exc:
        raise InputError(f"{name} line {reader.line_num}: malformed CSV ({exc})") from exc
    return b.finish()


def read_json_text(text: str, name: str = "transcript.json") -> list[Turn]:
    """JSON ``{"utterances": [{"speaker", "text", "start", "end", ...}]}`` (the CLI's
    output shape); consecutive same-speaker utterances merge into one turn."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name} line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    items = data.get("utterances") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InputError(f"{name}: expected {{\"utterances\": [{{\"speaker\", \"text\", ...}}]}}")
    b = _TurnBuilder(name)
    for i, u in enumerate(items):
        where = f"{name} utterance {i}"
        if not isinstance(u, dict) or "speaker" not in u or "text" not in u:
            raise InputError(f"{where}: each utterance needs \"speaker\" and \"text\"")
        role = parse_speaker(str(u["speaker"]))
        if role is None:
            raise InputError(f"{where}: unknown speaker {u['speaker']!r} — use practitioner/client")
        text_u = str(u["text"])
        if len(text_u) > MAX_LINE_CHARS:
            raise InputError(f"{where}: text is {len(text_u):,} characters (limit {MAX_LINE_CHARS:,})")
        b.add(role, text_u, i, _float(u.get("start"), name, i, "start"),
              _float(u.get("end"), name, i, "end"))
    return b.finish()


def _ts(groups: Iterable[str | None]) -> float:
    h, m, s, ms = groups
    return (int(h[:-1]) if h else 0) * 3600 + int(m or 0) * 60 + int(s or 0) + int(ms or 0) / 1000


def read_subtitles(text: str, name: str = "transcript.vtt") -> list[Turn]:
    """WebVTT or SRT cues with speakers as ``<v Practitioner>`` tags or ``Practitioner: `` prefixes."""
    b = _TurnBuilder(name)
    lines = text.splitlines()
    i = 0
    n = len(lines)
    while i < n:
        _check_line(name, i + 1, lines[i])
        m = _TIMING.match(lines[i])
        if not m:
            i += 1
            continue
        start, end = _ts(m.groups()[0:4]), _ts(m.groups()[4:8])
        i += 1
        role: Role | None = None
        while i < n and lines[i].strip():
            lineno = i + 1
            line = lines[i]
            _check_line(name, lineno, line)
            text_l = line
            vm = _VOICE.match(line)
            if vm:
                role = parse_speaker(vm.group(1))
                if role is None:
                    raise InputError(f"{name} line {lineno}: unknown speaker {vm.group(1).strip()!r} — {_HINT}")
                text_l = vm.group(2)
            else:
                pm = _PREFIX.match(_TAGS.sub("", line))
                if pm and parse_speaker(pm.group(1)) is not None:
                    role = parse_speaker(pm.group(1))
                    text_l = pm.group(2)
                elif pm and len(pm.group(1).split()) == 1 and role is None:
                    raise InputError(f"{name} line {lineno}: unknown speaker {pm.group(1)!r} — {_HINT}")
            if role is None:
                raise InputError(
                    f"{name} line {lineno}: cue has no speaker — use <v Practitioner> or 'Practitioner: '"
                )
            b.add(role, _TAGS.sub("", text_l), lineno, start, end)
            i += 1
    return b.finish()


def read_transcript(path: Path | str) -> list[Turn]:
    """Read a transcript file, choosing the format by extension, else by content."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext in AUDIO_EXTENSIONS:
        raise InputError(f"{path.name}: audio file — transcribe it first (coding.pipeline.run_audio)")
    text = _decode(path)
    name = path.name
    if not text.strip():
        raise InputError(f"{name}: empty transcript")
    head = text.lstrip()[:200]
    if ext == ".json" or (ext not in (".csv", ".vtt", ".srt") and head.startswith(("{", "["))):
        return read_json_text(text, name)
    if ext in (".vtt", ".srt") or head.upper().startswith("WEBVTT") or _TIMING.search(head):
        return read_subtitles(text, name)
    if ext == ".csv":
        return read_csv_text(text, name)
    return read_text(text, name)
