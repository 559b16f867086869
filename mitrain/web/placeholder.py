"""Pages for features that are not built yet: they say so plainly."""

from __future__ import annotations

from flask import render_template


def not_yet(title: str, what: str) -> str:
    return render_template("placeholder.html", title=title, what=what)
