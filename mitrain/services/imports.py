"""Bulk import of people from CSV: validate the whole file, then all or nothing.

Columns: ``name,email,team,discipline,role`` (header required, any order).
Re-importing the same file changes nothing; a changed row updates that person.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from ..models import Discipline, Team, UserRole
from . import ServiceError
from .people import create_user, email_problem, list_teams, normalise_email, user_by_email

COLUMNS = ("name", "email", "team", "discipline", "role")
MAX_ROWS = 5000


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


@dataclass
class ParsedRow:
    line: int
    name: str
    email: str
    team: Team
    discipline: Discipline
    role: UserRole


@dataclass
class ImportReport:
    """What an import did, or would do (``errors`` non-empty means nothing was written)."""

    errors: list[RowError] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _choice(value: str, enum: type[Discipline | UserRole]) -> Discipline | UserRole | None:
    key = value.strip().lower().replace(" ", "_").replace("-", "_")
    for member in enum:
        if member.value == key:
            return member
    return None


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ServiceError(
            f"The file is not UTF-8 text (problem at byte {exc.start}). In Excel, use "
            f"'Save As' → 'CSV UTF-8 (comma delimited)' and upload it again.") from None


def parse_people_csv(db: Session, data: bytes) -> tuple[list[ParsedRow], list[RowError]]:
    """Check every row of the file; return the parsed rows and every problem found."""
    text = _decode(data)
    if not text.strip():
        raise ServiceError("The file is empty. It needs a header line "
                           f"'{','.join(COLUMNS)}' and one line per person.")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader)]
    if sorted(header) != sorted(COLUMNS):
        missing = [c for c in COLUMNS if c not in header]
        extra = [h for h in header if h not in COLUMNS]
        detail = "; ".join(filter(None, [
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(repr(e) for e in extra)}" if extra else ""]))
        raise ServiceError(f"Line 1: the header must be '{','.join(COLUMNS)}' ({detail}).")
    teams = {t.name.lower(): t for t in list_teams(db)}
    rows: list[ParsedRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(rows) + len(errors) >= MAX_ROWS:
            raise ServiceError(f"The file has more than {MAX_ROWS} rows; split it into parts.")
        if len(values) != len(header):
            errors.append(RowError(line, f"expected {len(header)} values, found {len(values)}"))
            continue
        rec = {k: v.strip() for k, v in zip(header, values, strict=True)}
        problems = []
        if not rec["name"]:
            problems.append("name is empty")
        email = normalise_email(rec["email"])
        if problem := email_problem(email):
            problems.append(problem)
        elif email in seen:
            problems.append(f"{email} is already on line {seen[email]}")
        else:
            seen[email] = line
        team = teams.get(rec["team"].lower())
        if team is None:
            problems.append(f"unknown team '{rec['team']}' (create it first)" if rec["team"]
                            else "team is empty")
        discipline = _choice(rec["discipline"], Discipline)
        if discipline is None:
            problems.append(f"unknown discipline '{rec['discipline']}' (use one of: "
                            f"{', '.join(d.value.replace('_', ' ') for d in Discipline)})")
        role = _choice(rec["role"], UserRole)
        if role is None:
            problems.append(f"unknown role '{rec['role']}' (use one of: "
                            f"{', '.join(r.value for r in UserRole)})")
        if problems:
            errors.append(RowError(line, "; ".join(problems)))
            continue
        assert team is not None and isinstance(discipline, Discipline)
        assert isinstance(role, UserRole)
        rows.append(ParsedRow(line, rec["name"], email, team, discipline, role))
    if not rows and not errors:
        raise ServiceError("The file has a header but no people in it.")
    return rows, errors


def import_people(db: Session, data: bytes) -> ImportReport:
    """Validate the whole file; import only when every row is valid."""
    rows, errors = parse_people_csv(db, data)
    report = ImportReport(errors=errors)
    if errors:
        return report
    try:
        for row in rows:
            user = user_by_email(db, row.email)
            if user is None:
                create_user(db, name=row.name, email=row.email, role=row.role,
                            discipline=row.discipline, team=row.team, commit=False)
                report.created.append(row.email)
                continue
            wanted = (row.name, row.team.id, row.discipline, row.role)
            if (user.name, user.team_id, user.discipline, user.role) == wanted:
                report.unchanged.append(row.email)
                continue
            user.name, user.team, user.discipline, user.role = (
                row.name, row.team, row.discipline, row.role)
            report.updated.append(row.email)
        db.commit()
    except Exception:
        db.rollback()
        raise
    return report
