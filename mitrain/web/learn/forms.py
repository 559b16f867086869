"""Forms of the learning pages (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SubmitField, TextAreaField


class ActionForm(FlaskForm):
    """A button-only form (CSRF token only)."""


class DrillAnswerForm(FlaskForm):
    # Length and emptiness are checked by services.drills.answer_problem, which
    # words the message for people (and is the one rule for every caller).
    response = TextAreaField("What would you say to the parent?")
    submit = SubmitField("Check my response")


class CheckAnswerForm(FlaskForm):
    drill = HiddenField()
    response = TextAreaField("What would you say to the parent?")
    submit = SubmitField("Save and continue")
