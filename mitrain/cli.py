"""The ``mitrain`` command: init, serve, worker, users, and the coder's commands."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from flask import Flask

from . import create_app


def _app() -> Flask:
    return create_app()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """mitrain: MI practice and MITI coding for family safeguarding teams."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
@click.option("--demo", is_flag=True,
              help="On an empty database, create a demo organisation and print its logins.")
def init(demo: bool) -> None:
    """Create or upgrade the database to the latest migration and sync course content."""
    from .db import get_db
    from .migrate import current_revision, upgrade
    app = _app()
    engine = get_db(app).engine
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    click.echo(f"Database {engine.url.render_as_string(hide_password=True)}: "
               + ("up to date" if before == after else f"upgraded {before or 'empty'} -> {after}")
               + ".")
    with app.app_context():
        from .services.content_sync import sync_course_if_available
        message = sync_course_if_available(app)
        if message:
            click.echo(message)
        if demo:
            from .db import session
            from .services.demo import create_demo_organisation
            logins = create_demo_organisation(session())
            if logins:
                click.echo("\nDemo organisation created. These passwords are shown once only:")
                for login in logins:
                    click.echo(f"  {login.role:<13} {login.email:<30} {login.password}")
                click.echo("")


@main.command()
@click.option("--host", default=None, help="Address to listen on (default MITRAIN_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default MITRAIN_PORT, 5000).")
@click.option("--workers", default=None, type=int,
              help="Job consumer threads to run inside the server (0 for none).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the platform with a production WSGI server and embedded job workers."""
    from waitress import serve as waitress_serve
    app = _app()
    _require_migrated(app)
    host = host or app.config["HOST"]
    port = port or app.config["PORT"]
    workers = app.config["WORKERS"] if workers is None else workers
    from .jobs import get_queue
    queue = get_queue(app)
    if workers > 0:
        queue.start_embedded(workers)
    click.echo(f"mitrain serving on http://{host}:{port}/ with {workers} job worker(s) "
               f"({queue.backend} queue). Press Ctrl+C to stop.")
    try:
        waitress_serve(app, host=host, port=port, threads=app.config["SERVER_THREADS"],
                       ident="mitrain")
    finally:
        queue.stop_embedded()


@main.command()
@click.option("--workers", default=None, type=int, help="Consumer threads (default MITRAIN_WORKERS).")
def worker(workers: int | None) -> None:
    """Run job consumers only (scale-out: use with MITRAIN_REDIS_URL and PostgreSQL)."""
    app = _app()
    _require_migrated(app)
    from .jobs import get_queue
    get_queue(app).run_worker(workers or app.config["WORKERS"])


def _require_migrated(app: Flask) -> None:
    from .db import get_db
    from .migrate import current_revision, head_revision
    if current_revision(get_db(app).engine) != head_revision():
        raise click.ClickException("The database is not at the latest migration: "
                                   "run `mitrain init` first.")


@main.group()
def users() -> None:
    """Manage people."""


@users.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_users(csv_file: Path) -> None:
    """Import people from CSV (name,email,team,discipline,role); all rows or none."""
    from .db import session
    from .services import ServiceError
    from .services.imports import import_people
    app = _app()
    _require_migrated(app)
    with app.app_context():
        try:
            report = import_people(session(), csv_file.read_bytes())
        except ServiceError as exc:
            raise click.ClickException(str(exc)) from None
    if report.errors:
        click.echo(f"Nothing was imported: {len(report.errors)} line(s) need fixing.", err=True)
        for err in report.errors:
            click.echo(f"  line {err.line}: {err.message}", err=True)
        sys.exit(1)
    click.echo(f"Imported: {len(report.created)} created, {len(report.updated)} updated, "
               f"{len(report.unchanged)} unchanged.")


def _register_commands() -> None:
    # The coding package brings its own click commands (`code`, `coder`).
    from coding.cli import code_cmd, coder_group

    from .coder_cli import retrain
    from .courses_cli import courses
    from .retention_cli import retention
    coder_group.add_command(retrain)
    main.add_command(code_cmd, "code")
    main.add_command(coder_group, "coder")
    main.add_command(courses)
    main.add_command(retention)


_register_commands()
