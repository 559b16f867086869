from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import EmailField, SelectField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from ...models import Discipline, UserRole


class UserForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    role = SelectField("Role", choices=[(r.value, r.value.capitalize()) for r in UserRole])
    discipline = SelectField("Discipline", choices=[(d.value, d.label) for d in Discipline])
    team = SelectField("Team", coerce=int, choices=[])
    submit = SubmitField("Create user")


class TeamForm(FlaskForm):
    name = StringField("Team name", validators=[DataRequired(), Length(max=120)])
    submit = SubmitField("Create team")


class TrainerTeamsForm(FlaskForm):
    teams = SelectMultipleField("Teams this trainer reviews", coerce=int, choices=[])
    submit = SubmitField("Save teams")


class ImportForm(FlaskForm):
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to upload.")])
    submit = SubmitField("Check and import")


class ActionForm(FlaskForm):
    """A button-only form (CSRF token only)."""
