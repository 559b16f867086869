"""Course content sync (filled in by the learning feature)."""

from __future__ import annotations

from flask import Flask


def sync_course_if_available(app: Flask) -> str | None:
    """Sync the course content into the database; returns a one-line summary."""
    return None
