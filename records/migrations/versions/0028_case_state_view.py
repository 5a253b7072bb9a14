"""a case's state stored with each step, read instead of querying the workflow

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_state_view',
    sa.Column('workflow_id', sa.String(length=60), nullable=False),
    sa.Column('case_reference', sa.String(length=40), nullable=False),
    sa.Column('stored', sa.Text(), nullable=False),
    sa.Column('step_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_reference'], ['case_record.reference'], ),
    sa.PrimaryKeyConstraint('workflow_id')
    )
    op.create_index(op.f('ix_case_state_view_case_reference'), 'case_state_view', ['case_reference'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_case_state_view_case_reference'), table_name='case_state_view')
    op.drop_table('case_state_view')
