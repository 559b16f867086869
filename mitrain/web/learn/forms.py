"""Forms of the learning pages (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SubmitField, TextAreaField


class ActionForm(FlaskForm):
    """A button-only form (CSRF token only)."""


class DrillAnswerForm(FlaskForm):
    # Length and emptiness are checked by services.drills.answer_problem, which
    # words the message for people (and is the one rule for every caller).
    response = TextAreaField("What would you say to the parent?")
    submit = SubmitField("Check my response")


class SpokenAnswerForm(FlaskForm):
    # The recorder (static/drill_voice.js) puts the clip into this field; with no
    # microphone a short audio file can be chosen instead. Checks: services.speech.
    audio = FileField("…or choose a short audio file (up to 30 seconds)")
    submit = SubmitField("Check my spoken answer")


class CheckAnswerForm(FlaskForm):
    drill = HiddenField()
    response = TextAreaField("What would you say to the parent?")
    submit = SubmitField("Save and continue")
