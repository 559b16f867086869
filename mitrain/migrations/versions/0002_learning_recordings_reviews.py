"""Courses and progress, drills, scenarios, recordings, utterances, reviews, coder trainings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 04:51:27.585112
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('courses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('pass_mark', sa.Float(), nullable=False),
    sa.Column('sequential', sa.Boolean(), nullable=False),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_courses')),
    sa.UniqueConstraint('slug', name=op.f('uq_courses_slug'))
    )
    op.create_table('drills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('discipline', sa.String(length=32), nullable=False),
    sa.Column('context', sa.Text(), nullable=False),
    sa.Column('client_statement', sa.Text(), nullable=False),
    sa.Column('skill', sa.String(length=40), nullable=False),
    sa.Column('example_responses', sa.JSON(), nullable=False),
    sa.Column('tip', sa.Text(), nullable=False),
    sa.Column('in_skills_check', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drills')),
    sa.UniqueConstraint('slug', name=op.f('uq_drills_slug'))
    )
    op.create_table('scenarios',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('discipline', sa.String(length=32), nullable=False),
    sa.Column('card', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scenarios')),
    sa.UniqueConstraint('slug', name=op.f('uq_scenarios_slug'))
    )
    op.create_table('course_modules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('pass_mark', sa.Float(), nullable=True),
    sa.Column('prerequisites', sa.JSON(), nullable=False),
    sa.Column('quiz', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_course_modules_course_id_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_modules')),
    sa.UniqueConstraint('course_id', 'slug', name=op.f('uq_course_modules_course_id'))
    )
    op.create_table('coder_trainings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('candidate_version', sa.String(length=64), nullable=True),
    sa.Column('baseline_version', sa.String(length=64), nullable=True),
    sa.Column('promoted', sa.Boolean(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['requested_by'], ['users.id'], name=op.f('fk_coder_trainings_requested_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coder_trainings'))
    )
    op.create_table('lessons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['module_id'], ['course_modules.id'], name=op.f('fk_lessons_module_id_course_modules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lessons')),
    sa.UniqueConstraint('module_id', 'slug', name=op.f('uq_lessons_module_id'))
    )
    op.create_table('quiz_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('module_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['module_id'], ['course_modules.id'], name=op.f('fk_quiz_attempts_module_id_course_modules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_quiz_attempts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quiz_attempts'))
    )
    with op.batch_alter_table('quiz_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quiz_attempts_module_id'), ['module_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quiz_attempts_user_id'), ['user_id'], unique=False)

    op.create_table('recordings',
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
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_recordings_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scenario_id'], ['scenarios.id'], name=op.f('fk_recordings_scenario_id_scenarios'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recordings'))
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recordings_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_recordings_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recordings_status'), ['status'], unique=False)

    op.create_table('skills_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('phase', sa.String(length=8), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_skills_checks_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_skills_checks'))
    )
    with op.batch_alter_table('skills_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_skills_checks_user_id'), ['user_id'], unique=False)

    op.create_table('drill_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('drill_id', sa.Integer(), nullable=False),
    sa.Column('skills_check_id', sa.Integer(), nullable=True),
    sa.Column('response_text', sa.Text(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('hit', sa.Boolean(), nullable=False),
    sa.Column('coder_version', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['drill_id'], ['drills.id'], name=op.f('fk_drill_attempts_drill_id_drills'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['skills_check_id'], ['skills_checks.id'], name=op.f('fk_drill_attempts_skills_check_id_skills_checks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_drill_attempts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drill_attempts'))
    )
    with op.batch_alter_table('drill_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_drill_attempts_drill_id'), ['drill_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_drill_attempts_skills_check_id'), ['skills_check_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_drill_attempts_user_id'), ['user_id'], unique=False)

    op.create_table('lesson_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_lesson_progress_lesson_id_lessons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_lesson_progress_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lesson_progress')),
    sa.UniqueConstraint('user_id', 'lesson_id', name=op.f('uq_lesson_progress_user_id'))
    )
    with op.batch_alter_table('lesson_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lesson_progress_user_id'), ['user_id'], unique=False)

    op.create_table('reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('trainer_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'signed_off', name='review_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('blind', sa.Boolean(), nullable=False),
    sa.Column('globals_rating', sa.JSON(), nullable=False),
    sa.Column('overall_note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signed_off_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], name=op.f('fk_reviews_recording_id_recordings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_reviews_trainer_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews')),
    sa.UniqueConstraint('recording_id', 'trainer_id', name=op.f('uq_reviews_recording_id'))
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reviews_recording_id'), ['recording_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reviews_trainer_id'), ['trainer_id'], unique=False)

    op.create_table('utterances',
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
    sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], name=op.f('fk_utterances_recording_id_recordings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_utterances')),
    sa.UniqueConstraint('recording_id', 'position', name=op.f('uq_utterances_recording_id'))
    )
    with op.batch_alter_table('utterances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_utterances_recording_id'), ['recording_id'], unique=False)

    op.create_table('review_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('utterance_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_review_codes_review_id_reviews'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['utterance_id'], ['utterances.id'], name=op.f('fk_review_codes_utterance_id_utterances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_codes')),
    sa.UniqueConstraint('review_id', 'utterance_id', name=op.f('uq_review_codes_review_id'))
    )
    with op.batch_alter_table('review_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_codes_review_id'), ['review_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_codes_utterance_id'), ['utterance_id'], unique=False)

    op.create_table('review_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=True),
    sa.Column('utterance_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], name=op.f('fk_review_events_recording_id_recordings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_review_events_review_id_reviews'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_review_events_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_events'))
    )
    with op.batch_alter_table('review_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_events_recording_id'), ['recording_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('review_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_events_recording_id'))
        batch_op.drop_index(batch_op.f('ix_review_events_at'))

    op.drop_table('review_events')
    with op.batch_alter_table('review_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_codes_utterance_id'))
        batch_op.drop_index(batch_op.f('ix_review_codes_review_id'))

    op.drop_table('review_codes')
    with op.batch_alter_table('utterances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_utterances_recording_id'))

    op.drop_table('utterances')
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reviews_trainer_id'))
        batch_op.drop_index(batch_op.f('ix_reviews_recording_id'))

    op.drop_table('reviews')
    with op.batch_alter_table('lesson_progress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lesson_progress_user_id'))

    op.drop_table('lesson_progress')
    with op.batch_alter_table('drill_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_drill_attempts_user_id'))
        batch_op.drop_index(batch_op.f('ix_drill_attempts_skills_check_id'))
        batch_op.drop_index(batch_op.f('ix_drill_attempts_drill_id'))

    op.drop_table('drill_attempts')
    with op.batch_alter_table('skills_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_skills_checks_user_id'))

    op.drop_table('skills_checks')
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recordings_status'))
        batch_op.drop_index(batch_op.f('ix_recordings_owner_id'))
        batch_op.drop_index(batch_op.f('ix_recordings_created_at'))

    op.drop_table('recordings')
    with op.batch_alter_table('quiz_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quiz_attempts_user_id'))
        batch_op.drop_index(batch_op.f('ix_quiz_attempts_module_id'))

    op.drop_table('quiz_attempts')
    op.drop_table('lessons')
    op.drop_table('coder_trainings')
    op.drop_table('course_modules')
    op.drop_table('scenarios')
    op.drop_table('drills')
    op.drop_table('courses')

