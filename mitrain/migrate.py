"""Database migrations (Alembic), run programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class MigrationError(RuntimeError):
    """A migration left the database inconsistent (and was rolled back)."""


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision``.

    On SQLite, foreign keys are off while migrating (SQLite's documented
    procedure for changing a table): recreating a table drops the old one, and
    with foreign keys on that DROP deletes every row that cascades from it.
    The PRAGMA is a no-op inside a transaction, so it is switched outside;
    ``foreign_key_check`` then proves nothing dangles before the commit.
    """
    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        return
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        saved = raw.isolation_level  # type: ignore[union-attr]
        # pysqlite opens a transaction only before DML, so DDL ahead of the first INSERT
        # would commit at once; an explicit BEGIN makes the whole upgrade one transaction.
        raw.isolation_level = None  # type: ignore[union-attr]
        try:
            _set_foreign_keys(conn, on=False)
            conn.exec_driver_sql("BEGIN")
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                _check_foreign_keys(conn, revision)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        finally:
            _set_foreign_keys(conn, on=True)
            raw.isolation_level = saved  # type: ignore[union-attr]


def _check_foreign_keys(conn: Connection, revision: str) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise MigrationError(
            f"Migrating to {revision} would leave {len(broken)} row(s) pointing at missing "
            f"rows (tables: {', '.join(tables)}); the upgrade was rolled back.")


def _set_foreign_keys(conn: Connection, *, on: bool) -> None:
    conn.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    if conn.exec_driver_sql("PRAGMA foreign_keys").scalar() != int(on):
        raise MigrationError("Could not switch SQLite foreign keys "
                             f"{'on' if on else 'off'} around the migration.")
    conn.commit()  # ends SQLAlchemy's autobegun transaction; no SQL transaction is open


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when empty)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision in the packaged migrations."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
