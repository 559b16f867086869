"""SQLite: never reuse the ids of deleted utterances and recordings (AUTOINCREMENT).

Without AUTOINCREMENT SQLite gives a new row max(rowid)+1, so after a merge
deletes the highest utterance a later split gets the same id and the audit
events (review_events.utterance_id) naming the old one become ambiguous; the
same holds for a deleted recording and the jobs row that names it
(jobs.subject_id). The tables are recreated with AUTOINCREMENT and the
sequence starts above every id already named elsewhere. PostgreSQL sequences
never reuse ids, so this is a no-op there.

mitrain.migrate runs this with PRAGMA foreign_keys off (SQLite's 12-step
table-change procedure): DROP TABLE would otherwise cascade into review_codes,
reviews and review_events.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 01:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _recordings(meta: sa.MetaData) -> sa.Table:
    # The table as 0002 made it: copy_from keeps the CHECK constraint, which
    # reflection on SQLite would lose.
    return sa.Table('recordings', meta,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('scenario_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('audio_file', sa.String(length=100), nullable=True),
    sa.Column('original_filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('uploaded', 'processing', 'coded', 'failed', name='recording_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('coder_version', sa.String(length=64), nullable=True),
    sa.Column('transcriber', sa.JSON(), nullable=True),
    sa.Column('speakers', sa.JSON(), nullable=True),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.Column('timings', sa.JSON(), nullable=True),
    sa.Column('roles_swapped', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('coded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name='fk_recordings_owner_id_users', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scenario_id'], ['scenarios.id'], name='fk_recordings_scenario_id_scenarios', ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name='pk_recordings'),
    sa.Index('ix_recordings_created_at', 'created_at'),
    sa.Index('ix_recordings_owner_id', 'owner_id'),
    sa.Index('ix_recordings_status', 'status'),
    )


def _utterances(meta: sa.MetaData) -> sa.Table:
    return sa.Table('utterances', meta,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('speaker', sa.String(length=16), nullable=False),
    sa.Column('speaker_label', sa.String(length=16), nullable=False),
    sa.Column('start', sa.Float(), nullable=True),
    sa.Column('end', sa.Float(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('original_text', sa.Text(), nullable=True),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], name='fk_utterances_recording_id_recordings', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name='pk_utterances'),
    sa.UniqueConstraint('recording_id', 'position', name='uq_utterances_recording_id'),
    sa.Index('ix_utterances_recording_id', 'recording_id'),
    )


# table -> SQL giving the highest id of it named outside the table (so never to be reused)
_REFERENCED_MAX = {
    'recordings': "SELECT MAX(subject_id) FROM jobs WHERE kind = 'recording.code'",
    'utterances': "SELECT MAX(utterance_id) FROM review_events",
}


def _recreate(table: sa.Table, autoincrement: bool) -> None:
    with op.batch_alter_table(table.name, copy_from=table, recreate='always',
                              table_kwargs={'sqlite_autoincrement': autoincrement}):
        pass


def _seed_sequence(name: str) -> None:
    """Start the AUTOINCREMENT sequence above any id already named by events or jobs."""
    conn = op.get_bind()
    floor = max(conn.execute(sa.text(f'SELECT MAX(id) FROM {name}')).scalar() or 0,
                conn.execute(sa.text(_REFERENCED_MAX[name])).scalar() or 0)
    if not floor:
        return
    params = {'name': name, 'seq': floor}
    updated = conn.execute(sa.text('UPDATE sqlite_sequence SET seq = MAX(seq, :seq) '
                                   'WHERE name = :name'), params).rowcount
    if not updated:
        conn.execute(sa.text('INSERT INTO sqlite_sequence (name, seq) VALUES (:name, :seq)'),
                     params)


def upgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    meta = sa.MetaData()
    for table in (_recordings(meta), _utterances(meta)):
        _recreate(table, True)
        _seed_sequence(table.name)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    meta = sa.MetaData()
    for table in (_utterances(meta), _recordings(meta)):
        _recreate(table, False)
