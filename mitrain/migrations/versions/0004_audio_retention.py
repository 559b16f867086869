"""Audio retention: when a recording's audio was deleted, and why.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch recreate): SQLite supports it, and a recreate from
    # reflection would drop the recordings.status CHECK constraint.
    op.add_column('recordings', sa.Column('audio_deleted_at', sa.DateTime(timezone=True),
                                          nullable=True))
    op.add_column('recordings', sa.Column('audio_deleted_reason', sa.String(length=32),
                                          nullable=True))


def downgrade() -> None:
    # Native DROP COLUMN (SQLite 3.35+), again to keep the table's CHECK constraint.
    op.drop_column('recordings', 'audio_deleted_reason')
    op.drop_column('recordings', 'audio_deleted_at')
