"""partnership business

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('history_archive', schema=None) as batch_op:
        batch_op.add_column(sa.Column('complete', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table('escalation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('raised_by', sa.Integer(), nullable=False),
    sa.Column('group_name', sa.String(length=120), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('concern', sa.Text(), nullable=False),
    sa.Column('case_reference', sa.String(length=40), nullable=True),
    sa.Column('raised_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('response_action', sa.Text(), nullable=True),
    sa.Column('responded_by', sa.Integer(), nullable=True),
    sa.Column('responded_on', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalation_raised_on'), ['raised_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalation_status'), ['status'], unique=False)

    op.create_table('job_run',
    sa.Column('job', sa.String(length=60), nullable=False),
    sa.Column('period', sa.String(length=40), nullable=False),
    sa.Column('holder', sa.String(length=120), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('job', 'period')
    )
    op.create_table('plan_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_key', sa.String(length=200), nullable=True),
    sa.Column('case_reference', sa.String(length=40), nullable=True),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_agency', sa.String(length=80), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('signed_off_by', sa.Integer(), nullable=True),
    sa.Column('signed_off_on', sa.Date(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_key')
    )
    with op.batch_alter_table('plan_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_action_case_reference'), ['case_reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_action_due_date'), ['due_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_action_owner_agency'), ['owner_agency'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_action_status'), ['status'], unique=False)

    op.create_table('stage_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_reference', sa.String(length=40), nullable=False),
    sa.Column('process', sa.String(length=20), nullable=False),
    sa.Column('stage', sa.String(length=40), nullable=False),
    sa.Column('entered_on', sa.Date(), nullable=False),
    sa.Column('step_key', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('step_key')
    )
    with op.batch_alter_table('stage_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_entry_case_reference'), ['case_reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_stage_entry_entered_on'), ['entered_on'], unique=False)

    op.create_table('theme',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('added_by', sa.Integer(), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('case_review',
    sa.Column('case_reference', sa.String(length=40), nullable=False),
    sa.Column('stage', sa.String(length=40), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('due', sa.Date(), nullable=True),
    sa.Column('methods_json', sa.Text(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('recommendations_json', sa.Text(), nullable=False),
    sa.Column('published_on', sa.Date(), nullable=True),
    sa.Column('publication_link', sa.String(length=500), nullable=True),
    sa.Column('not_published_reasons', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_reference'], ['case_record.reference'], ),
    sa.PrimaryKeyConstraint('case_reference')
    )
    with op.batch_alter_table('case_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_review_decided_on'), ['decided_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_review_due'), ['due'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_review_published_on'), ['published_on'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('history_archive', schema=None) as batch_op:
        batch_op.drop_column('complete')
    with op.batch_alter_table('case_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_review_published_on'))
        batch_op.drop_index(batch_op.f('ix_case_review_due'))
        batch_op.drop_index(batch_op.f('ix_case_review_decided_on'))

    op.drop_table('case_review')
    op.drop_table('theme')
    with op.batch_alter_table('stage_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_entry_entered_on'))
        batch_op.drop_index(batch_op.f('ix_stage_entry_case_reference'))

    op.drop_table('stage_entry')
    with op.batch_alter_table('plan_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_action_status'))
        batch_op.drop_index(batch_op.f('ix_plan_action_owner_agency'))
        batch_op.drop_index(batch_op.f('ix_plan_action_due_date'))
        batch_op.drop_index(batch_op.f('ix_plan_action_case_reference'))

    op.drop_table('plan_action')
    op.drop_table('job_run')
    with op.batch_alter_table('escalation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_escalation_status'))
        batch_op.drop_index(batch_op.f('ix_escalation_raised_on'))

    op.drop_table('escalation')
