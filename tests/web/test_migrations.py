from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from mitrain.db import make_engine
from mitrain.migrate import MigrationError, current_revision, head_revision, upgrade
from mitrain.models import Base


def test_empty_database_upgrades_to_head_and_matches_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"users", "teams", "trainer_teams", "jobs", "login_attempts"} <= tables
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    upgrade(engine)  # a second run is a no-op
    assert current_revision(engine) == head_revision()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


T = "2026-11-01 09:00:00"
# A 0002 database as a live site holds it: raw SQL, because the ORM follows head, not 0002.
SEED_0002 = [
    "INSERT INTO teams (id, name, created_at) VALUES (1, 'North', :t)",
    "INSERT INTO users (id, name, email, role, discipline, active, created_at, team_id) VALUES "
    "(1, 'Pat', 'pat@example.org', 'practitioner', 'social_work', 1, :t, 1), "
    "(2, 'Tess', 'tess@example.org', 'trainer', 'social_work', 1, :t, 1)",
    "INSERT INTO recordings (id, owner_id, title, original_filename, content_type, size_bytes, "
    "consent_at, status, roles_swapped, created_at) VALUES "
    "(1, 1, 'A', '', '', 0, :t, 'coded', 0, :t), (2, 1, 'B', '', '', 0, :t, 'coded', 0, :t)",
    "INSERT INTO utterances (id, recording_id, position, speaker, speaker_label, text, code, "
    "confidence) VALUES (1, 1, 0, 'practitioner', '', 'Hi.', 'NONE', 0.9), "
    "(2, 1, 1, 'client', '', 'Hello.', 'NEUTRAL', 0.8), "
    "(3, 2, 0, 'practitioner', '', 'How are you?', 'Q_OPEN', 0.7)",
    "INSERT INTO reviews (id, recording_id, trainer_id, status, blind, globals_rating, "
    "overall_note, created_at, updated_at) VALUES (1, 1, 2, 'draft', 0, '{}', 'Good', :t, :t)",
    "INSERT INTO review_codes (id, review_id, utterance_id, code, comment, updated_at) VALUES "
    "(1, 1, 1, 'GI', 'why?', :t), (2, 1, 2, NULL, 'ok', :t)",
    "INSERT INTO review_events (id, recording_id, review_id, utterance_id, user_id, action, at) "
    "VALUES (1, 1, 1, 1, 2, 'code', :t)",
]
COUNTED = ("teams", "users", "recordings", "utterances", "reviews", "review_codes",
           "review_events")


def _counts(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return {t: conn.exec_driver_sql(f"SELECT COUNT(*) FROM {t}").scalar() for t in COUNTED}


def _seeded_0002(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0002")
    with engine.begin() as conn:
        for sql in SEED_0002:
            conn.execute(text(sql), {"t": T})
    return engine


def test_upgrading_a_0002_database_keeps_every_row_and_cascade(tmp_path: Path) -> None:
    engine = _seeded_0002(tmp_path)
    before = _counts(engine)
    assert before["review_codes"] == 2
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert _counts(engine) == before
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        assert conn.exec_driver_sql(
            "SELECT code, comment FROM review_codes ORDER BY id").fetchall() == [
                ("GI", "why?"), (None, "ok")]
        # The recreated tables still carry their constraints and indexes.
        with pytest.raises(IntegrityError):
            conn.exec_driver_sql("UPDATE recordings SET status = 'bogus' WHERE id = 1")
        conn.rollback()
    assert {"ix_utterances_recording_id"} <= {
        i["name"] for i in inspect(engine).get_indexes("utterances")}
    assert {"ix_recordings_status", "ix_recordings_owner_id"} <= {
        i["name"] for i in inspect(engine).get_indexes("recordings")}
    with engine.begin() as conn:  # ON DELETE CASCADE still works after the recreate
        conn.exec_driver_sql("DELETE FROM recordings WHERE id = 1")
    after = _counts(engine)
    assert (after["utterances"], after["review_codes"], after["reviews"]) == (1, 0, 0)


def test_ids_of_deleted_utterances_and_recordings_are_never_reused(tmp_path: Path) -> None:
    engine = _seeded_0002(tmp_path)
    with engine.begin() as conn:  # before the upgrade: utterance 4 existed, then was merged away
        conn.exec_driver_sql("INSERT INTO review_events (recording_id, review_id, utterance_id, "
                             f"user_id, action, at) VALUES (1, 1, 4, 2, 'merge', '{T}')")
    upgrade(engine)
    insert_utt = ("INSERT INTO utterances (recording_id, position, speaker, speaker_label, "
                  "text, code, confidence) VALUES (2, :p, 'client', '', 'x', 'NEUTRAL', 0.5)")
    with engine.begin() as conn:
        first = conn.execute(text(insert_utt), {"p": 1}).lastrowid
        assert first == 5  # above the id the audit trail already names
        conn.execute(text("DELETE FROM utterances WHERE id = :i"), {"i": first})
        again = conn.execute(text(insert_utt), {"p": 1}).lastrowid
        assert again == first + 1
        conn.exec_driver_sql("DELETE FROM recordings WHERE id = 2")
        rec = conn.exec_driver_sql(
            "INSERT INTO recordings (owner_id, title, original_filename, content_type, "
            "size_bytes, consent_at, status, roles_swapped, created_at) VALUES "
            f"(1, 'C', '', '', 0, '{T}', 'coded', 0, '{T}')").lastrowid
        assert rec == 3


def test_a_migration_that_leaves_dangling_rows_is_rolled_back(tmp_path: Path) -> None:
    engine = _seeded_0002(tmp_path)
    with engine.connect() as conn:  # a row that already dangles (written with foreign keys off)
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.exec_driver_sql("INSERT INTO review_codes (review_id, utterance_id, comment, "
                             f"updated_at) VALUES (1, 99, '', '{T}')")
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
    with pytest.raises(MigrationError, match="review_codes"):
        upgrade(engine)
    assert current_revision(engine) == "0002"
    with engine.connect() as conn:
        assert "AUTOINCREMENT" not in conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE name = 'utterances'").scalar()
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
