"""case read model, tasks, audit trail, documents

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('applied_step',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_role', sa.String(length=40), nullable=False),
    sa.Column('action', sa.String(length=80), nullable=False),
    sa.Column('case_reference', sa.String(length=40), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('request_id', sa.String(length=80), nullable=True),
    sa.Column('event_key', sa.String(length=200), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_key')
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_case_reference'), ['case_reference'], unique=False)

    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.bulk_insert(
        sa.table('audit_head', sa.column('id', sa.Integer), sa.column('last_id', sa.Integer),
                 sa.column('last_hash', sa.String)),
        [{'id': 1, 'last_id': 0, 'last_hash': '0' * 64}],
    )
    op.create_table('case_record',
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('pseudonym', sa.String(length=60), nullable=False),
    sa.Column('stage', sa.String(length=40), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('awareness_date', sa.Date(), nullable=False),
    sa.Column('notified_on', sa.Date(), nullable=True),
    sa.Column('rapid_review_due', sa.Date(), nullable=True),
    sa.Column('next_deadline_title', sa.String(length=200), nullable=True),
    sa.Column('next_deadline_due', sa.Date(), nullable=True),
    sa.Column('next_deadline_rule', sa.String(length=500), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('recommendation', sa.String(length=40), nullable=True),
    sa.Column('decision_sheet_version', sa.Integer(), nullable=False),
    sa.Column('submitted_on', sa.Date(), nullable=True),
    sa.Column('practice_review_stage', sa.String(length=40), nullable=True),
    sa.Column('closed_reason', sa.Text(), nullable=True),
    sa.Column('outcome', sa.String(length=500), nullable=True),
    sa.Column('referred_by', sa.Integer(), nullable=True),
    sa.Column('referring_agency', sa.String(length=80), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('reference')
    )
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_record_late'), ['late'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_record_next_deadline_due'), ['next_deadline_due'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_record_opened_on'), ['opened_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_record_stage'), ['stage'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_record_year'), ['year'], unique=False)

    op.create_table('document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('case_reference', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('html_path', sa.String(length=500), nullable=False),
    sa.Column('pdf_path', sa.String(length=500), nullable=False),
    sa.Column('html_sha256', sa.String(length=64), nullable=False),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('issued_by', sa.String(length=200), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_case_reference'), ['case_reference'], unique=False)

    op.create_table('task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('case_reference', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('assignee_role', sa.String(length=40), nullable=False),
    sa.Column('assignee_agency', sa.String(length=80), nullable=True),
    sa.Column('assignee_seat', sa.String(length=20), nullable=True),
    sa.Column('assignee_user_id', sa.Integer(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_by', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=500), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_assignee_role'), ['assignee_role'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_case_reference'), ['case_reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_due_date'), ['due_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_status'), ['status'], unique=False)

    op.create_table('case_agency',
    sa.Column('case_reference', sa.String(length=40), nullable=False),
    sa.Column('agency', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['case_reference'], ['case_record.reference'], ),
    sa.PrimaryKeyConstraint('case_reference', 'agency')
    )
    with op.batch_alter_table('case_agency', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_agency_agency'), ['agency'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('case_agency', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_agency_agency'))

    op.drop_table('case_agency')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_status'))
        batch_op.drop_index(batch_op.f('ix_task_due_date'))
        batch_op.drop_index(batch_op.f('ix_task_case_reference'))
        batch_op.drop_index(batch_op.f('ix_task_assignee_role'))

    op.drop_table('task')
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_case_reference'))

    op.drop_table('document')
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_record_year'))
        batch_op.drop_index(batch_op.f('ix_case_record_stage'))
        batch_op.drop_index(batch_op.f('ix_case_record_opened_on'))
        batch_op.drop_index(batch_op.f('ix_case_record_next_deadline_due'))
        batch_op.drop_index(batch_op.f('ix_case_record_late'))

    op.drop_table('case_record')
    op.drop_table('audit_head')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_case_reference'))

    op.drop_table('audit_event')
    op.drop_table('applied_step')
