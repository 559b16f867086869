"""``mitrain courses``: validate and sync course content (registered by ``mitrain.cli``).

Content problems print as ``file:line: field: problem`` lines on stderr and
exit with status 2, without a traceback; nothing is written to the database.
"""

from __future__ import annotations

from pathlib import Path

import click

from .content import ContentError, CourseContent, load_course_dir

EXIT_CONTENT = 2


def _load(path: Path) -> CourseContent:
    try:
        return load_course_dir(path)
    except ContentError as exc:
        n = len(exc.problems)
        click.echo(f"{n} problem{'s' if n != 1 else ''} in the course content in {path}:",
                   err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        click.echo("Nothing was synced. Fix these and run the command again.", err=True)
        raise SystemExit(EXIT_CONTENT) from None


def _describe(content: CourseContent) -> str:
    lessons = sum(len(m.lessons) for m in content.modules)
    items = sum(len(m.quiz.items) for m in content.modules)
    return (f"'{content.title}': {len(content.modules)} modules, {lessons} lessons, "
            f"{items} quiz questions, {len(content.drills)} drills "
            f"({len(content.skills_check)} in the skills check), "
            f"{len(content.scenarios)} scenarios")


@click.group()
def courses() -> None:
    """Course content: check it and load it into the database."""


@courses.command("check")
@click.argument("directory", required=False,
                type=click.Path(file_okay=False, path_type=Path))
def check(directory: Path | None) -> None:
    """Validate course content without touching the database (default: the configured course)."""
    if directory is None:
        from . import create_app
        from .services.content_sync import course_dir
        directory = course_dir(create_app())
    content = _load(directory)
    click.echo(f"Course content in {directory} is valid: {_describe(content)}.")


@courses.command("sync")
@click.argument("directory", required=False,
                type=click.Path(file_okay=False, path_type=Path))
def sync(directory: Path | None) -> None:
    """Validate, then load course content into the database (idempotent).

    DIRECTORY defaults to MITRAIN_COURSE_DIR, else the course shipped with mitrain.
    Learners' progress is kept: items are matched by slug, and removed items are
    retired rather than deleted.
    """
    from sqlalchemy.orm import Session

    from . import create_app
    from .db import get_db
    from .migrate import current_revision, head_revision
    from .services.content_sync import course_dir, sync_course

    app = create_app()
    directory = directory or course_dir(app)
    content = _load(directory)
    engine = get_db(app).engine
    if current_revision(engine) != head_revision():
        raise click.ClickException("The database is not at the latest migration: "
                                   "run `mitrain init` first.")
    with Session(engine, expire_on_commit=False) as db:
        report = sync_course(db, content)
    click.echo(report.summary())
