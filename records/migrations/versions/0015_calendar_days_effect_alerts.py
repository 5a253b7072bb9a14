"""one-off bank holidays and closure days; a case's failing effect

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'calendar_day',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('added_by', sa.Integer(), sa.ForeignKey('user.id'), nullable=True),
        sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_calendar_day_day', 'calendar_day', ['day'])
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('effect_failing', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('effect_failing_since', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case_record', schema=None) as batch_op:
        batch_op.drop_column('effect_failing_since')
        batch_op.drop_column('effect_failing')
    op.drop_index('ix_calendar_day_day', table_name='calendar_day')
    op.drop_table('calendar_day')
